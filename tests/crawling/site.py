"""Fixtures for the crawl API and job tests: an app whose crawler may reach the loopback site.

Import the fixtures into a test module (`from tests.crawling.site import ...`). The site itself
is `LocalSite` from this folder's conftest.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from sitechat.app import create_app
from sitechat.config import Settings
from sitechat.core.state import app_state
from sitechat.crawling.events import StreamTiming
from tests.crawling.conftest import LocalSite, Reply, html_page
from tests.fixtures.accounts import Account, register

WAIT_SECONDS = 10.0


@pytest.fixture(scope="module", name="crawl_app")
async def crawl_app_fixture(settings: Settings) -> AsyncIterator[Any]:
    """The app with 127.0.0.1 allow-listed and no politeness delay; its jobs (run with
    `run_queued_jobs(crawl_app)`) get its task context, with these settings."""
    crawl = settings.crawl.model_copy(
        update={"allowed_hosts": ["127.0.0.1"], "delay_seconds": 0, "request_timeout_seconds": 5}
    )
    application = create_app(settings.model_copy(update={"crawl": crawl}))
    app_state(application).provide(
        StreamTiming(poll_seconds=0.05, ping_seconds=0.2, max_seconds=10)
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(name="target_app")
def target_app_fixture(crawl_app: Any) -> Any:
    """A test's component swaps (the plan catalog, dense retrieval) apply to the crawl app."""
    return crawl_app


@pytest.fixture(name="crawl_client")
async def crawl_client_fixture(crawl_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=crawl_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(name="account")
async def account_fixture(crawl_client: httpx.AsyncClient) -> Account:
    return await register(crawl_client)


@pytest.fixture(name="chatbot_id")
async def chatbot_id_fixture(crawl_client: httpx.AsyncClient, account: Account) -> str:
    response = await crawl_client.post(
        "/v1/chatbots", json={"name": "Docs bot"}, headers=account.headers
    )
    assert response.status_code == 201
    return str(response.json()["id"])


def docs_site(site: LocalSite, pages: dict[str, str]) -> None:
    """`pages` maps paths to a sentence; `/` links to every page (with a paragraph of its own,
    so it is content rather than a bare list of links)."""
    links = "".join(f"<li><a href='{path}'>{path}</a></li>" for path in pages)
    intro = (
        "<p>Start here. These pages explain how the product is installed, how it is configured "
        "for a team, and where to ask when something does not work the way it should.</p>"
    )
    site.page("/", html_page("Home", f"<h1>Welcome</h1>{intro}<ul>{links}</ul>"))
    for path, sentence in pages.items():
        title = path.strip("/").title()
        site.page(path, html_page(title, f"<h1>{title}</h1><h2>Details</h2><p>{sentence}</p>"))


def sitemap_site(site: LocalSite, pages: dict[str, str]) -> None:
    """Pages found through /sitemap.xml only, so editing one page changes no other."""
    site.page("/", html_page("Home", "<h1>Welcome</h1><p>Start here, nothing else.</p>"))
    for path, sentence in pages.items():
        title = path.strip("/").title()
        site.page(path, html_page(title, f"<h1>{title}</h1><p>{sentence}</p>"))
    locs = "".join(f"<url><loc>{site.url(path)}</loc></url>" for path in pages)
    site.routes["/sitemap.xml"] = Reply(
        body="<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        f"{locs}</urlset>",
        content_type="application/xml",
    )


async def start_crawl(
    client: httpx.AsyncClient, account: Account, chatbot_id: str, url: str, **fields: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/chatbots/{chatbot_id}/crawls", json={"url": url, **fields}, headers=account.headers
    )


async def get_crawl(client: httpx.AsyncClient, account: Account, crawl_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/crawls/{crawl_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def chatbot_status(client: httpx.AsyncClient, account: Account, chatbot_id: str) -> str:
    response = await client.get(f"/v1/chatbots/{chatbot_id}", headers=account.headers)
    return str(response.json()["status"])


async def wait_until(check: Callable[[], Awaitable[bool]], seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def sql(app: Any, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    async with app.state.sessionmaker() as session, session.begin():
        result = await session.execute(text(statement), params)
        return [tuple(row) for row in result.all()] if result.returns_rows else []


async def searchable(app: Any, chatbot_id: str, query: str) -> list[str]:
    rows = await sql(
        app,
        "SELECT url FROM chunks WHERE chatbot_id = :chatbot_id "
        "AND search_vector @@ websearch_to_tsquery(language::regconfig, :query) ORDER BY url",
        chatbot_id=uuid.UUID(chatbot_id),
        query=query,
    )
    return [row[0] for row in rows]
