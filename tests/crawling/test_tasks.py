"""The `crawling.run` job: cancelling a running crawl, re-crawl diffs, resuming after a crash."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import structlog
from structlog.testing import capture_logs

from sitechat.core.state import app_state
from sitechat.crawling.tasks import run_crawl_job
from tests.conftest import run_queued_jobs
from tests.crawling import site as crawl_site
from tests.crawling.conftest import LocalSite, Reply, html_page
from tests.crawling.site import (
    chatbot_status,
    docs_site,
    get_crawl,
    searchable,
    sitemap_site,
    sql,
    start_crawl,
    wait_until,
)
from tests.fixtures.accounts import Account

# The crawl fixtures, registered in this module under their names (crawl_app, crawl_client...).
crawl_app_fixture = crawl_site.crawl_app_fixture
crawl_client_fixture = crawl_site.crawl_client_fixture
account_fixture = crawl_site.account_fixture
chatbot_id_fixture = crawl_site.chatbot_id_fixture


async def _crawled_again(
    crawl_client: httpx.AsyncClient,
    crawl_app: Any,
    account: Account,
    chatbot_id: str,
    site: LocalSite,
    *,
    include_paths: list[str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A site of three pages crawled whole, then again with `include_paths`: both crawls."""
    docs_site(site, {"/apples": "Apples grow on trees.", "/pears": "Pears are sweet."})
    jobs = []
    for paths in ([], include_paths):
        started = await start_crawl(
            crawl_client, account, chatbot_id, site.url("/"), include_paths=paths
        )
        await run_queued_jobs(crawl_app)
        jobs.append(await get_crawl(crawl_client, account, started.json()["id"]))
    return jobs[0], jobs[1]


async def _slow_crawl_cancelled(
    crawl_client: httpx.AsyncClient,
    crawl_app: Any,
    account: Account,
    chatbot_id: str,
    site: LocalSite,
    *,
    pages: int,
    once_indexed: int,
) -> tuple[dict[str, Any], asyncio.Task[Any]]:
    """A crawl of `pages` slow pages, cancelled through the API once it has indexed
    `once_indexed`; its job, and the worker still running it."""
    slow = {f"/slow-{n}": f"Slow page number {n} about turtles." for n in range(pages)}
    docs_site(site, slow)
    for path in slow:
        site.page(path, html_page("Slow", f"<h1>Slow</h1><p>{slow[path]}</p>"), delay_seconds=1)
    job = (
        await start_crawl(crawl_client, account, chatbot_id, site.url("/"), use_sitemap=False)
    ).json()
    worker = asyncio.create_task(run_queued_jobs(crawl_app))

    async def indexed_enough() -> bool:
        crawl = await get_crawl(crawl_client, account, job["id"])
        return bool(crawl["pages_indexed"] >= once_indexed)

    await wait_until(indexed_enough)
    cancelled = await crawl_client.post(f"/v1/crawls/{job['id']}/cancel", headers=account.headers)
    assert cancelled.status_code == 200, cancelled.text
    return job, worker


class TestCancelRunningCrawl:
    async def test_stops_within_seconds_and_keeps_indexed_pages(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        job, worker = await _slow_crawl_cancelled(
            crawl_client, crawl_app, account, chatbot_id, site, pages=12, once_indexed=2
        )
        asked = time.monotonic()
        await asyncio.wait_for(worker, timeout=10)
        assert time.monotonic() - asked < 4

        final = await get_crawl(crawl_client, account, job["id"])
        assert (final["status"], final["stop_reason"]) == ("cancelled", "cancelled")
        assert 2 <= final["pages_indexed"] < 13
        assert final["pages_removed"] == 0  # a cancelled crawl never removes pages
        assert await searchable(crawl_app, chatbot_id, "start here")
        assert await chatbot_status(crawl_client, account, chatbot_id) == "ready"


class TestRecrawlDiff:
    async def test_new_changed_unchanged_and_removed_pages(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        sitemap_site(
            site,
            {
                "/apples": "Apples grow on trees.",
                "/bananas": "Bananas are yellow.",
                "/cherries": "Cherries are red.",
            },
        )
        first = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()
        await run_queued_jobs(crawl_app)
        assert (await get_crawl(crawl_client, account, first["id"]))["pages_new"] == 4
        assert await searchable(crawl_app, chatbot_id, "bananas yellow")

        del site.routes["/bananas"]
        sitemap_site(
            site,
            {
                "/apples": "Apples grow on trees and are crunchy.",  # changed
                "/cherries": "Cherries are red.",  # unchanged
                "/dates": "Dates are sweet.",  # new
            },
        )
        second = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()
        await run_queued_jobs(crawl_app)
        job = await get_crawl(crawl_client, account, second["id"])
        counts = {key: job[f"pages_{key}"] for key in ("new", "changed", "unchanged", "removed")}
        assert counts == {"new": 1, "changed": 1, "unchanged": 2, "removed": 1}
        assert job["pages_indexed"] == 4
        assert await searchable(crawl_app, chatbot_id, "bananas yellow") == []
        assert await searchable(crawl_app, chatbot_id, "crunchy") == [site.url("/apples")]
        assert await searchable(crawl_app, chatbot_id, "cherries red") == [site.url("/cherries")]
        chunk_rows = await sql(
            crawl_app,
            "SELECT count(*) FROM chunks WHERE chatbot_id = :id AND url = :url",
            id=uuid.UUID(chatbot_id),
            url=site.url("/cherries"),
        )
        assert chunk_rows == [(1,)]


class TestResume:
    async def test_resumed_job_skips_recorded_urls_and_duplicates_nothing(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs_site(site, {"/a": "Alpha text.", "/b": "Beta text.", "/c": "Gamma text."})
        job = (
            await start_crawl(crawl_client, account, chatbot_id, site.url("/"), use_sitemap=False)
        ).json()
        job_id = uuid.UUID(job["id"])
        # A worker died after committing "/" and "/a": the job is still `running`.
        await sql(
            crawl_app,
            "UPDATE crawl_jobs SET status = 'running', attempts = 1 WHERE id = :id",
            id=job_id,
        )
        links = [site.url(path) for path in ("/a", "/b", "/c")]
        for url, page_links in ((site.url("/"), links), (site.url("/a"), [])):
            await sql(
                crawl_app,
                "INSERT INTO crawl_pages (id, crawl_job_id, workspace_id, url, outcome, bytes, "
                "depth, links, created_at) VALUES (:id, :job, :ws, :url, 'indexed', 10, 0, "
                "CAST(:links AS jsonb), now())",
                id=uuid.uuid4(),
                job=job_id,
                ws=account.workspace_id,
                url=url,
                links=str(page_links).replace("'", '"'),
            )

        await run_queued_jobs(crawl_app)

        assert site.hits["/"] == 0 and site.hits["/a"] == 0
        assert site.hits["/b"] == 1 and site.hits["/c"] == 1
        final = await get_crawl(crawl_client, account, job["id"])
        assert (final["status"], final["attempts"]) == ("completed", 2)
        rows = await sql(
            crawl_app,
            "SELECT url, count(*) FROM crawl_pages WHERE crawl_job_id = :id GROUP BY url",
            id=job_id,
        )
        assert sorted(count for _, count in rows) == [1, 1, 1, 1]

        # Running the finished job again (a duplicate delivery) changes nothing.
        await run_crawl_job(app_state(crawl_app).task_context, job_id)
        again = await get_crawl(crawl_client, account, job["id"])
        assert again == final
        assert site.hits["/b"] == 1

    async def test_pages_skipped_before_a_resume_do_not_spend_its_page_budget(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        pages = {f"/p{n}": f"Page number {n} explains a setting." for n in range(6)}
        docs_site(site, pages)
        job = (
            await start_crawl(
                crawl_client, account, chatbot_id, site.url("/"), use_sitemap=False, max_pages=4
            )
        ).json()
        job_id = uuid.UUID(job["id"])
        # A worker died after recording "/" (indexed), a link list and a failed page: one
        # page of the budget of 4 spent, as an uninterrupted crawl would have counted it.
        await sql(
            crawl_app,
            "UPDATE crawl_jobs SET status = 'running', attempts = 1, pages_indexed = 1, "
            "pages_skipped = 1, pages_failed = 1 WHERE id = :id",
            id=job_id,
        )
        recorded = [
            ("/", "indexed", None, [site.url(path) for path in pages]),
            ("/p0", "skipped", "link-list", []),
            ("/p1", "failed", "http-500", []),
        ]
        for path, outcome, reason, links in recorded:
            await sql(
                crawl_app,
                "INSERT INTO crawl_pages (id, crawl_job_id, workspace_id, url, outcome, reason, "
                "bytes, depth, links, created_at) VALUES (:id, :job, :ws, :url, "
                "CAST(:outcome AS page_outcome), :reason, 10, 0, CAST(:links AS jsonb), now())",
                id=uuid.uuid4(),
                job=job_id,
                ws=account.workspace_id,
                url=site.url(path),
                outcome=outcome,
                reason=reason,
                links=str(links).replace("'", '"'),
            )

        await run_queued_jobs(crawl_app)

        final = await get_crawl(crawl_client, account, job["id"])
        assert (final["status"], final["stop_reason"]) == ("completed", "max-pages")
        assert final["pages_indexed"] == 4
        assert site.hits["/"] == site.hits["/p0"] == site.hits["/p1"] == 0
        indexed = await sql(
            crawl_app,
            "SELECT count(*) FROM crawl_pages WHERE crawl_job_id = :id AND outcome = 'indexed'",
            id=job_id,
        )
        assert indexed == [(4,)]


class TestNothingIndexed:
    async def test_a_crawl_whose_start_page_is_gone_fails_and_keeps_the_index(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        site.page("/", html_page("Home", '<p>Our <a href="/apples">apples</a>.</p>'))
        site.page("/apples", html_page("Apples", "<p>Apples grow on trees.</p>"))
        first = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()
        await run_queued_jobs(crawl_app)
        assert (await get_crawl(crawl_client, account, first["id"]))["status"] == "completed"

        del site.routes["/"]  # the site moved, or is misconfigured for a while
        second = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()
        await run_queued_jobs(crawl_app)

        job = await get_crawl(crawl_client, account, second["id"])
        assert job["status"] == "failed"
        assert job["error"].startswith("The start page answered HTTP 404."), job["error"]
        assert job["pages_removed"] == 0
        assert await searchable(crawl_app, chatbot_id, "apples trees") == [site.url("/apples")]

    async def test_a_first_crawl_that_finds_nothing_says_why(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        site.routes["/robots.txt"] = Reply(body="User-agent: *\nDisallow: /\n")

        crawl = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()
        await run_queued_jobs(crawl_app)

        job = await get_crawl(crawl_client, account, crawl["id"])
        assert job["status"] == "failed"
        assert "robots.txt does not allow the start page" in job["error"]

    async def test_a_recrawl_whose_include_paths_match_no_page_keeps_every_page(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        # A scope narrowed by mistake: the start page is only where the walk begins.
        first, job = await _crawled_again(
            crawl_client, crawl_app, account, chatbot_id, site, include_paths=["/blog"]
        )

        assert first["pages_indexed"] == 3
        assert (job["status"], job["stop_reason"]) == ("failed", "nothing-indexed")
        assert job["error"].startswith("No page matched the include_paths"), job["error"]
        assert (job["pages_indexed"], job["pages_removed"]) == (0, 0)
        pages = await crawl_client.get(f"/v1/crawls/{job['id']}/pages", headers=account.headers)
        [start] = pages.json()["items"]
        assert (start["outcome"], start["reason"]) == ("skipped", "outside-path-filters")
        assert await searchable(crawl_app, chatbot_id, "start here") == [site.url("/")]
        assert await searchable(crawl_app, chatbot_id, "apples trees") == [site.url("/apples")]
        assert await searchable(crawl_app, chatbot_id, "pears sweet") == [site.url("/pears")]
        assert await chatbot_status(crawl_client, account, chatbot_id) == "ready"

    async def test_a_recrawl_whose_include_paths_match_some_pages_replaces_the_rest(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        _, job = await _crawled_again(
            crawl_client, crawl_app, account, chatbot_id, site, include_paths=["/apples"]
        )

        assert (job["status"], job["pages_indexed"], job["pages_removed"]) == ("completed", 1, 2)
        assert await searchable(crawl_app, chatbot_id, "apples trees") == [site.url("/apples")]
        # The start page is outside include_paths: followed for its links, not indexed.
        assert await searchable(crawl_app, chatbot_id, "start here") == []
        assert await searchable(crawl_app, chatbot_id, "pears sweet") == []


async def website_source(
    client: httpx.AsyncClient, account: Account, chatbot_id: str
) -> dict[str, Any]:
    listed = await client.get(
        f"/v1/chatbots/{chatbot_id}/sources?kind=website", headers=account.headers
    )
    [source] = listed.json()["items"]
    detail = await client.get(
        f"/v1/chatbots/{chatbot_id}/sources/{source['id']}", headers=account.headers
    )
    return detail.json()  # type: ignore[no-any-return]


class TestWebsiteSourceStatus:
    async def test_a_failed_crawl_shows_on_its_source(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        hook = await crawl_client.post(
            "/v1/webhooks",
            json={"url": site.url("/hooks"), "event_types": ["crawl.failed"]},
            headers=account.headers,
        )
        assert hook.status_code == 201, hook.text
        # A first crawl of a site that is not there yet: nothing to answer from.
        first = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()
        assert (await website_source(crawl_client, account, chatbot_id))["status"] == "queued"
        await run_queued_jobs(crawl_app)

        failed = await get_crawl(crawl_client, account, first["id"])
        source = await website_source(crawl_client, account, chatbot_id)
        assert failed["status"] == "failed"
        assert (source["status"], source["error"]) == ("failed", failed["error"])
        assert source["error"] == "The start page answered HTTP 404. Nothing was indexed."
        assert (source["pages"], source["last_run"]["status"]) == (0, "failed")
        events = await sql(
            crawl_app,
            "SELECT payload FROM webhook_deliveries WHERE endpoint_id = :id",
            id=uuid.UUID(hook.json()["id"]),
        )
        assert [payload["data"]["crawl_id"] for (payload,) in events] == [first["id"]]

        # The site is up: the retry completes and the source is ready, its error gone.
        docs_site(site, {"/apples": "Apples grow on trees."})
        retry = f"/v1/crawls/{first['id']}/retry"
        retried = await crawl_client.post(retry, headers=account.headers)
        assert retried.status_code == 202, retried.text
        await run_queued_jobs(crawl_app)
        source = await website_source(crawl_client, account, chatbot_id)
        assert (source["status"], source["error"], source["pages"]) == ("ready", None, 2)
        assert source["last_synced_at"] is not None

        # It breaks again: the source keeps answering from its pages, and says why it is stale.
        del site.routes["/"]
        third = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()
        await run_queued_jobs(crawl_app)
        failed = await get_crawl(crawl_client, account, third["id"])
        source = await website_source(crawl_client, account, chatbot_id)
        assert (source["status"], source["error"], source["pages"]) == ("ready", failed["error"], 2)
        assert source["error"].endswith("the pages indexed before are kept."), source["error"]
        assert await searchable(crawl_app, chatbot_id, "apples trees") == [site.url("/apples")]

    async def test_a_crawl_cancelled_after_it_indexed_pages_leaves_its_source_ready(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        job, worker = await _slow_crawl_cancelled(
            crawl_client, crawl_app, account, chatbot_id, site, pages=8, once_indexed=1
        )
        await asyncio.wait_for(worker, timeout=10)

        final = await get_crawl(crawl_client, account, job["id"])
        source = await website_source(crawl_client, account, chatbot_id)
        assert final["status"] == "cancelled"
        assert (source["status"], source["error"]) == ("ready", None)
        assert source["pages"] == final["pages_indexed"] >= 1
        assert source["last_run"]["status"] == "cancelled"

    async def test_a_crawl_cancelled_before_it_indexed_a_page_fails_its_source(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs_site(site, {"/apples": "Apples grow on trees."})
        job = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()

        cancelled = await crawl_client.post(
            f"/v1/crawls/{job['id']}/cancel", headers=account.headers
        )
        assert cancelled.json()["status"] == "cancelled", cancelled.text
        await run_queued_jobs(crawl_app)  # the queued job never runs

        source = await website_source(crawl_client, account, chatbot_id)
        assert (source["status"], source["pages"]) == ("failed", 0)
        assert source["error"] == "The crawl was cancelled before it indexed a page."
        assert site.hits["/"] == 0


class TestCrawlLogLines:
    async def test_every_line_of_a_crawl_names_its_job(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        """`crawl.finished` and `crawl.sitemap_unavailable` named no job: two crawls running
        in one worker could not be told apart."""
        docs_site(site, {"/apples": "Apples grow on trees."})  # and no /sitemap.xml
        job = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            await run_queued_jobs(crawl_app)
        crawl_lines = [line for line in logs if line["event"].startswith("crawl.")]
        events = {line["event"] for line in crawl_lines}
        assert {"crawl.sitemap_unavailable", "crawl.finished", "crawl.job_finished"} <= events
        assert all(line.get("crawl_job_id") == job["id"] for line in crawl_lines), crawl_lines
        assert all(line.get("chatbot_id") == chatbot_id for line in crawl_lines[1:])
        assert structlog.contextvars.get_contextvars() == {}  # nothing left bound
