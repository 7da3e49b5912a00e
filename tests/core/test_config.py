"""Settings: read from the environment; no public default secret anywhere."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sitechat.config import DEFAULT_SECRET, Environment, Settings
from sitechat.ops.config_check import ConfigInvalid, config_problems, load_settings


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


class TestValuesNothingCouldRunWith:
    """`check-config` said OK to these; each now names its variable and what it must be."""

    @pytest.mark.parametrize(
        ("variable", "value", "expected"),
        [
            ("SITECHAT_DB_POOL_SIZE", "0", "greater than or equal to 1"),
            ("SITECHAT_DB_READ_POOL_SIZE", "0", "greater than or equal to 1"),
            ("SITECHAT_WORKER_CONCURRENCY", "0", "greater than or equal to 1"),
            ("SITECHAT_AUTH_ACCESS_TOKEN_TTL_SECONDS", "-60", "greater than 0"),
            ("SITECHAT_AUTH_REFRESH_TOKEN_TTL_SECONDS", "0", "greater than 0"),
            ("SITECHAT_CRAWL_DEFAULT_MAX_PAGES", "20000", "at most SITECHAT_CRAWL_MAX_PAGES_CAP"),
        ],
    )
    def test_refused_naming_the_variable(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        variable: str,
        value: str,
        expected: str,
    ) -> None:
        monkeypatch.setenv("SITECHAT_DATA_DIR", str(tmp_path))
        monkeypatch.setenv(variable, value)
        with pytest.raises(ConfigInvalid) as refused:
            load_settings()
        [line] = refused.value.problems
        assert line.startswith(f"{variable}: ") and expected in line, line
        assert f"(got '{value}')" in line

    def test_the_default_page_count_may_equal_a_lowered_cap(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SITECHAT_CRAWL_MAX_PAGES_CAP", "200")
        monkeypatch.setenv("SITECHAT_CRAWL_DEFAULT_MAX_PAGES", "200")
        assert Settings(data_dir=tmp_path).crawl.default_max_pages == 200

    def test_a_default_over_the_default_cap(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SITECHAT_CRAWL_MAX_PAGES_CAP", "100")
        with pytest.raises(ConfigInvalid) as refused:
            load_settings()
        assert refused.value.problems == [
            "SITECHAT_CRAWL_DEFAULT_MAX_PAGES: must be at most "
            "SITECHAT_CRAWL_MAX_PAGES_CAP (100) (got 500)"
        ]


class TestPublicBaseUrlNobodyElseCanOpen:
    @pytest.mark.parametrize(
        "base_url",
        [
            "http://localhost:8000",
            "http://[::1]:8000",
            "http://127.0.0.2",
            "http://127.1",
            "http://0x7f.0.0.1",
            "http://2130706433",
            "http://[::ffff:127.0.0.1]",
            "http://0.0.0.0:8655",
            "http://0:8655",
            "http://[::]:8655",
        ],
    )
    def test_production_refuses_it(self, tmp_path: Path, base_url: str) -> None:
        settings = Settings(env=Environment.production, data_dir=tmp_path)
        settings.http.public_base_url = base_url
        [line] = [p for p in config_problems(settings) if "PUBLIC_BASE_URL" in p]
        assert "SITECHAT_HTTP_ALLOW_LOOPBACK_BASE_URL_IN_PRODUCTION=true" in line

    @pytest.mark.parametrize(
        "base_url", ["https://chat.example.com", "http://10.0.0.5:8000", "http://127.example.com"]
    )
    def test_a_reachable_host_passes(self, tmp_path: Path, base_url: str) -> None:
        settings = Settings(env=Environment.production, data_dir=tmp_path)
        settings.http.public_base_url = base_url
        assert not [p for p in config_problems(settings) if "PUBLIC_BASE_URL" in p]
