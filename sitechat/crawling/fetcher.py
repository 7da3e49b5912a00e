"""HTTP fetching for the crawler: SSRF-guarded, polite (``politeness.py``), bounded.

The guard sits in the connection layer: httpcore asks our network backend to open a TCP
connection to ``host:port``; the backend resolves the host itself, refuses non-public addresses
and connects to the checked IP. The request keeps the real host name, so the ``Host`` header,
TLS SNI and certificate verification all use it. Redirects are followed here, one hop at a time,
so every hop goes through the same checks.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self
from urllib.parse import urljoin, urlsplit

import certifi
import httpx
import structlog

from sitechat.core.ssrf import (
    AddressLookup,
    GuardedTransport,
    UnsafeUrlError,
    check_url_syntax,
    system_lookup,
)
from sitechat.crawling.politeness import HostThrottle, HostUnavailable, ThrottleConfig
from sitechat.crawling.urls import strip_fragment

log = structlog.get_logger()

HTML_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
ANY_CONTENT_TYPE = frozenset({"*/*"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NOT_MODIFIED = 304
RETRYABLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class FetcherConfig:
    """How the crawler behaves on the wire. The lead maps ``Settings.crawl`` onto this."""

    user_agent: str = "SiteChatBot/0.1 (+https://sitechat.dev/bot)"
    per_host_concurrency: int = 4  # the cap; the adaptive window stays at or below it
    delay_seconds: float = 0.0  # minimum spacing of request starts per host
    max_bytes: int = 5_000_000
    timeout_seconds: float = 20.0
    max_redirects: int = 5
    max_retries: int = 2
    max_retry_wait_seconds: float = 30.0
    allowed_hosts: frozenset[str] = frozenset()
    content_types: frozenset[str] = HTML_CONTENT_TYPES
    max_crawl_delay_seconds: float = 5.0
    # A host that fails this many requests in a row (timeouts, 5xx, 429) is left alone.
    max_consecutive_failures: int = 8


@dataclass(frozen=True)
class FetchResult:
    """What one fetch produced. ``body`` is set only for a 2xx with an allowed content type.

    ``error`` is a short machine reason (``timeout``, ``too-large``, ``content-type-not-allowed``,
    ``http-error``, ``too-many-redirects``, ``private-address``...) or None on success.
    """

    requested_url: str
    final_url: str
    status: int | None
    content_type: str | None
    body: bytes | None
    error: str | None
    elapsed_ms: float
    charset: str | None = None
    # The response's validators, for a conditional request next time.
    etag: str | None = None
    last_modified: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.body is not None

    @property
    def not_modified(self) -> bool:
        """A 304 to a conditional request: the copy we hold is current."""
        return self.error == "not-modified"


@dataclass(frozen=True)
class Validators:
    """What we stored of a page's last response; sent as If-None-Match / If-Modified-Since."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass
class _Hop:
    """One HTTP exchange without redirects."""

    status: int
    headers: httpx.Headers
    content_type: str | None = None
    charset: str | None = None
    body: bytes | None = None
    error: str | None = None


@dataclass
class _Attempt:
    final_url: str
    hop: _Hop | None = None
    error: str | None = None
    redirects: list[str] = field(default_factory=list)


class Fetcher:
    """Fetches pages for one crawl. Use as ``async with Fetcher(config) as fetcher``."""

    def __init__(
        self,
        config: FetcherConfig,
        *,
        lookup: AddressLookup = system_lookup,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        context = ssl_context or ssl.create_default_context(cafile=certifi.where())
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(
                allowed_hosts=config.allowed_hosts,
                lookup=lookup,
                ssl_context=context,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            ),
            follow_redirects=False,
            trust_env=False,  # an environment proxy would do its own, unchecked, DNS lookups
            timeout=httpx.Timeout(config.timeout_seconds),
            headers={
                "User-Agent": config.user_agent,
                "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1",
                "Accept-Encoding": "gzip, deflate",
            },
        )
        self._hosts: dict[str, HostThrottle] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def set_crawl_delay(self, url: str, seconds: float) -> None:
        """Slow down for a host that asks for it (robots.txt ``Crawl-delay``), within a cap."""
        self.throttle_for(url).set_floor(min(seconds, self.config.max_crawl_delay_seconds))

    async def fetch(
        self,
        url: str,
        *,
        content_types: frozenset[str] | None = None,
        max_bytes: int | None = None,
        validators: Validators | None = None,
    ) -> FetchResult:
        """GET ``url``, following redirects and honouring ``Retry-After``; never raises for
        network, HTTP or safety problems (they come back as ``FetchResult.error``). With
        ``validators`` the request is conditional: a 304 comes back as ``not_modified``."""
        started = time.perf_counter()
        accepted = content_types if content_types is not None else self.config.content_types
        byte_cap = max_bytes if max_bytes is not None else self.config.max_bytes
        current = strip_fragment(url)
        attempt = _Attempt(final_url=current)
        conditional = validators.headers() if validators is not None else {}
        for retry in range(self.config.max_retries + 1):
            attempt = await self._follow_redirects(current, accepted, byte_cap, conditional)
            hop = attempt.hop
            if hop is None or hop.status not in RETRYABLE_STATUSES:
                break
            if retry == self.config.max_retries:
                break
            requested = _parse_retry_after(hop.headers.get("retry-after"))
            if requested is not None and requested > self.config.max_retry_wait_seconds:
                attempt.error = "retry-after-too-long"
                break
            # No sleep here: the host's throttle is paused, so the retry (and every other
            # request to the host) waits for it.
            log.info("crawl.retry_after", url=attempt.final_url, status=hop.status, wait=requested)
            current = attempt.final_url
        return self._result(url, attempt, started)

    def _result(self, url: str, attempt: _Attempt, started: float) -> FetchResult:
        hop = attempt.hop
        error = attempt.error or (hop.error if hop else None)
        if error is None and hop is not None and hop.status == NOT_MODIFIED:
            error = "not-modified"
        elif error is None and hop is not None and not 200 <= hop.status < 300:
            error = "http-error"
        return FetchResult(
            requested_url=url,
            final_url=attempt.final_url,
            status=hop.status if hop else None,
            content_type=hop.content_type if hop else None,
            body=hop.body if hop and error is None else None,
            error=error,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            charset=hop.charset if hop else None,
            etag=hop.headers.get("etag") if hop else None,
            last_modified=hop.headers.get("last-modified") if hop else None,
        )

    async def _follow_redirects(
        self, url: str, accepted: frozenset[str], byte_cap: int, conditional: dict[str, str]
    ) -> _Attempt:
        attempt = _Attempt(final_url=url)
        while True:
            try:
                check_url_syntax(attempt.final_url, self.config.allowed_hosts)
                hop = await self._exchange(attempt.final_url, accepted, byte_cap, conditional)
            except UnsafeUrlError as exc:
                log.warning("crawl.url_refused", url=attempt.final_url, reason=exc.reason)
                attempt.error = exc.reason
                return attempt
            attempt.hop = hop
            if hop.status not in REDIRECT_STATUSES:
                return attempt
            location = hop.headers.get("location")
            if not location:
                attempt.error = "redirect-without-location"
                return attempt
            if len(attempt.redirects) >= self.config.max_redirects:
                attempt.error = "too-many-redirects"
                return attempt
            attempt.redirects.append(attempt.final_url)
            attempt.final_url = strip_fragment(urljoin(attempt.final_url, location))

    async def _exchange(
        self, url: str, accepted: frozenset[str], byte_cap: int, conditional: dict[str, str]
    ) -> _Hop:
        try:
            async with self.throttle_for(url).slot() as slot:
                try:
                    async with asyncio.timeout(self.config.timeout_seconds):
                        hop = await self._stream(url, accepted, byte_cap, conditional)
                except TimeoutError:
                    hop = _Hop(status=0, headers=httpx.Headers(), error="timeout")
                retry_after = _parse_retry_after(hop.headers.get("retry-after"))
                slot.report(hop.status or None, hop.error, retry_after)
                return hop
        except HostUnavailable:
            return _Hop(status=0, headers=httpx.Headers(), error="host-unavailable")

    async def _stream(
        self, url: str, accepted: frozenset[str], byte_cap: int, conditional: dict[str, str]
    ) -> _Hop:
        try:
            async with self._client.stream("GET", url, headers=conditional) as response:
                hop = _Hop(status=response.status_code, headers=response.headers)
                if not 200 <= response.status_code < 300:
                    return hop
                hop.content_type, hop.charset = _parse_content_type(
                    response.headers.get("content-type")
                )
                if not _content_type_allowed(hop.content_type, accepted):
                    hop.error = "content-type-not-allowed"
                    return hop
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > byte_cap:
                    hop.error = "too-large"
                    return hop
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > byte_cap:
                        hop.error = "too-large"
                        return hop
                hop.body = bytes(body)
                return hop
        except httpx.TimeoutException:
            return _Hop(status=0, headers=httpx.Headers(), error="timeout")
        except httpx.ConnectError:
            return _Hop(status=0, headers=httpx.Headers(), error="connection-failed")
        except httpx.DecodingError:
            return _Hop(status=0, headers=httpx.Headers(), error="decoding-error")
        except httpx.InvalidURL:
            return _Hop(status=0, headers=httpx.Headers(), error="invalid-url")
        except httpx.HTTPError:
            return _Hop(status=0, headers=httpx.Headers(), error="network-error")

    def throttle_for(self, url: str) -> HostThrottle:
        """The adaptive limiter of ``url``'s host (scheme and authority)."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc.lower()}"
        throttle = self._hosts.get(key)
        if throttle is None:
            throttle = HostThrottle(
                ThrottleConfig(
                    max_connections=self.config.per_host_concurrency,
                    min_delay_seconds=self.config.delay_seconds,
                    max_backoff_seconds=self.config.max_retry_wait_seconds,
                    max_consecutive_failures=self.config.max_consecutive_failures,
                )
            )
            self._hosts[key] = throttle
        return throttle


def _parse_content_type(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    media_type, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'").lower()
    return media_type.strip().lower() or None, charset


def _content_type_allowed(content_type: str | None, accepted: frozenset[str]) -> bool:
    if "*/*" in accepted:
        return True
    return content_type is not None and content_type in accepted


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
