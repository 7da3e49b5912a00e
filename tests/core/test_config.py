"""Settings: read from the environment, and refusing unsafe production configurations."""

from __future__ import annotations

import pytest

from sitechat.config import Settings


def test_environment_variables_reach_their_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example/x")
    monkeypatch.setenv("SITECHAT_CRAWL_ALLOWED_HOSTS", "127.0.0.1, localhost")
    monkeypatch.setenv("SITECHAT_AUTH_JWT_PREVIOUS_KEYS", "k0:old-secret")
    settings = Settings()
    assert settings.db.url == "postgresql://u@db.example/x"
    assert settings.crawl.allowed_hosts == ["127.0.0.1", "localhost"]
    assert settings.auth.jwt_previous_keys["k0"].get_secret_value() == "old-secret"


def test_production_refuses_default_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITECHAT_ENV", "production")
    with pytest.raises(ValueError, match="SITECHAT_AUTH_JWT_SECRET"):
        Settings()


def test_production_starts_with_strong_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITECHAT_ENV", "production")
    monkeypatch.setenv("SITECHAT_AUTH_JWT_SECRET", "j" * 40)
    monkeypatch.setenv("SITECHAT_AUTH_API_KEY_PEPPER", "p" * 40)
    assert Settings().env.value == "production"


def test_stripe_gateway_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITECHAT_BILLING_GATEWAY", "stripe")
    with pytest.raises(ValueError, match="STRIPE_API_KEY"):
        Settings()
