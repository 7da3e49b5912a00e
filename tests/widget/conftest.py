"""Fixtures of the widget tests: a real SiteChat server, host pages on other loopback origins,
and the machine's Chromium driven by Playwright (never a browser Playwright downloads).

The API runs as `uvicorn sitechat.app:create_app --factory` in its own process on the suite's
database, answering with the local OpenAI-compatible server of the chat tests (so a test
chooses the answer's words). Host pages are small Starlette apps on 127.0.0.1 ports of their
own: a different port is a different origin, which is what `allowed_origins` checks.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from playwright.async_api import Request as BrowserRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.chat.conftest import ChatCompletionsServer, chat_completions_server, llm_server
from tests.fixtures.servers import serve_in_thread
from tests.security.conftest import LiveServer, server_environment, uvicorn_server

__all__ = ["chat_completions_server", "llm_server"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# How long the requests a test's page left running may take to finish after the test.
SETTLE_SECONDS = 10.0
# Loose enough for the whole browser suite from one address; tests/widget/test_limits.py
# starts a server of its own with a tight limit.
SUITE_PUBLIC_WIDGET_LIMIT = "600/minute"

# Rules a careless host page might have: the widget must look the same under them.
HOSTILE_CSS = """
* { font-family: serif !important; color: #f00 !important; letter-spacing: 3px !important; }
div { display: none !important; }
button { display: none !important; }
body { font-size: 40px; }
"""


def host_page(api_base: str, chatbot_id: str, *, hostile_css: bool = True) -> str:
    style = f"<style>{HOSTILE_CSS}</style>" if hostile_css else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Example shop</title>{style}</head>
<body><h1>Example shop</h1><p>Products and prices.</p>
<script src="{api_base}/widget.js" data-chatbot-id="{chatbot_id}" async></script>
</body></html>"""


@dataclass
class HostSite:
    """A customer's site on its own loopback origin, embedding the widget."""

    origin: str
    api_base: str

    def page_url(self, chatbot_id: object) -> str:
        return f"{self.origin}/?chatbot_id={chatbot_id}"


def _host_app(api_base: str) -> Starlette:
    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(host_page(api_base, request.query_params.get("chatbot_id", "")))

    async def docs_page(request: Request) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>Venv docs</title><p>venv docs</p>")

    async def strict_page(request: Request) -> HTMLResponse:
        # A page whose CSP allows no inline style: the widget's constructed stylesheet still
        # applies, and the page allows the SiteChat origin for the script and its requests.
        csp = (
            f"default-src 'self'; script-src {api_base}; connect-src {api_base}; "
            "style-src 'self'; img-src 'self'"
        )
        chatbot_id = request.query_params.get("chatbot_id", "")
        page = host_page(api_base, chatbot_id, hostile_css=False)
        return HTMLResponse(page, headers={"Content-Security-Policy": csp})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/strict", strict_page),
            Route("/docs/{name}", docs_page),
        ]
    )


def start_api(
    database_url: str, llm: ChatCompletionsServer, log_dir: Path, **env: str
) -> Iterator[LiveServer]:
    environment = server_environment(
        database_url,
        SITECHAT_DATA_DIR=str(log_dir / "data"),
        SITECHAT_LLM_ANSWERER="openai",
        SITECHAT_LLM_BASE_URL=llm.base_url,
        SITECHAT_LLM_API_KEY="sk-test",
        SITECHAT_LLM_MODEL="gpt-test",
        SITECHAT_LLM_TIMEOUT_SECONDS="5",
        SITECHAT_EMBEDDING_PROVIDER="none",
        SITECHAT_RATELIMIT_ENABLED="true",
        **env,
    )
    with uvicorn_server(environment, log_dir / "api.log") as server:
        yield server


@pytest.fixture(scope="session")
def widget_log_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="sitechat-widget-") as folder:
        yield Path(folder)


@pytest.fixture(scope="session")
def api_server(
    database_url: str, chat_completions_server: ChatCompletionsServer, widget_log_dir: Path
) -> Iterator[LiveServer]:
    yield from start_api(
        database_url,
        chat_completions_server,
        widget_log_dir,
        SITECHAT_RATELIMIT_PUBLIC_WIDGET=SUITE_PUBLIC_WIDGET_LIMIT,
    )


def serve_host(api_base: str, name: str) -> Iterator[HostSite]:
    with serve_in_thread(_host_app(api_base), name) as port:
        yield HostSite(origin=f"http://127.0.0.1:{port}", api_base=api_base)


@pytest.fixture(scope="session")
def host_site(api_server: LiveServer) -> Iterator[HostSite]:
    """The site the chatbots allow."""
    yield from serve_host(api_server.base_url, "widget-host-site")


@pytest.fixture(scope="session")
def other_site(api_server: LiveServer) -> Iterator[HostSite]:
    """A site no chatbot lists in `allowed_origins`."""
    yield from serve_host(api_server.base_url, "widget-other-site")


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: install the Debian package `chromium` (make test does).")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # The machine's Chromium, with a fresh temporary profile that Playwright removes.
        launched = await playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
async def browser_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh context (its own localStorage) per test."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    await context.close()


async def wait_for_requests(in_flight: set[BrowserRequest]) -> None:
    """Until the page's requests have finished (or failed), for at most SETTLE_SECONDS."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while in_flight:
        if time.monotonic() > deadline:
            pytest.fail(f"requests still running after the test: {[r.url for r in in_flight]}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def page(browser_context: BrowserContext) -> AsyncIterator[Page]:
    page = await browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A request still running when a test ends keeps the API server working (storing an answer
    # after its last words) while the database is cleaned, and its transaction can deadlock
    # with the cleanup's TRUNCATE. A response read in full is one the server is done with: the
    # page is closed once its requests are.
    in_flight: set[BrowserRequest] = set()
    page.on("request", lambda request: in_flight.add(request))
    page.on("requestfinished", lambda request: in_flight.discard(request))
    page.on("requestfailed", lambda request: in_flight.discard(request))
    yield page
    await wait_for_requests(in_flight)
    assert errors == [], f"uncaught errors in the page: {errors}"
