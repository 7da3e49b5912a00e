"""Crawls of pages that only scripts write, end to end: API, `crawling.run` job, real Chromium,
real local sites, the stored and searchable text."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from sitechat.config import CrawlSettings
from sitechat.core.state import app_state
from sitechat.crawling.tasks import run_crawl_job
from tests.conftest import run_queued_jobs
from tests.crawling import site as crawl_site
from tests.crawling.conftest import LocalSite, Reply, html_page
from tests.crawling.script_site import SECRET, internal_server, orchard_app
from tests.crawling.site import get_crawl, searchable, sql, start_crawl
from tests.fixtures.accounts import Account

crawl_app_fixture = crawl_site.crawl_app_fixture
crawl_client_fixture = crawl_site.crawl_client_fixture
account_fixture = crawl_site.account_fixture
chatbot_id_fixture = crawl_site.chatbot_id_fixture

VISITING = (
    "Visiting hours: the orchard shop opens at nine in the morning and closes at six. "
    "Parking is free for customers, and dogs on a lead are welcome in the orchard."
)


@pytest.fixture
def internal() -> Iterator[LocalSite]:
    """An internal service on another loopback address, allow-listed nowhere."""
    server = LocalSite(host="127.0.0.2")
    internal_server(server)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _with_browser(crawl_app: Any, chromium: Path) -> CrawlSettings:
    settings: CrawlSettings = crawl_app.state.settings.crawl
    return settings.model_copy(update={"browser": str(chromium)})


async def _crawl(
    app: Any,
    client: httpx.AsyncClient,
    account: Account,
    chatbot_id: str,
    url: str,
    settings: CrawlSettings | None = None,
) -> dict[str, Any]:
    """Start a crawl through the API and run its job: with `settings`, as a worker configured
    with them would; otherwise with the app's (no browser)."""
    response = await start_crawl(client, account, chatbot_id, url, use_sitemap=False)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    if settings is None:
        await run_queued_jobs(app)
    else:
        jobs = app_state(app).task_context
        configured = replace(jobs, settings=jobs.settings.model_copy(update={"crawl": settings}))
        await run_crawl_job(configured, uuid.UUID(job_id))
    return await get_crawl(client, account, job_id)


async def _crawl_pages(
    client: httpx.AsyncClient, account: Account, crawl_id: str
) -> dict[str, dict[str, Any]]:
    response = await client.get(f"/v1/crawls/{crawl_id}/pages", headers=account.headers)
    assert response.status_code == 200, response.text
    return {item["url"]: item for item in response.json()["items"]}


class TestWithABrowser:
    async def test_the_script_written_text_is_indexed_and_searchable(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
        chromium: Path,
    ) -> None:
        # A link only the rendered DOM has, to a server-rendered page.
        orchard_app(
            site, more_paragraphs=("Plan your trip: see <a href='/visiting'>visiting hours</a>.",)
        )
        site.page("/visiting", html_page("Visiting", f"<h1>Visiting</h1><p>{VISITING}</p>"))

        job = await _crawl(
            crawl_app,
            crawl_client,
            account,
            chatbot_id,
            site.url("/"),
            _with_browser(crawl_app, chromium),
        )

        assert (job["status"], job["stop_reason"]) == ("completed", "completed")
        assert (job["pages_indexed"], job["pages_rendered"]) == (2, 1)
        assert job["pages_needing_browser"] == 0
        assert await searchable(crawl_app, chatbot_id, "quinces poach honey") == [site.url("/")]
        # The link was in the rendered DOM only, and was followed.
        assert await searchable(crawl_app, chatbot_id, "parking dogs") == [site.url("/visiting")]
        pages = await _crawl_pages(crawl_client, account, job["id"])
        assert pages[site.url("/")]["rendered"] is True
        assert pages[site.url("/visiting")]["rendered"] is False
        stored = await crawl_client.get(
            f"/v1/pages/{pages[site.url('/')]['page_id']}", headers=account.headers
        )
        assert "Quince trees flower in late spring" in stored.json()["content"]
        assert "Loading" not in stored.json()["content"]

    async def test_a_rendered_page_keeps_no_validators_so_a_resync_renders_it_again(
        self,
        crawl_app: Any,
        crawl_client: httpx.AsyncClient,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
        chromium: Path,
    ) -> None:
        """The shell's ETag says nothing about the data its scripts load."""
        orchard_app(site, shell_headers={"ETag": '"shell-1"'})

        job = await _crawl(
            crawl_app,
            crawl_client,
            account,
            chatbot_id,
            site.url("/"),
            _with_browser(crawl_app, chromium),
        )

        assert job["pages_rendered"] == 1
        rows = await sql(crawl_app, "SELECT etag FROM pages WHERE url = :url", url=site.url("/"))
        assert rows == [(None,)]

    async def test_no_request_of_a_rendered_page_reaches_an_internal_address(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
        internal: LocalSite,
        chromium: Path,
    ) -> None:
        tries = [
            internal.url("/secret.json"),
            f"http://localhost:{internal.port}/secret.json",
            site.url("/hop"),
        ]
        # Whatever a request brings back is written into the page's main text.
        steal = "".join(
            f'fetch("{url}").then((r) => r.text()).then((text) => {{'
            'const p = document.createElement("p"); p.textContent = "stolen " + text;'
            'document.querySelector("main").appendChild(p); }, () => {});'
            for url in tries
        )
        orchard_app(site, extra_js=f'window.addEventListener("load", () => {{ {steal} }});')
        site.routes["/hop"] = Reply(status=302, headers={"Location": internal.url("/secret.json")})

        job = await _crawl(
            crawl_app,
            crawl_client,
            account,
            chatbot_id,
            site.url("/"),
            _with_browser(crawl_app, chromium),
        )

        assert job["pages_rendered"] == 1
        assert await searchable(crawl_app, chatbot_id, "quinces") == [site.url("/")]
        assert sum(internal.hits.values()) == 0, internal.hits
        assert site.hits["/hop"] == 1
        rows = await sql(crawl_app, "SELECT content FROM pages WHERE url = :url", url=site.url("/"))
        assert SECRET not in rows[0][0] and "stolen" not in rows[0][0]

    async def test_the_sites_robots_rules_hold_for_what_its_scripts_request(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
        chromium: Path,
    ) -> None:
        orchard_app(site)
        site.routes["/robots.txt"] = Reply(
            body="User-agent: *\nDisallow: /content.json\n", content_type="text/plain"
        )

        job = await _crawl(
            crawl_app,
            crawl_client,
            account,
            chatbot_id,
            site.url("/"),
            _with_browser(crawl_app, chromium),
        )

        assert job["pages_rendered"] == 1
        assert site.hits["/app.js"] == 1 and site.hits["/content.json"] == 0
        assert await searchable(crawl_app, chatbot_id, "quinces") == []

    async def test_a_server_rendered_page_is_not_loaded_in_the_browser(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
        chromium: Path,
    ) -> None:
        """Its scripts would add text and fetch data: neither happens, the HTML is enough."""
        widget = (
            "<script src='/widget.js'></script>"
            "<script>document.addEventListener('DOMContentLoaded', () => {"
            "document.querySelector('main').insertAdjacentHTML('beforeend',"
            "'<p>Marmalade discount for newsletter readers.</p>'); });</script>"
        )
        body = f"<h1>Visiting</h1><p>{VISITING}</p><p>{VISITING}</p>"
        site.page("/", html_page("Visiting", body, head=widget))
        site.routes["/widget.js"] = Reply(
            body="fetch('/offers.json');", content_type="text/javascript"
        )

        job = await _crawl(
            crawl_app,
            crawl_client,
            account,
            chatbot_id,
            site.url("/"),
            _with_browser(crawl_app, chromium),
        )

        assert (job["pages_indexed"], job["pages_rendered"]) == (1, 0)
        assert site.hits["/widget.js"] == 0 and site.hits["/offers.json"] == 0
        assert await searchable(crawl_app, chatbot_id, "parking dogs") == [site.url("/")]
        assert await searchable(crawl_app, chatbot_id, "marmalade") == []


class TestWithoutABrowser:
    async def test_the_page_is_reported_as_needing_one_not_stored_empty(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        orchard_app(site, shell_extra="<a href='/visiting'>Visiting</a>")  # a plain link
        site.page("/visiting", html_page("Visiting", f"<h1>Visiting</h1><p>{VISITING}</p>"))

        job = await _crawl(crawl_app, crawl_client, account, chatbot_id, site.url("/"))

        assert job["status"] == "completed"
        assert (job["pages_needing_browser"], job["pages_rendered"]) == (1, 0)
        assert (job["pages_indexed"], job["pages_skipped"]) == (1, 1)
        pages = await _crawl_pages(crawl_client, account, job["id"])
        shell = pages[site.url("/")]
        assert (shell["outcome"], shell["reason"], shell["page_id"]) == (
            "skipped",
            "needs-browser",
            None,
        )
        assert site.hits["/app.js"] == 0 and site.hits["/content.json"] == 0
        assert await searchable(crawl_app, chatbot_id, "quinces") == []
        assert await searchable(crawl_app, chatbot_id, "parking dogs") == [site.url("/visiting")]

    async def test_a_browser_that_will_not_start_is_reported_per_page(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
        tmp_path: Path,
    ) -> None:
        orchard_app(site)

        job = await _crawl(
            crawl_app,
            crawl_client,
            account,
            chatbot_id,
            site.url("/"),
            _with_browser(crawl_app, tmp_path),
        )

        # The site's only page could not be indexed: the crawl failed, and says why.
        assert job["status"] == "failed"
        assert "(browser-unavailable)" in job["error"]
        assert (job["pages_needing_browser"], job["pages_failed"]) == (1, 1)
        pages = await _crawl_pages(crawl_client, account, job["id"])
        assert pages[site.url("/")]["reason"] == "browser-unavailable"
