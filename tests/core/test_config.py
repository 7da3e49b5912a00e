"""Settings: read from the environment; no public default secret anywhere."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sitechat.config import DEFAULT_SECRET, Environment, Settings
from sitechat.ops.config_check import config_problems


def test_environment_variables_reach_their_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example/x")
    monkeypatch.setenv("SITECHAT_CRAWL_ALLOWED_HOSTS", "127.0.0.1, localhost")
    monkeypatch.setenv("SITECHAT_AUTH_JWT_PREVIOUS_KEYS", "k0:old-secret")
    settings = Settings()
    assert settings.db.url == "postgresql://u@db.example/x"
    assert settings.crawl.allowed_hosts == ["127.0.0.1", "localhost"]
    assert settings.auth.jwt_previous_keys["k0"].get_secret_value() == "old-secret"


class TestGeneratedSecrets:
    def test_unset_secrets_are_generated_once_per_data_dir(self, tmp_path: Path) -> None:
        first = Settings(data_dir=tmp_path)
        second = Settings(data_dir=tmp_path)
        for settings in (first, second):
            values = {
                settings.auth.jwt_secret.get_secret_value(),
                settings.auth.api_key_pepper.get_secret_value(),
                settings.billing.stripe_webhook_secret.get_secret_value(),
            }
            assert len(values) == 3 and DEFAULT_SECRET not in values
            assert all(len(value) >= 32 for value in values)
        assert first.auth.jwt_secret == second.auth.jwt_secret
        stored = tmp_path / "secrets.json"
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    def test_another_deployment_gets_other_secrets(self, tmp_path: Path) -> None:
        one = Settings(data_dir=tmp_path / "one")
        other = Settings(data_dir=tmp_path / "other")
        assert one.auth.jwt_secret != other.auth.jwt_secret

    def test_a_set_secret_is_used_as_is(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SITECHAT_AUTH_JWT_SECRET", "s" * 40)
        settings = Settings(data_dir=tmp_path)
        assert settings.auth.jwt_secret.get_secret_value() == "s" * 40

    def test_production_never_generates(self, tmp_path: Path) -> None:
        settings = Settings(env=Environment.production, data_dir=tmp_path)
        assert settings.auth.jwt_secret.get_secret_value() == ""
        assert not (tmp_path / "secrets.json").exists()
        problems = config_problems(settings)
        assert any(line.startswith("SITECHAT_AUTH_JWT_SECRET is not set") for line in problems)


def test_production_refuses_the_old_placeholder_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITECHAT_AUTH_JWT_SECRET", DEFAULT_SECRET)
    settings = Settings(env=Environment.production, data_dir=tmp_path)
    assert any("SITECHAT_AUTH_JWT_SECRET is too weak" in line for line in config_problems(settings))
