"""One POST of a delivery to its receiver, through the SSRF guard, with a short deadline.

Redirects are never followed (a receiver's URL is where the event goes), every resolved address
is checked and the connection is pinned to it (`core/ssrf.py`). The outcome is a plain value:
the delivery's bookkeeping is the caller's.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass

import certifi
import httpx

from sitechat.core.ssrf import GuardedTransport, UnsafeUrlError, check_url_syntax, system_lookup

TIMEOUT_SECONDS = 10.0
RESPONSE_KEPT_CHARS = 500
USER_AGENT = "SiteChat-Webhooks/1.0"


@dataclass(frozen=True)
class SendOutcome:
    status_code: int | None
    error: str | None  # a short machine reason when there was no 2xx
    latency_ms: int
    response_excerpt: str | None

    @property
    def succeeded(self) -> bool:
        return self.error is None


async def post_event(
    url: str, headers: dict[str, str], body: bytes, allowed_hosts: frozenset[str]
) -> SendOutcome:
    started = time.perf_counter()

    def outcome(status: int | None, error: str | None, text: str | None = None) -> SendOutcome:
        latency = int((time.perf_counter() - started) * 1000)
        return SendOutcome(status, error, latency, text[:RESPONSE_KEPT_CHARS] if text else None)

    try:
        check_url_syntax(url, allowed_hosts)
    except UnsafeUrlError as error:
        return outcome(None, f"unsafe-url:{error.reason}"[:200])
    transport = GuardedTransport(
        allowed_hosts=allowed_hosts,
        lookup=system_lookup,
        ssl_context=ssl.create_default_context(cafile=certifi.where()),
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=0),
    )
    async with httpx.AsyncClient(
        transport=transport, timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
    ) as client:
        try:
            response = await client.post(
                url, content=body, headers={**headers, "user-agent": USER_AGENT}
            )
        except UnsafeUrlError as error:
            return outcome(None, f"unsafe-url:{error.reason}"[:200])
        except httpx.TimeoutException:
            return outcome(None, "timeout")
        except httpx.HTTPError as error:
            return outcome(None, f"connection-error:{type(error).__name__}"[:200])
    if 200 <= response.status_code < 300:
        return outcome(response.status_code, None, response.text)
    return outcome(response.status_code, f"http-{response.status_code}", response.text)
