"""Pages rendered by JavaScript: a headless Chromium that never touches the network itself.

A page whose HTML has next to no text but loads scripts (`extract.needs_browser`) is loaded in
the operator's Chromium (``SITECHAT_CRAWL_BROWSER``), and the DOM its scripts built goes through
the normal extraction. Every request the page makes is intercepted and answered by the crawl's
own ``Fetcher``, so it passes the same SSRF guard as every crawl fetch (scheme, credentials, port,
each resolved address, each redirect hop) plus the same politeness and size limits. What is not
a plain GET for a script or its data is refused. The document itself is the one the crawler
already fetched (no second request for it).

Requests interception cannot see (WebSockets, WebRTC, anything a browser feature might open on
its own) have no way out either: the browser is launched with a proxy that is a bound but never
listening loopback socket (connections to it are refused), loopback included; WebSockets are
closed when opened, WebRTC is held to that proxy, service workers and downloads are off.

One browser per crawl job, launched on the first page that needs it and always closed; each page
gets a fresh context (no cookies or storage from another page), a cap on its requests and bytes,
and a hard deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import structlog
from playwright.async_api import (
    Browser,
    BrowserContext,
    Playwright,
    Request,
    Route,
    WebSocketRoute,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from sitechat.core.ssrf import UnsafeUrlError, check_url_syntax
from sitechat.crawling.fetcher import ANY_CONTENT_TYPE, Fetcher, FetchResult

log = structlog.get_logger()

# What a page needs to write its text: its scripts and the data they load. Style sheets,
# images, fonts and media change how it looks, not what it says.
RENDER_RESOURCE_TYPES = frozenset({"script", "fetch", "xhr"})
CLOSE_SECONDS = 5.0
MAX_LAUNCHES_PER_JOB = 3  # a browser that keeps crashing is not relaunched forever
# Chrome can still open UDP for WebRTC outside any proxy; this keeps it to the (dead) proxy,
# and the init script takes UDP-based APIs (WebRTC, WebTransport) away from pages altogether.
LAUNCH_ARGS = ("--disable-gpu", "--force-webrtc-ip-handling-policy=disable_non_proxied_udp")
NO_UDP_SCRIPT = """
for (const name of [
  "RTCPeerConnection", "webkitRTCPeerConnection", "RTCDataChannel", "WebTransport",
]) {
  try { delete window[name]; } catch (error) {}
}
"""

# Asked before a sub-request of the crawled site goes out (its robots.txt rules).
MayFetch = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True)
class BrowserConfig:
    executable: str
    max_pages_at_once: int = 2
    page_timeout_seconds: float = 20.0
    # After the load event, wait at most this long (within the page's deadline) for the
    # page's requests to settle; one that polls forever is read as it stands then.
    settle_seconds: float = 5.0
    max_requests_per_page: int = 150
    max_bytes_per_page: int = 20_000_000
    user_agent: str | None = None  # the crawler's, so scripts see what the server saw
    # More Chromium switches. The tests turn Chromium's own Local Network Access checks off
    # with one, so that only the guards here stand between a page and an internal address.
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderResult:
    """The DOM a page's scripts built, or why there is none.

    ``error``: ``browser-unavailable`` (the browser could not be started), ``render-timeout``,
    ``render-failed`` or ``too-large``."""

    html: str | None
    error: str | None = None
    requests: int = 0  # sub-requests fetched for the page
    refused: int = 0  # sub-requests refused: unsafe, not a GET, not needed, over a cap
    bytes_fetched: int = 0


@dataclass
class _Render:
    """One page being rendered: its document and what its requests have cost so far."""

    document: FetchResult
    may_fetch: MayFetch | None
    document_served: bool = False
    requests: int = 0
    refused: int = 0
    bytes_fetched: int = 0
    fetches: set[asyncio.Task[FetchResult]] = field(default_factory=set)

    def result(self, html: str | None, error: str | None = None) -> RenderResult:
        return RenderResult(html, error, self.requests, self.refused, self.bytes_fetched)


class PageRenderer:
    """Renders pages for one crawl job. Use as ``async with PageRenderer(config, fetcher)``."""

    def __init__(self, config: BrowserConfig, fetcher: Fetcher) -> None:
        self.config = config
        self._fetcher = fetcher
        self._pages = asyncio.Semaphore(config.max_pages_at_once)
        self._launch_lock = asyncio.Lock()
        self._launches = 0
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._dead_proxy: socket.socket | None = None

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
        async with self._launch_lock:
            await self._shut_down()

    async def render(
        self, document: FetchResult, *, may_fetch: MayFetch | None = None
    ) -> RenderResult:
        """Load ``document`` (a fetched HTML page) in the browser and return its DOM."""
        render = _Render(document=document, may_fetch=may_fetch)
        async with self._pages:
            browser = await self._running_browser()
            if browser is None:
                return render.result(None, "browser-unavailable")
            try:
                context = await browser.new_context(
                    service_workers="block",
                    accept_downloads=False,
                    user_agent=self.config.user_agent,
                )
            except PlaywrightError:
                log.exception("crawl.browser_context_failed", url=document.final_url)
                return render.result(None, "render-failed")
            try:
                async with asyncio.timeout(self.config.page_timeout_seconds):
                    html = await self._load(context, render)
                if html is None:
                    return render.result(None, "too-large")
            except (TimeoutError, PlaywrightTimeoutError):
                log.info("crawl.render_timeout", url=document.final_url)
                return render.result(None, "render-timeout")
            except PlaywrightError as exc:
                log.info("crawl.render_failed", url=document.final_url, error=str(exc)[:300])
                return render.result(None, "render-failed")
            finally:
                await self._close_context(context, render)
        log.info(
            "crawl.page_rendered",
            url=document.final_url,
            requests=render.requests,
            refused=render.refused,
        )
        return render.result(html)

    # -- one page --------------------------------------------------------------------------

    async def _load(self, context: BrowserContext, render: _Render) -> str | None:
        """The rendered DOM's HTML; None when it is larger than a page may be."""
        await context.add_init_script(NO_UDP_SCRIPT)
        await context.route_web_socket("**/*", _close_web_socket)

        async def answer(route: Route) -> None:
            # PlaywrightError: the page was closed while its request was in flight.
            with contextlib.suppress(PlaywrightError):
                await self._answer(route, render)

        await context.route("**/*", answer)
        page = await context.new_page()
        timeout_ms = self.config.page_timeout_seconds * 1000
        await page.goto(render.document.final_url, wait_until="load", timeout=timeout_ms)
        # Scripts fetch their data after the load event: give them a moment to settle.
        with contextlib.suppress(PlaywrightError):
            await page.wait_for_load_state("networkidle", timeout=self.config.settle_seconds * 1000)
        # Measured in the browser first: a page may build a DOM far larger than it downloaded.
        length = await page.evaluate("() => document.documentElement.outerHTML.length")
        if not isinstance(length, int) or length > self._fetcher.config.max_bytes:
            return None
        return await page.content()

    async def _answer(self, route: Route, render: _Render) -> None:
        request = route.request
        if request.is_navigation_request():
            if not render.document_served:  # the page.goto above: the document we hold
                render.document_served = True
                await route.fulfill(
                    status=200, headers=_headers(render.document), body=render.document.body
                )
            else:  # a script moving the page elsewhere, a frame, a pop-up
                await self._refuse(route, render, "navigation")
            return
        reason = await self._refusal(request, render)
        if reason is not None:
            await self._refuse(route, render, reason)
            return
        render.requests += 1
        fetched = await self._fetch(request.url, render)
        if fetched is None:  # the page is being closed
            return
        if fetched.status is None or fetched.error not in (None, "http-error"):
            await self._refuse(route, render, fetched.error or "failed")
            return
        body = fetched.body or b""
        render.bytes_fetched += len(body)
        await route.fulfill(status=fetched.status, headers=_headers(fetched), body=body)

    async def _refusal(self, request: Request, render: _Render) -> str | None:
        """Why the page may not have this request, or None."""
        if request.method != "GET":
            return "method-not-allowed"  # a crawler reads; it never posts on a page's behalf
        if request.resource_type not in RENDER_RESOURCE_TYPES:
            return "not-needed"
        if render.requests >= self.config.max_requests_per_page:
            return "too-many-requests"
        if render.bytes_fetched >= self.config.max_bytes_per_page:
            return "too-many-bytes"
        try:
            check_url_syntax(request.url, self._fetcher.config.allowed_hosts)
        except UnsafeUrlError as exc:
            return exc.reason
        if render.may_fetch is not None and not await render.may_fetch(request.url):
            return "robots-disallowed"
        return None

    async def _fetch(self, url: str, render: _Render) -> FetchResult | None:
        remaining = self.config.max_bytes_per_page - render.bytes_fetched
        task = asyncio.ensure_future(
            self._fetcher.fetch(
                url,
                content_types=ANY_CONTENT_TYPE,
                max_bytes=min(self._fetcher.config.max_bytes, remaining),
            )
        )
        render.fetches.add(task)
        try:
            await asyncio.wait({task})
        finally:
            render.fetches.discard(task)
        return None if task.cancelled() else task.result()

    @staticmethod
    async def _refuse(route: Route, render: _Render, reason: str) -> None:
        render.refused += 1
        if reason != "not-needed":
            log.info("crawl.browser_request_refused", url=route.request.url[:500], reason=reason)
        await route.abort("blockedbyclient")

    async def _close_context(self, context: BrowserContext, render: _Render) -> None:
        # Closed with its routes in place: unrouting first would let a request made meanwhile
        # (a pop-up still loading) go to the network unanswered by the guard.
        for task in render.fetches:
            task.cancel()
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                await context.close()
        except (TimeoutError, PlaywrightError):
            log.warning("crawl.browser_context_close_failed", url=render.document.final_url)

    # -- the browser -----------------------------------------------------------------------

    async def _running_browser(self) -> Browser | None:
        async with self._launch_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            await self._shut_down()  # a browser that crashed: its driver too
            if self._launches >= MAX_LAUNCHES_PER_JOB:
                return None
            self._launches += 1
            try:
                self._browser = await self._launch()
            except (PlaywrightError, OSError) as exc:
                log.error(
                    "crawl.browser_launch_failed",
                    executable=self.config.executable,
                    error=str(exc)[:300],
                )
                self._launches = MAX_LAUNCHES_PER_JOB  # the next page would fail the same way
                await self._shut_down()
            return self._browser

    async def _launch(self) -> Browser:
        # Bound and never listening: every connection to it is refused at once.
        self._dead_proxy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._dead_proxy.bind(("127.0.0.1", 0))
        proxy_port = self._dead_proxy.getsockname()[1]
        self._playwright = await async_playwright().start()
        # The operator's Chromium, headless, without its sandbox (containers rarely allow
        # one), with a fresh temporary profile that Playwright deletes when it closes.
        return await self._playwright.chromium.launch(
            executable_path=self.config.executable,
            headless=True,
            chromium_sandbox=False,
            args=[*LAUNCH_ARGS, *self.config.extra_args],
            proxy={"server": f"http://127.0.0.1:{proxy_port}"},
            timeout=self.config.page_timeout_seconds * 1000,
            handle_sigint=False,
            handle_sigterm=False,
            handle_sighup=False,
        )

    async def _shut_down(self) -> None:
        browser, self._browser = self._browser, None
        driver, self._playwright = self._playwright, None
        if browser is not None:
            with contextlib.suppress(PlaywrightError, TimeoutError):
                async with asyncio.timeout(CLOSE_SECONDS):
                    await browser.close()
        if driver is not None:
            with contextlib.suppress(PlaywrightError, TimeoutError):
                async with asyncio.timeout(CLOSE_SECONDS):
                    await driver.stop()
        if self._dead_proxy is not None:
            self._dead_proxy.close()
            self._dead_proxy = None


async def _close_web_socket(socket_route: WebSocketRoute) -> None:
    await socket_route.close(code=1008, reason="not available to the crawler")


def _headers(fetched: FetchResult) -> dict[str, str]:
    media_type = fetched.content_type or "application/octet-stream"
    if fetched.charset:
        media_type += f"; charset={fetched.charset}"
    return {"content-type": media_type}
