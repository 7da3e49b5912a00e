"""A real HTTP site on 127.0.0.1 for crawler tests: each test declares the pages it needs."""

from __future__ import annotations

import contextlib
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sitechat.crawling.fetcher import Fetcher, FetcherConfig

MAX_HANDLER_DELAY_SECONDS = 3.0


@dataclass
class Reply:
    """What the site answers for one path."""

    body: bytes | str = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    # Send the body in pieces without Content-Length, as a streaming server would.
    stream_chunk_bytes: int | None = None


Route = Reply | Callable[[BaseHTTPRequestHandler], Reply]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # Clients closing kept-alive or timed-out connections are expected here, not errors.
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LocalSite:
    """An http.server thread bound to an ephemeral port on loopback (127.0.0.1 unless told;
    any 127.x.y.z address is this machine too)."""

    def __init__(self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                site.hits[self.path] += 1
                route = site.routes.get(self.path) or site.routes.get(self.path.split("?")[0])
                reply = Reply(body="not found", status=404, content_type="text/plain")
                if route is not None:
                    reply = route(self) if callable(route) else route
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(reply)

            def do_POST(self) -> None:  # recorded, so a test can tell nothing was posted
                site.hits[f"POST {self.path}"] += 1
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(Reply(status=204, content_type=None))

            def _send(self, reply: Reply) -> None:
                if reply.delay_seconds:
                    time.sleep(min(reply.delay_seconds, MAX_HANDLER_DELAY_SECONDS))
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.stream_chunk_bytes:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for start in range(0, len(body), reply.stream_chunk_bytes):
                        self.wfile.write(body[start : start + reply.stream_chunk_bytes])
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.host = host
        self._server = _QuietServer((host, 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "http" if tls is None else "https"
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def page(self, path: str, html: str, **reply_fields: object) -> None:
        self.routes[path] = Reply(body=html, **reply_fields)  # type: ignore[arg-type]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def html_page(title: str, body: str, head: str = "") -> str:
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title>{head}</head>"
        f"<body><nav><a href='/'>Home</a></nav><main>{body}</main>"
        "<footer>Copyright footer text</footer></body></html>"
    )


# Debian's Chromium (`make browser-deps` installs it); the crawler is given its path, as an
# operator gives SITECHAT_CRAWL_BROWSER. Nothing downloads a browser.
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: install the Debian package `chromium` (make test does).")
    return CHROMIUM


@pytest.fixture
def site() -> Iterator[LocalSite]:
    local_site = LocalSite()
    local_site.start()
    try:
        yield local_site
    finally:
        local_site.stop()


def loopback_config(**overrides: object) -> FetcherConfig:
    """Fetcher settings for tests: the loopback site allow-listed, no politeness delay."""
    fields: dict[str, object] = {
        "allowed_hosts": frozenset({"127.0.0.1"}),
        "delay_seconds": 0.0,
        "timeout_seconds": 5.0,
        "max_retry_wait_seconds": 2.0,
    }
    fields.update(overrides)
    return FetcherConfig(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(loopback_config()) as client:
        yield client
