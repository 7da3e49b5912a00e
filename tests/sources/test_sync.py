"""Scheduled re-sync against a real HTTP server on 127.0.0.1 that counts requests and answers
conditional ones with 304: unchanged pages cost one request and no re-indexing; the diff of
every run is stored and readable; concurrent schedulers never start a source twice."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from sitechat.billing.plans import PlanCatalog
from sitechat.core.clock import utcnow
from sitechat.core.state import app_state
from sitechat.sources.scheduling import schedule_due_syncs
from tests.conftest import run_queued_jobs
from tests.crawling import site as crawl_site
from tests.crawling.conftest import LocalSite, Reply, html_page
from tests.crawling.site import get_crawl, sql, start_crawl
from tests.fixtures.accounts import Account, assert_problem
from tests.fixtures.billing import upgrade
from tests.sources.files import make_pdf
from tests.sources.helpers import search

crawl_app_fixture = crawl_site.crawl_app_fixture
crawl_client_fixture = crawl_site.crawl_client_fixture
account_fixture = crawl_site.account_fixture
chatbot_id_fixture = crawl_site.chatbot_id_fixture

PAGES = {
    "/install": "Install the agent with the package manager of your system.",
    "/configure": "Configure the agent through one file in the home folder.",
    "/upgrade": "Upgrade the agent by installing the newer package over it.",
    "/support": "Support answers tickets on weekdays within one working day.",
}


class ConditionalSite:
    """Pages with ETags; a request whose If-None-Match matches gets a bodiless 304."""

    def __init__(self, site: LocalSite) -> None:
        self.site = site
        self.bodies: dict[str, tuple[bytes, str]] = {}
        self.answers: Counter[tuple[str, int]] = Counter()

    def put(
        self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8"
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.bodies[path] = (data, content_type)
        self.site.routes[path] = self._route(path)

    def remove(self, path: str) -> None:
        self.bodies.pop(path, None)
        self.site.routes.pop(path, None)

    def _route(self, path: str) -> Any:
        def answer(handler: BaseHTTPRequestHandler) -> Reply:
            data, content_type = self.bodies[path]
            etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
            if handler.headers.get("If-None-Match") == etag:
                self.answers[(path, 304)] += 1
                return Reply(body=b"", status=304, content_type=None, headers={"ETag": etag})
            self.answers[(path, 200)] += 1
            return Reply(body=data, content_type=content_type, headers={"ETag": etag})

        return answer

    def requests(self) -> int:
        return sum(self.answers.values())


@pytest.fixture
def site() -> Iterator[LocalSite]:
    local_site = LocalSite()
    local_site.start()
    try:
        yield local_site
    finally:
        local_site.stop()


def docs(site: LocalSite) -> ConditionalSite:
    conditional = ConditionalSite(site)
    links = "".join(f"<li><a href='{path}'>{path}</a></li>" for path in PAGES)
    intro = "<p>Start here: how the agent is installed, configured, upgraded and supported.</p>"
    conditional.put(
        "/",
        html_page("Home", f"<h1>Welcome</h1>{intro}<ul>{links}</ul><a href='/genindex'>Index</a>"),
    )
    for path, sentence in PAGES.items():
        write_page(conditional, path, sentence)
    # A generated index: followed for its links, never indexed; re-synced conditionally too.
    entries = "".join(
        f"<li><a href='{path}#{n}'>{path} entry {n}</a></li>" for path in PAGES for n in range(8)
    )
    conditional.put("/genindex", html_page("Index", f"<h1>Index</h1><ul>{entries}</ul>"))
    return conditional


def write_page(conditional: ConditionalSite, path: str, sentence: str) -> None:
    title = path.strip("/").title()
    conditional.put(path, html_page(title, f"<h1>{title}</h1><p>{sentence}</p>"))


def plans_of(app: Any) -> PlanCatalog:
    return app_state(app).component(PlanCatalog)


async def scheduled_runs(app: Any, days: int) -> int:
    """One pass of the periodic scheduler, `days` from now, then the jobs it queued."""
    async with app.state.sessionmaker() as session, session.begin():
        started = await schedule_due_syncs(
            session, plans_of(app), utcnow() + timedelta(days=days), 100
        )
    await run_queued_jobs(app)
    return started


async def website_source(client: httpx.AsyncClient, account: Account, chatbot_id: str) -> str:
    listed = await client.get(f"/v1/chatbots/{chatbot_id}/sources", headers=account.headers)
    return str(listed.json()["items"][0]["id"])


async def weekly_website(client: httpx.AsyncClient, account: Account, chatbot_id: str) -> None:
    """Put the chatbot's website source on a weekly re-sync."""
    source_id = await website_source(client, account, chatbot_id)
    scheduled = await client.patch(
        f"/v1/chatbots/{chatbot_id}/sources/{source_id}",
        json={"sync_schedule": "weekly"},
        headers=account.headers,
    )
    assert scheduled.status_code == 200, scheduled.text


async def pages_used(client: httpx.AsyncClient, account: Account) -> int:
    usage = await client.get("/v1/billing/usage", headers=account.headers)
    return int(usage.json()["usage"]["pages"])


async def chunk_ids(app: Any, chatbot_id: str) -> set[uuid.UUID]:
    rows = await sql(app, "SELECT id FROM chunks WHERE chatbot_id = :c", c=uuid.UUID(chatbot_id))
    return {row[0] for row in rows}


class TestWebsiteResync:
    async def test_unchanged_pages_cost_one_request_and_no_reindexing(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        conditional = docs(site)
        crawl = await start_crawl(
            crawl_client, account, chatbot_id, site.url("/"), use_sitemap=False
        )
        assert crawl.status_code == 202, crawl.text
        await run_queued_jobs(crawl_app)
        assert (await get_crawl(crawl_client, account, crawl.json()["id"]))["pages_indexed"] == 5
        source_id = await website_source(crawl_client, account, chatbot_id)
        base = f"/v1/chatbots/{chatbot_id}/sources/{source_id}"
        scheduled = await crawl_client.patch(
            base, json={"sync_schedule": "weekly"}, headers=account.headers
        )
        assert scheduled.status_code == 200, scheduled.text
        assert scheduled.json()["next_sync_at"] is not None
        before_chunks = await chunk_ids(crawl_app, chatbot_id)
        full_crawl_requests = conditional.requests()
        conditional.answers.clear()

        assert await scheduled_runs(crawl_app, days=3) == 0  # not due yet
        assert await scheduled_runs(crawl_app, days=8) == 1
        # One request per page, each answered 304, and nothing written.
        assert conditional.answers == Counter(
            {(path, 304): 1 for path in ["/", "/genindex", *PAGES]}
        )
        assert conditional.requests() == full_crawl_requests
        assert await chunk_ids(crawl_app, chatbot_id) == before_chunks
        runs = (await crawl_client.get(f"{base}/runs", headers=account.headers)).json()["items"]
        assert [(run["kind"], run["trigger"], run["status"]) for run in runs] == [
            ("crawl", "schedule", "completed"),
            ("crawl", "manual", "completed"),
        ]
        diff = runs[0]
        assert (
            diff["pages_new"],
            diff["pages_changed"],
            diff["pages_unchanged"],
            diff["pages_removed"],
        ) == (0, 0, 5, 0)
        assert diff["pages_indexed"] == 0  # nothing counted against the plan
        assert await pages_used(crawl_client, account) == 5
        chatbot = await crawl_client.get(f"/v1/chatbots/{chatbot_id}", headers=account.headers)
        assert chatbot.json()["status"] == "ready"  # answers never stopped

        # A changed page and a removed one: only they are re-indexed or dropped.
        write_page(conditional, "/configure", "Configure the agent with environment variables now.")
        conditional.remove("/upgrade")
        conditional.answers.clear()
        assert await scheduled_runs(crawl_app, days=16) == 1
        runs = (await crawl_client.get(f"{base}/runs", headers=account.headers)).json()["items"]
        latest = runs[0]
        assert (
            latest["pages_new"],
            latest["pages_changed"],
            latest["pages_unchanged"],
            latest["pages_removed"],
        ) == (0, 1, 3, 1)
        assert conditional.answers[("/configure", 200)] == 1
        assert conditional.answers[("/install", 304)] == 1
        # The re-indexed page counts against the plan like a page of a crawl started by hand.
        assert await pages_used(crawl_client, account) == 6
        pages = await crawl_client.get(f"/v1/crawls/{latest['id']}/pages", headers=account.headers)
        outcomes = {
            page["url"].removeprefix(site.origin): page["outcome"] for page in pages.json()["items"]
        }
        assert outcomes["/configure"] == "indexed" and outcomes["/install"] == "unchanged"
        assert await search(crawl_client, account, chatbot_id, "environment variables")
        hits = await search(crawl_client, account, chatbot_id, "newer package")
        assert [hit["url"] for hit in hits if hit["url"].endswith("/upgrade")] == []

    async def test_the_plan_sets_the_most_frequent_schedule(
        self,
        crawl_app: Any,
        crawl_client: httpx.AsyncClient,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs(site)
        await start_crawl(crawl_client, account, chatbot_id, site.url("/"), use_sitemap=False)
        await run_queued_jobs(crawl_app)
        source_id = await website_source(crawl_client, account, chatbot_id)
        base = f"/v1/chatbots/{chatbot_id}/sources/{source_id}"
        daily = await crawl_client.patch(
            base, json={"sync_schedule": "daily"}, headers=account.headers
        )
        body = assert_problem(daily, 402, "schedule-not-in-plan")
        assert (body["plan_id"], body["upgrade_plan_id"]) == ("free", "starter")
        assert (await crawl_client.get(base, headers=account.headers)).json()[
            "sync_schedule"
        ] == "off"
        await upgrade(crawl_client, account, "starter")
        daily = await crawl_client.patch(
            base, json={"sync_schedule": "daily"}, headers=account.headers
        )
        assert daily.status_code == 200 and daily.json()["sync_schedule"] == "daily"
        bad = await crawl_client.patch(
            base, json={"sync_schedule": "hourly"}, headers=account.headers
        )
        assert_problem(bad, 422, "validation-error")

    async def test_a_resync_asks_for_the_pages_the_crawl_asked_for(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs(site)
        await start_crawl(
            crawl_client, account, chatbot_id, site.url("/"), max_pages=500, use_sitemap=False
        )
        await run_queued_jobs(crawl_app)  # 5 pages of Free's 500 a month
        crawl = await start_crawl(
            crawl_client, account, chatbot_id, site.url("/"), max_pages=500, use_sitemap=False
        )
        assert (crawl.json()["requested_pages"], crawl.json()["max_pages"]) == (500, 495)
        await run_queued_jobs(crawl_app)
        await upgrade(crawl_client, account, "pro")  # 10,000 pages a month
        await weekly_website(crawl_client, account, chatbot_id)

        assert await scheduled_runs(crawl_app, days=8) == 1

        crawls = await crawl_client.get(
            f"/v1/chatbots/{chatbot_id}/crawls", headers=account.headers
        )
        resync, last, _ = crawls.json()["items"]
        assert last["id"] == crawl.json()["id"]
        # The 500 the source's last crawl asked for, not the 495 the month had left then.
        assert resync["max_pages"] == 500

    async def test_a_resync_repeats_the_last_completed_crawl_not_a_failed_one(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs(site)
        await start_crawl(crawl_client, account, chatbot_id, site.url("/"), use_sitemap=False)
        await run_queued_jobs(crawl_app)
        # A scope narrowed by mistake: the crawl fails and keeps the pages (ADR 0029).
        mistaken = await start_crawl(
            crawl_client,
            account,
            chatbot_id,
            site.url("/"),
            include_paths=["/blog"],
            use_sitemap=False,
        )
        await run_queued_jobs(crawl_app)
        assert (await get_crawl(crawl_client, account, mistaken.json()["id"]))["status"] == "failed"
        await weekly_website(crawl_client, account, chatbot_id)

        assert await scheduled_runs(crawl_app, days=8) == 1

        crawls = await crawl_client.get(
            f"/v1/chatbots/{chatbot_id}/crawls", headers=account.headers
        )
        resync = crawls.json()["items"][0]
        assert (resync["include_paths"], resync["status"]) == ([], "completed")
        assert resync["pages_unchanged"] == 5
        source_id = await website_source(crawl_client, account, chatbot_id)
        source = await crawl_client.get(
            f"/v1/chatbots/{chatbot_id}/sources/{source_id}", headers=account.headers
        )
        assert (source.json()["status"], source.json()["error"]) == ("ready", None)
        assert source.json()["last_run"]["trigger"] == "schedule"

    async def test_with_no_completed_crawl_a_resync_repeats_the_latest(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        # The site is not up yet: both crawls fail, the second asking for more pages.
        for max_pages in (100, 200):
            await start_crawl(crawl_client, account, chatbot_id, site.url("/"), max_pages=max_pages)
            await run_queued_jobs(crawl_app)
        docs(site)
        await weekly_website(crawl_client, account, chatbot_id)

        assert await scheduled_runs(crawl_app, days=8) == 1

        crawls = await crawl_client.get(
            f"/v1/chatbots/{chatbot_id}/crawls", headers=account.headers
        )
        resync, latest, _ = crawls.json()["items"]
        assert latest["status"] == "failed"
        assert (resync["requested_pages"], resync["status"]) == (200, "completed")

    async def test_text_sources_have_no_schedule(
        self, crawl_client: httpx.AsyncClient, account: Account, chatbot_id: str
    ) -> None:
        text = await crawl_client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            json={"kind": "text", "title": "Hours", "content": "Open at nine."},
            headers=account.headers,
        )
        response = await crawl_client.patch(
            f"/v1/chatbots/{chatbot_id}/sources/{text.json()['id']}",
            json={"sync_schedule": "weekly"},
            headers=account.headers,
        )
        assert_problem(response, 422, "not-syncable")


class TestNoDoubleRuns:
    async def test_concurrent_schedulers_start_a_source_once(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs(site)
        await start_crawl(crawl_client, account, chatbot_id, site.url("/"), use_sitemap=False)
        await run_queued_jobs(crawl_app)
        await weekly_website(crawl_client, account, chatbot_id)
        due = utcnow() + timedelta(days=8)
        plans = plans_of(crawl_app)
        maker = crawl_app.state.sessionmaker
        async with maker() as first, first.begin():
            started_first = await schedule_due_syncs(first, plans, due, 100)
            # A second worker's scan while the first holds the row: it skips the source.
            async with maker() as second, second.begin():
                started_second = await schedule_due_syncs(second, plans, due, 100)
        async with maker() as third, third.begin():
            started_third = await schedule_due_syncs(third, plans, due, 100)  # after the commit
        assert (started_first, started_second, started_third) == (1, 0, 0)
        queued = await sql(
            crawl_app,
            "SELECT count(*) FROM procrastinate_jobs "
            "WHERE task_name = 'crawling.run' AND status = 'todo'",
        )
        assert queued == [(1,)]
        jobs = await sql(crawl_app, "SELECT trigger::text FROM crawl_jobs ORDER BY id")
        assert jobs == [("manual",), ("schedule",)]


class TestFileUrlSource:
    async def test_fetched_file_resyncs_with_a_conditional_request(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        conditional = ConditionalSite(site)
        pages = [f"Chapter {n} explains the rule number {n * 11} of the club." for n in range(1, 5)]
        conditional.put("/rules.pdf", make_pdf(pages, title="Club rules"), "application/pdf")
        created = await crawl_client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            json={"kind": "file", "url": site.url("/rules.pdf"), "sync_schedule": "weekly"},
            headers=account.headers,
        )
        assert created.status_code == 202, created.text
        source_id = created.json()["id"]
        base = f"/v1/chatbots/{chatbot_id}/sources/{source_id}"
        await run_queued_jobs(crawl_app)
        source = (await crawl_client.get(base, headers=account.headers)).json()
        assert (source["status"], source["pages"], source["file_type"]) == ("ready", 4, "pdf")
        hit = (await search(crawl_client, account, chatbot_id, "rule number 33"))[0]
        assert (hit["title"], hit["url"]) == (
            "Club rules, page 3",
            site.url("/rules.pdf") + "#page=3",
        )

        conditional.answers.clear()
        assert await scheduled_runs(crawl_app, days=8) == 1
        source = (await crawl_client.get(base, headers=account.headers)).json()
        run = source["last_run"]
        assert (run["trigger"], run["status"], run["http_requests"]) == ("schedule", "completed", 1)
        assert (run["pages_unchanged"], run["pages_indexed"]) == (4, 0)
        assert conditional.answers == Counter({("/rules.pdf", 304): 1})

        # A new version: the manual sync fetches it and re-indexes the changed page only.
        pages[1] = "Chapter 2 now says members may bring two guests."
        conditional.put("/rules.pdf", make_pdf(pages, title="Club rules"), "application/pdf")
        synced = await crawl_client.post(f"{base}/sync", headers=account.headers)
        assert synced.status_code == 202, synced.text
        await run_queued_jobs(crawl_app)
        run = (await crawl_client.get(base, headers=account.headers)).json()["last_run"]
        assert (run["trigger"], run["pages_changed"], run["pages_unchanged"]) == ("manual", 1, 3)
        listed = await crawl_client.get(f"{base}/runs", headers=account.headers)
        assert [item["trigger"] for item in listed.json()["items"]] == [
            "manual",
            "schedule",
            "upload",
        ]

    async def test_an_unreachable_url_fails_clearly(
        self,
        crawl_app: Any,
        crawl_client: httpx.AsyncClient,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        created = await crawl_client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            json={"kind": "file", "url": site.url("/missing.pdf")},
            headers=account.headers,
        )
        await run_queued_jobs(crawl_app)
        source = (
            await crawl_client.get(
                f"/v1/chatbots/{chatbot_id}/sources/{created.json()['id']}", headers=account.headers
            )
        ).json()
        assert source["status"] == "failed"
        assert source["error"] == "The file could not be fetched from its URL (HTTP 404)."
