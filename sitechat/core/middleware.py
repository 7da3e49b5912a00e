"""The one pure-ASGI middleware every HTTP request passes through.

It assigns the request id, refuses oversize or wrongly typed bodies before any handler reads
them, adds security headers, turns escaped exceptions into a generic 500 problem, and writes
the access log line and the Prometheus samples. One class instead of a stack of
`BaseHTTPMiddleware`s because each of those costs a task and a body copy on the hot path.
"""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sitechat.core.errors import problem_response
from sitechat.core.logging import access_log

log = structlog.get_logger()

REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_ACCEPTED_BODY_TYPES = (
    b"application/json",
    b"application/problem+json",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data",
)

HTTP_REQUESTS = Counter(
    "sitechat_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "sitechat_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


# A labelled child per (method, route[, status]): `labels()` rebuilds and locks its key on
# every call. Routes are templates, so these stay as small as the route table.
@functools.cache
def _request_counter(method: str, route: str, status: int) -> Any:
    return HTTP_REQUESTS.labels(method, route, str(status))


@functools.cache
def _latency_histogram(method: str, route: str) -> Any:
    return HTTP_LATENCY.labels(method, route)


API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# The docs pages load their assets from this origin only (`sitechat/ops/docs.py`); ReDoc
# runs its search in a blob: worker.
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; "
    b"style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
    b"frame-ancestors 'none'"
)
_DOCS_PATHS = ("/docs", "/redoc")
# The development page that embeds the widget (`sitechat/widget/router.py`): its own inline
# styles, the widget script and its API calls from this origin, avatars from any https host.
WIDGET_DEMO_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"connect-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'"
)
_WIDGET_DEMO_PATH = "/widget/demo"
_COMMON_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class BodyTooLarge(Exception):
    pass


class _BodyCap:
    """Counts body bytes as the app reads them and stops the read past the cap."""

    def __init__(self, receive: Receive, max_bytes: int) -> None:
        self._receive = receive
        self._remaining = max_bytes
        self.exceeded = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._remaining -= len(message.get("body", b""))
            if self._remaining < 0:
                self.exceeded = True
                raise BodyTooLarge
        return message


@dataclass(frozen=True)
class MiddlewareConfig:
    max_body_bytes: int
    # File uploads: multipart bodies to these paths (and methods) may reach
    # `max_upload_bytes`; every other body keeps `max_body_bytes`.
    upload_routes: tuple[tuple[str, re.Pattern[str]], ...] = ()
    max_upload_bytes: int = 0

    def body_cap(self, scope: Scope) -> int:
        if not self.upload_routes or scope["method"] not in _BODY_METHODS:
            return self.max_body_bytes
        content_type = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        if content_type != b"multipart/form-data":
            return self.max_body_bytes
        for method, path in self.upload_routes:
            if scope["method"] == method and path.fullmatch(scope["path"]):
                return max(self.max_body_bytes, self.max_upload_bytes)
        return self.max_body_bytes


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def _security_headers(path: str, scheme: str) -> list[tuple[bytes, bytes]]:
    if path.startswith(_DOCS_PATHS):
        csp = DOCS_CSP
    elif path == _WIDGET_DEMO_PATH:
        csp = WIDGET_DEMO_CSP
    else:
        csp = API_CSP
    headers = [*_COMMON_SECURITY_HEADERS, (b"content-security-policy", csp)]
    if scheme == "https":
        headers.append(HSTS)
    return headers


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, config: MiddlewareConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        raw_request_id = _header(scope, REQUEST_ID_HEADER)
        request_id = uuid.uuid4().hex
        if raw_request_id is not None and _VALID_REQUEST_ID.match(raw_request_id):
            request_id = raw_request_id.decode()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)

        extra_headers = [
            (b"x-request-id", request_id.encode()),
            *_security_headers(scope["path"], scope.get("scheme", "http")),
        ]
        status_holder = {"status": 500, "started": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers", []))
                headers.extend(extra_headers)
                headers.extend(state.get("extra_response_headers", ()))
                message["headers"] = headers
            await send(message)

        async def send_unless_body_too_large(message: Message) -> None:
            # Frameworks turn a failing body read into their own 400; the cap wins over it.
            if not body_cap.exceeded:
                await send_with_headers(message)
            elif message["type"] == "http.response.start":
                await self._send_too_large(scope, receive, send_with_headers, request_id, max_bytes)

        max_bytes = self.config.body_cap(scope)
        body_cap = _BodyCap(receive, max_bytes)
        try:
            refusal = self._refuse_early(scope, raw_request_id, max_bytes)
            if refusal is not None:
                status, slug, detail = refusal
                await problem_response(
                    status=status, slug=slug, detail=detail, request_id=request_id
                )(scope, receive, send_with_headers)
            else:
                await self.app(scope, body_cap.receive, send_unless_body_too_large)
        except Exception:
            log.exception("http.unhandled_exception", path=scope["path"])
            if not status_holder["started"]:
                await problem_response(
                    status=500,
                    slug="internal-error",
                    detail="An unexpected error occurred; it has been logged.",
                    request_id=request_id,
                )(scope, receive, send_with_headers)
        finally:
            self._record(scope, state, int(status_holder["status"]), started)
            structlog.contextvars.unbind_contextvars("request_id")

    def _refuse_early(
        self, scope: Scope, raw_request_id: bytes | None, max_bytes: int
    ) -> tuple[int, str, str] | None:
        if raw_request_id is not None and not _VALID_REQUEST_ID.match(raw_request_id):
            return (
                400,
                "invalid-request-id",
                "X-Request-ID must be 1-128 characters of letters, digits, '.', '_', ':' or '-'.",
            )
        if scope["method"] not in _BODY_METHODS:
            return None
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.isdigit():
                return 400, "bad-request", "Content-Length is not a number."
            if int(length) > max_bytes:
                return 413, "payload-too-large", self._too_large_detail(max_bytes)
            if int(length) == 0:
                return None
        elif _header(scope, b"transfer-encoding") is None:
            return None
        content_type = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        if content_type not in _ACCEPTED_BODY_TYPES:
            return 415, "unsupported-media-type", "Send the request body as application/json."
        return None

    @staticmethod
    def _too_large_detail(max_bytes: int) -> str:
        return f"The request body exceeds {max_bytes} bytes."

    async def _send_too_large(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, max_bytes: int
    ) -> None:
        response = problem_response(
            status=413,
            slug="payload-too-large",
            detail=self._too_large_detail(max_bytes),
            request_id=request_id,
        )
        await response(scope, receive, send)

    def _record(self, scope: Scope, state: dict[str, Any], status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route = _route_template(scope)
        # Any token is a method to the HTTP parser; labels take the standard ones only, so a
        # client cannot grow the metrics (or these caches) without bound.
        method = scope["method"] if scope["method"] in _STANDARD_METHODS else "OTHER"
        _request_counter(method, route, status).inc()
        _latency_histogram(method, route).observe(elapsed)
        access_log.write(
            state["request_id"],
            {
                "method": method,
                "route": route,
                "status": status,
                "latency_ms": round(elapsed * 1000, 2),
                "workspace_id": state.get("log_workspace_id"),
                "user_id": state.get("log_user_id"),
                "api_key_id": state.get("log_api_key_id"),
            },
        )


def add_response_headers(request: Request, headers: Iterable[tuple[str, str]]) -> None:
    """Let a dependency attach headers (rate-limit counters) to whatever response is sent."""
    extra = request.scope.setdefault("state", {}).setdefault("extra_response_headers", [])
    extra.extend((name.lower().encode(), value.encode()) for name, value in headers)
