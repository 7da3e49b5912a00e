"""Everything `serve` will need from the settings, checked before anything starts.

`sitechat check-config` prints these problems and `serve` / `worker` refuse to start on any of
them: one plain line per problem, naming the environment variable to change, never a
traceback. Production also refuses the parts meant for a laptop (the sandbox gateway, the
embedded database, a loopback public URL, no SMTP host, several API processes without Redis)
unless an explicit `..._IN_PRODUCTION` setting says the operator means it.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

from sitechat import config
from sitechat.config import Environment, Settings, is_weak_secret

OPENAI_HOST = "api.openai.com"
# How pydantic shows a `SecretStr`; a URL's password is shown the same way.
SECRET_MASK = "**********"  # noqa: S105 - the mask, not a secret
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class ConfigInvalid(Exception):
    """The settings cannot run the service; `problems` are the plain lines to show."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _env_names() -> dict[tuple[str, str], str]:
    """(settings class name, field name) -> the environment variable that sets it."""
    names: dict[tuple[str, str], str] = {}
    for value in vars(config).values():
        if isinstance(value, type) and issubclass(value, BaseSettings):
            prefix = str(value.model_config.get("env_prefix", ""))
            for field_name, field in value.model_fields.items():
                alias = field.validation_alias
                env = alias if isinstance(alias, str) else f"{prefix}{field_name}"
                names[(value.__name__, field_name)] = env.upper()
    return names


def _validation_lines(error: ValidationError) -> list[str]:
    names = _env_names()
    lines = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        field_name = location[0] if location else ""
        setting = names.get((error.title, field_name), field_name.upper() or error.title)
        message = str(item["msg"]).removeprefix("Value error, ")
        shown = item.get("input")
        if (
            isinstance(shown, str | int | float)
            and "SECRET" not in setting
            and "KEY" not in setting
        ):
            message = f"{message} (got {shown!r})"
        lines.append(f"{setting}: {message}")
    return lines


def load_settings() -> Settings:
    """The settings from the environment, or `ConfigInvalid` naming each bad variable."""
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigInvalid(_validation_lines(error)) from None


def _is_loopback_host(host: str | None) -> bool:
    """A host that only this machine can reach: a loopback name or address in any notation
    (`127.1`, `0x7f.0.0.1`, `::ffff:127.0.0.1`), or the unspecified `0.0.0.0` / `::`, which a
    browser elsewhere reads as itself."""
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    from sitechat.core.ssrf import parse_ip_literal

    address = parse_ip_literal(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address is not None and (address.is_loopback or address.is_unspecified)


def _http_url_problem(setting: str, url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{setting}: {url!r} is not an http(s) URL with a host"
    return None


def _check_urls(settings: Settings) -> Iterable[str | None]:
    if settings.db.url is not None:
        parts = urlsplit(settings.db.url)
        if not parts.scheme.startswith(("postgresql", "postgres")):
            yield "DATABASE_URL: use a postgresql://user:password@host:5432/database URL"
    if settings.redis.url is not None:
        scheme = urlsplit(settings.redis.url).scheme
        if scheme not in ("redis", "rediss", "unix"):
            yield "REDIS_URL: use a redis://host:6379/0 (or rediss://, unix://) URL"
    yield _http_url_problem("SITECHAT_HTTP_PUBLIC_BASE_URL", settings.http.public_base_url)
    for origin in settings.http.cors_origins:
        problem = _http_url_problem("SITECHAT_HTTP_CORS_ORIGINS", origin)
        if problem is None and urlsplit(origin).path not in ("", "/"):
            problem = f"SITECHAT_HTTP_CORS_ORIGINS: {origin!r} is an origin, without a path"
        yield problem
    if settings.billing.stripe_api_base is not None:
        yield _http_url_problem(
            "SITECHAT_BILLING_STRIPE_API_BASE", settings.billing.stripe_api_base
        )


def _check_rate_limits(settings: Settings) -> Iterable[str | None]:
    from limits import parse

    limits = settings.ratelimit
    for name in ("auth", "read", "write", "chat", "crawl_start", "public_widget"):
        value = getattr(limits, name)
        try:
            parse(value)
        except ValueError:
            yield (
                f"SITECHAT_RATELIMIT_{name.upper()}: {value!r} is not a rate limit; "
                "write it like 60/minute, 10/hour or 1000/day"
            )


def _endpoint_problems(
    group: str, base_url: str | None, api_key: SecretStr, what: str
) -> Iterable[str | None]:
    if base_url is None:
        yield (
            f"SITECHAT_{group}_BASE_URL: {what} needs the endpoint's URL "
            f"(for OpenAI itself: https://{OPENAI_HOST}/v1)"
        )
        return
    problem = _http_url_problem(f"SITECHAT_{group}_BASE_URL", base_url)
    yield problem
    needs_key = problem is None and urlsplit(base_url).hostname == OPENAI_HOST
    if needs_key and not api_key.get_secret_value():
        yield f"SITECHAT_{group}_API_KEY: {OPENAI_HOST} needs an API key"


def _check_answerer_and_embedder(settings: Settings) -> Iterable[str | None]:
    llm = settings.llm
    if llm.answerer == "openai":
        what = "SITECHAT_LLM_ANSWERER=openai"
        yield from _endpoint_problems("LLM", llm.base_url, llm.api_key, what)
    elif llm.answerer != "extractive":
        yield f"SITECHAT_LLM_ANSWERER: {llm.answerer!r} is not an answerer; use extractive, openai"
    embedding = settings.embedding
    if embedding.provider == "openai":
        what = "SITECHAT_EMBEDDING_PROVIDER=openai"
        yield from _endpoint_problems("EMBEDDING", embedding.base_url, embedding.api_key, what)
    elif embedding.provider == "local":
        from sitechat.knowledge.minilm import MODEL_PACKAGE

        for package in (MODEL_PACKAGE, "onnxruntime", "tokenizers"):
            if importlib.util.find_spec(package) is None:
                yield (
                    f"SITECHAT_EMBEDDING_PROVIDER: local needs the {package} package "
                    "(installed by `make` from requirements/main.txt); or set it to none or openai"
                )


def _check_billing(settings: Settings) -> Iterable[str | None]:
    billing = settings.billing
    if billing.gateway == "stripe" and not billing.stripe_api_key.get_secret_value():
        yield "SITECHAT_BILLING_STRIPE_API_KEY: SITECHAT_BILLING_GATEWAY=stripe needs the API key"
    from sitechat.billing.catalog import PlanCatalogError, load_catalog

    try:
        load_catalog(billing.plans_file)
    except PlanCatalogError as error:
        yield f"SITECHAT_BILLING_PLANS_FILE: {error}"


def _check_misc(settings: Settings) -> Iterable[str | None]:
    if not isinstance(logging.getLevelName(settings.log_level.upper()), int):
        yield f"SITECHAT_LOG_LEVEL: {settings.log_level!r} is not a level; use DEBUG, INFO, WARNING"


def _check_production(settings: Settings) -> Iterable[str | None]:
    if settings.env is not Environment.production:
        return
    secrets: dict[str, SecretStr] = {
        "SITECHAT_AUTH_JWT_SECRET": settings.auth.jwt_secret,
        "SITECHAT_AUTH_API_KEY_PEPPER": settings.auth.api_key_pepper,
    }
    if settings.billing.gateway == "stripe":
        secrets["SITECHAT_BILLING_STRIPE_WEBHOOK_SECRET"] = settings.billing.stripe_webhook_secret
    for name, value in secrets.items():
        if is_weak_secret(value):
            state = "is not set" if not value.get_secret_value() else "is too weak"
            yield f"{name} {state}: production needs a random secret of at least 32 characters"
    if settings.billing.gateway == "sandbox" and not settings.billing.allow_sandbox_in_production:
        yield (
            "SITECHAT_BILLING_GATEWAY=sandbox in production lets anyone pay with a test card: "
            "use stripe or none, or set SITECHAT_BILLING_ALLOW_SANDBOX_IN_PRODUCTION=true"
        )
    if settings.db.url is None and not settings.db.allow_embedded_in_production:
        yield (
            "DATABASE_URL is not set: production refuses the embedded database; set it, "
            "or set SITECHAT_DB_ALLOW_EMBEDDED_IN_PRODUCTION=true"
        )
    base_url = settings.http.public_base_url
    if (
        _is_loopback_host(urlsplit(base_url).hostname)
        and not settings.http.allow_loopback_base_url_in_production
    ):
        yield (
            f"SITECHAT_HTTP_PUBLIC_BASE_URL={base_url} is a loopback (or unspecified) address "
            "that mail links would point to: set the public URL, or set "
            "SITECHAT_HTTP_ALLOW_LOOPBACK_BASE_URL_IN_PRODUCTION=true"
        )
    if not settings.mail.smtp_host and not settings.mail.allow_no_smtp_in_production:
        yield (
            "SITECHAT_MAIL_SMTP_HOST is not set: production would send no password-reset or "
            "invitation mail; set it, or set SITECHAT_MAIL_ALLOW_NO_SMTP_IN_PRODUCTION=true"
        )


def _check_shared_limits(settings: Settings, api_processes: int) -> Iterable[str | None]:
    """N API processes without Redis each keep their own rate limits and login lockouts:
    N times the requests, and N times the password guesses before an account locks."""
    if (
        settings.env is not Environment.production
        or api_processes <= 1
        or settings.redis.url is not None
        or not settings.ratelimit.enabled
        or settings.redis.allow_per_process_limits_in_production
    ):
        return
    yield (
        f"REDIS_URL is not set: with --workers {api_processes} each API process would keep its "
        f"own rate limits and login lockouts ({api_processes} times the requests and failed "
        "logins); set it, or set SITECHAT_REDIS_ALLOW_PER_PROCESS_LIMITS_IN_PRODUCTION=true"
    )


_CHECKS: tuple[Callable[[Settings], Iterable[str | None]], ...] = (
    _check_production,
    _check_urls,
    _check_rate_limits,
    _check_answerer_and_embedder,
    _check_billing,
    _check_misc,
)


def config_problems(settings: Settings, *, api_processes: int = 1) -> list[str]:
    """One plain line per problem; empty when `serve --workers api_processes` can start."""
    problems = [problem for check in _CHECKS for problem in check(settings)]
    problems.extend(_check_shared_limits(settings, api_processes))
    return [problem for problem in problems if problem is not None]


def checked_settings(*, api_processes: int = 1) -> Settings:
    """The settings, or `ConfigInvalid` with every problem found (what `serve` runs first)."""
    settings = load_settings()
    problems = config_problems(settings, api_processes=api_processes)
    if problems:
        raise ConfigInvalid(problems)
    return settings


def _masked_parameter(item: str) -> str:
    name = item.partition("=")[0]
    return f"{name}={SECRET_MASK}" if name.lower() == "password" else item


def masked_url(url: str) -> str:
    """`url` with its password hidden, in the authority (`user:password@`) or a `password=`
    query parameter (libpq and redis read both); anything else is kept to check by eye."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not parseable as a URL: nothing to keep apart
        return url
    if password is not None:
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        url = url.replace(parts.netloc, f"{user}:{SECRET_MASK}@{host}", 1)
    if parts.query:
        query = "&".join(_masked_parameter(item) for item in parts.query.split("&"))
        url = url.replace(f"?{parts.query}", f"?{query}", 1)
    return url


def _masked_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _masked_urls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked_urls(item) for item in value]
    if isinstance(value, str) and "://" in value:
        return masked_url(value)
    return value


def summary(settings: Settings) -> dict[str, Any]:
    """What `check-config` prints when all is well: the effective settings, secrets hidden
    (`SecretStr` values, and the passwords inside URLs such as `DATABASE_URL`)."""
    return dict(_masked_urls(settings.model_dump(mode="json")))
