"""One Settings object, read from the environment (and an optional `.env`).

Every group is its own `BaseSettings` with its own prefix, so each variable reads the way the
README documents it (`SITECHAT_AUTH_JWT_SECRET`, `SITECHAT_CRAWL_ALLOWED_HOSTS`, ...), while the
operator-contract names from the spec (`DATABASE_URL`, `REDIS_URL`) stay unprefixed.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    DirectoryPath,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The placeholder older versions shipped as a default; refused in production like any weak value.
DEFAULT_SECRET = "change-me-in-production-0000000000000000"  # noqa: S105 - the marker we refuse
UNSET_SECRET = SecretStr("")


class Environment(StrEnum):
    development = "development"
    production = "production"
    test = "test"


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class DatabaseSettings(BaseSettings):
    model_config = _config("SITECHAT_DB_")

    url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    pool_size: int = Field(default=10, ge=1)
    # Overflow connections are opened and closed per burst; under load that churn costs more
    # than waiting for a pooled connection (bench/api).
    max_overflow: int = Field(default=0, ge=0)
    # The lean primary-key reads' own pool (`sitechat/core/db.py: create_read_pool`); a read
    # holds a connection for one round trip, so a few serve thousands of reads a second.
    read_pool_size: int = Field(default=5, ge=1)
    statement_timeout_ms: int = 30_000
    echo: bool = False
    # Production refuses the embedded database unless this says the operator means it.
    allow_embedded_in_production: bool = False

    # `DATABASE_URL=` (blank) means the embedded database, as it always did at run time.
    _blank_url = field_validator("url", mode="before")(_blank_is_none)


class RedisSettings(BaseSettings):
    model_config = _config("SITECHAT_REDIS_")

    url: str | None = Field(default=None, validation_alias="REDIS_URL")
    # Production refuses `serve --workers N` (N > 1) without Redis, where each API process
    # would keep its own rate limits and login lockouts, unless set.
    allow_per_process_limits_in_production: bool = False

    _blank_url = field_validator("url", mode="before")(_blank_is_none)


class AuthSettings(BaseSettings):
    model_config = _config("SITECHAT_AUTH_")

    # Unset: generated once outside production (`local_secrets.py`); required in production.
    jwt_secret: SecretStr = UNSET_SECRET
    jwt_key_id: str = "k1"
    # Retired keys stay valid for verification until their tokens have expired: "kid:secret,..."
    jwt_previous_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)
    jwt_issuer: str = "sitechat"
    jwt_audience: str = "sitechat-api"
    access_token_ttl_seconds: int = Field(default=900, gt=0)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, gt=0)
    api_key_pepper: SecretStr = UNSET_SECRET
    password_reset_ttl_seconds: int = Field(default=3600, gt=0)
    invitation_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)

    @field_validator("jwt_previous_keys", mode="before")
    @classmethod
    def _parse_previous_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            pairs = (item.split(":", 1) for item in _split_commas(value))
            return {kid: secret for kid, secret in pairs}
        return value


class HttpSettings(BaseSettings):
    model_config = _config("SITECHAT_HTTP_")

    cors_origins: CommaList = Field(default_factory=list)
    max_body_bytes: int = 1_048_576
    trusted_proxies: CommaList = Field(default_factory=list)
    public_base_url: str = "http://127.0.0.1:8000"
    # Production refuses a loopback `public_base_url` (mail links nobody else can open) unless set.
    allow_loopback_base_url_in_production: bool = False

    _split = field_validator("cors_origins", "trusted_proxies", mode="before")(_split_commas)


class CrawlSettings(BaseSettings):
    model_config = _config("SITECHAT_CRAWL_")

    allowed_hosts: CommaList = Field(default_factory=list)
    user_agent: str = "SiteChatBot/0.1 (+https://sitechat.invalid/bot)"
    max_pages_cap: int = Field(default=10_000, ge=1)  # the largest plan's crawl_max_pages
    default_max_pages: int = Field(default=500, ge=1)  # at most `max_pages_cap`
    # Politeness adapts to each host (crawling/politeness.py): up to this many connections
    # while it answers quickly, fewer and spaced out when it slows down or answers 429/503.
    per_host_concurrency: int = 4
    delay_seconds: float = 0.0  # a minimum spacing of request starts per host, if wanted
    max_page_bytes: int = 5_000_000
    max_job_seconds: int = 3_600
    max_job_bytes: int = 500_000_000
    request_timeout_seconds: float = 15.0
    # Pages whose HTML has next to no text but loads scripts are rendered in this headless
    # Chromium (crawling/browser.py), every request it makes fetched through the guarded
    # crawler. Unset (the default): no browser; such pages are skipped as `needs-browser`.
    browser: str | None = None
    browser_concurrency: int = Field(default=2, ge=1, le=16)  # pages rendered at once per job
    browser_timeout_seconds: float = Field(default=20.0, gt=0)  # per page, everything included

    _split = field_validator("allowed_hosts", mode="before")(_split_commas)

    _blank_browser = field_validator("browser", mode="before")(_blank_is_none)

    @field_validator("default_max_pages")
    @classmethod
    def _default_within_cap(cls, value: int, info: ValidationInfo) -> int:
        cap = info.data.get("max_pages_cap")
        if cap is not None and value > cap:
            raise ValueError(f"must be at most SITECHAT_CRAWL_MAX_PAGES_CAP ({cap})")
        return value


class SourceSettings(BaseSettings):
    """File sources (`sitechat/sources/`): uploads, parsing limits, scheduled re-sync."""

    model_config = _config("SITECHAT_SOURCES_")

    # The body cap of the upload routes (the largest plan's file plus the multipart framing);
    # each plan's own cap (`file_max_bytes` in the plan catalog) is checked after.
    max_upload_bytes: int = 52_000_000
    max_file_pages: int = 2_000
    max_unzipped_bytes: int = 100_000_000
    max_text_chars: int = 20_000_000
    # One file's parse runs in a child process with these limits.
    parse_timeout_seconds: float = 120.0
    parse_memory_bytes: int = 1_500_000_000
    # Sources whose schedule is due, taken per run of the periodic `sources.schedule_syncs`.
    syncs_per_scheduler_run: int = 200


class LLMSettings(BaseSettings):
    model_config = _config("SITECHAT_LLM_")

    answerer: str = "extractive"
    base_url: str | None = None
    api_key: SecretStr = SecretStr("")
    model: str = "gpt-4o-mini"
    timeout_seconds: float = 30.0
    max_retries: int = 2
    max_context_tokens: int = 6_000


class EmbeddingSettings(BaseSettings):
    """Dense retrieval: used only when `provider` is not `none` and the database has pgvector.

    `local` (the default) runs all-MiniLM-L6-v2 in-process from an installed wheel; `openai`
    calls any OpenAI-compatible `/embeddings` endpoint.
    """

    model_config = _config("SITECHAT_EMBEDDING_")

    provider: Literal["none", "openai", "local"] = "local"
    base_url: str | None = None
    api_key: SecretStr = SecretStr("")
    # Unset: the provider's default (`text-embedding-3-small`; `local` runs only all-MiniLM-L6-v2).
    model: str | None = None
    # `local`: CPU threads of the in-process model, which run at a lower priority than the API.
    threads: int = Field(default=2, ge=1, le=64)
    # Asked of models that can shorten their vectors (OpenAI's text-embedding-3 family).
    dimensions: int | None = Field(default=None, ge=1, le=16_000)
    batch_size: int = Field(default=64, ge=1, le=2_048)
    timeout_seconds: float = 30.0
    max_retries: int = 2
    # A question waits at most this long for its vector before retrieval goes lexical-only.
    question_timeout_seconds: float = 3.0


class BillingSettings(BaseSettings):
    model_config = _config("SITECHAT_BILLING_")

    # `none`: billing off; every workspace has the plan the operator sets (`sitechat admin`).
    gateway: Literal["sandbox", "stripe", "none"] = "sandbox"
    stripe_api_key: SecretStr = SecretStr("")
    stripe_api_base: str | None = None
    stripe_webhook_secret: SecretStr = UNSET_SECRET
    # Production refuses the sandbox gateway (anyone could "pay" with a test card) unless set.
    allow_sandbox_in_production: bool = False
    # The plan catalog (TOML); unset: the plans shipped in `sitechat/billing/plans.toml`.
    plans_file: Path | None = None


class RateLimitSettings(BaseSettings):
    model_config = _config("SITECHAT_RATELIMIT_")

    enabled: bool = True
    auth: str = "10/minute"
    read: str = "600/minute"
    write: str = "120/minute"
    chat: str = "60/minute"
    crawl_start: str = "10/hour"
    public_widget: str = "30/minute"
    storage_timeout_seconds: float = 0.5
    key_prefix: str = "sitechat"


HEARTBEAT_MISSES = 3
"""Heartbeats a worker may miss before it counts as gone."""


class WorkerSettings(BaseSettings):
    model_config = _config("SITECHAT_WORKER_")

    in_process: bool = True
    concurrency: int = Field(default=4, ge=1)
    # On shutdown, running jobs get this long to finish; the rest go back to the queue.
    shutdown_grace_seconds: float = 10.0
    # Every worker records in PostgreSQL that it is alive this often; /readyz and /metrics
    # count the workers heard from within HEARTBEAT_MISSES beats (ADR 0030). At most 20 s, so
    # a live worker beats several times before `ops.retry_stalled_jobs` (60 s) thinks it dead.
    heartbeat_seconds: float = Field(default=10.0, gt=0, le=20)

    @property
    def heartbeat_stale_after_seconds(self) -> float:
        """A worker not heard from for this long is gone (killed, frozen, cut off)."""
        return HEARTBEAT_MISSES * self.heartbeat_seconds


class MailSettings(BaseSettings):
    model_config = _config("SITECHAT_MAIL_")

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr = SecretStr("")
    sender: str = "SiteChat <no-reply@sitechat.invalid>"
    # Production refuses to start without an SMTP host (no reset or invitation mail would
    # leave) unless set; its mails are then dropped, logged without their body.
    allow_no_smtp_in_production: bool = False


class Settings(BaseSettings):
    model_config = _config("SITECHAT_")

    env: Environment = Environment.development
    data_dir: Path = Path(".sitechat")
    log_level: str = "INFO"
    # prometheus_client's multiprocess mode: every API process writes its samples to files in
    # this folder and /metrics adds them all up. `serve --workers N` (N > 1) sets it to a
    # folder of its own for the run; an operator may name one (emptied before each start).
    metrics_multiproc_dir: DirectoryPath | None = Field(
        default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR"
    )
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    sources: SourceSettings = Field(default_factory=SourceSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    ratelimit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    mail: MailSettings = Field(default_factory=MailSettings)

    @model_validator(mode="after")
    def _generate_unset_secrets(self) -> Settings:
        """Outside production, an unset secret is generated once and kept in `data_dir`;
        production reports it instead (`sitechat/ops/config_check.py`)."""
        if self.env is Environment.production:
            return self
        from sitechat.local_secrets import local_secret

        groups: dict[str, BaseSettings] = {
            "jwt_secret": self.auth,
            "api_key_pepper": self.auth,
            "stripe_webhook_secret": self.billing,
        }
        for name, group in groups.items():
            if not getattr(group, name).get_secret_value():
                setattr(group, name, SecretStr(local_secret(self.data_dir, name)))
        return self


def is_weak_secret(secret: SecretStr) -> bool:
    value = secret.get_secret_value()
    return value == DEFAULT_SECRET or len(value) < 32
