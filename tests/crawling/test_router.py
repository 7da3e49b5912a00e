"""The crawl API end to end against a real site on loopback, with the job run in-process."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import run_queued_jobs
from tests.crawling import site as crawl_site
from tests.crawling.conftest import LocalSite
from tests.crawling.site import (
    chatbot_status,
    docs_site,
    get_crawl,
    searchable,
    start_crawl,
)
from tests.fixtures.accounts import Account, assert_problem, create_api_key, register

PAGES = {
    "/install": "Install the tool with pip on any platform.",
    "/usage": "Run the command with a configuration file.",
}

# The crawl fixtures, registered in this module under their names (crawl_app, crawl_client...).
crawl_app_fixture = crawl_site.crawl_app_fixture
crawl_client_fixture = crawl_site.crawl_client_fixture
account_fixture = crawl_site.account_fixture
chatbot_id_fixture = crawl_site.chatbot_id_fixture


class TestTruncatedCrawl:
    async def test_the_crawl_says_how_many_pages_it_left_unvisited(
        self,
        crawl_app: Any,
        crawl_client: httpx.AsyncClient,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs_site(
            site, {f"/page-{n}": f"Page number {n} explains one more thing." for n in range(6)}
        )
        response = await start_crawl(crawl_client, account, chatbot_id, site.url("/"), max_pages=2)
        assert response.status_code == 202, response.text

        await run_queued_jobs(crawl_app)

        job = await get_crawl(crawl_client, account, response.json()["id"])
        assert (job["status"], job["stop_reason"]) == ("completed", "max-pages")
        assert job["pages_indexed"] == 2
        assert job["pages_unvisited"] == 5


class TestCrawlHappyPath:
    async def test_crawl_indexes_the_site_and_the_chatbot_becomes_ready(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs_site(site, PAGES)
        response = await start_crawl(crawl_client, account, chatbot_id, site.url("/"))
        assert response.status_code == 202, response.text
        job = response.json()
        # A first trial on the Free plan gets the documented default crawl of 500 pages.
        assert (job["status"], job["max_pages"], job["max_depth"]) == ("queued", 500, 5)
        assert await chatbot_status(crawl_client, account, chatbot_id) == "training"

        await run_queued_jobs(crawl_app)

        job = await get_crawl(crawl_client, account, job["id"])
        assert job["status"] == "completed", job
        assert job["stop_reason"] == "completed"
        assert (job["pages_indexed"], job["pages_new"], job["pages_failed"]) == (3, 3, 0)
        assert job["pages_discovered"] >= 3 and job["pages_fetched"] >= 3
        assert job["started_at"] and job["finished_at"]
        assert job["pages_unvisited"] == 0
        assert await chatbot_status(crawl_client, account, chatbot_id) == "ready"

        pages = await crawl_client.get(
            f"/v1/crawls/{job['id']}/pages?outcome=indexed", headers=account.headers
        )
        by_url = {item["url"]: item for item in pages.json()["items"]}
        assert set(by_url) == {site.url("/"), site.url("/install"), site.url("/usage")}
        page = await crawl_client.get(
            f"/v1/pages/{by_url[site.url('/install')]['page_id']}", headers=account.headers
        )
        assert page.status_code == 200
        body = page.json()
        assert (body["title"], body["status_code"]) == ("Install", 200)
        assert "# Install" in body["content"] and "pip" in body["content"]
        assert await searchable(crawl_app, chatbot_id, "pip platform") == [site.url("/install")]

        sources = await crawl_client.get(
            f"/v1/chatbots/{chatbot_id}/sources?kind=website", headers=account.headers
        )
        assert [item["url"] for item in sources.json()["items"]] == [site.url("/")]
        crawls = await crawl_client.get(
            f"/v1/chatbots/{chatbot_id}/crawls", headers=account.headers
        )
        assert [item["id"] for item in crawls.json()["items"]] == [job["id"]]

    async def test_events_stream_ends_with_done(
        self,
        crawl_app: Any,
        crawl_client: httpx.AsyncClient,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs_site(site, PAGES)
        job = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()
        events: list[str] = []

        async def follow() -> None:
            async with crawl_client.stream(
                "GET", f"/v1/crawls/{job['id']}/events", headers=account.headers
            ) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                async for line in stream.aiter_lines():
                    if line.startswith(("event:", ":")):
                        events.append(line)

        import asyncio

        follower = asyncio.create_task(follow())
        await run_queued_jobs(crawl_app)
        await asyncio.wait_for(follower, timeout=10)
        assert events[0] == "event: progress"
        assert events[-1] == "event: done"


class TestStartCrawlRefusals:
    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://10.0.0.1/", "private-address"),
            ("http://169.254.169.254/latest", "private-address"),
            ("ftp://x/", "scheme-not-allowed"),
            ("http://user:pw@example.com/", "credentials-in-url"),
        ],
    )
    async def test_unsafe_urls_are_422(
        self,
        crawl_client: httpx.AsyncClient,
        account: Account,
        chatbot_id: str,
        url: str,
        reason: str,
    ) -> None:
        response = await start_crawl(crawl_client, account, chatbot_id, url)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"].endswith("/unsafe-url")
        assert problem["reason"] == reason
        # Only what an operator could allow names the setting that allows it.
        names_setting = "SITECHAT_CRAWL_ALLOWED_HOSTS" in problem["detail"]
        assert names_setting == (reason == "private-address")
        assert await chatbot_status(crawl_client, account, chatbot_id) == "draft"

    @pytest.mark.parametrize(
        "fields", [{"max_pages": 10_001}, {"max_depth": 21}, {"include_paths": ["/x"] * 51}]
    )
    async def test_limits_are_422(
        self, crawl_client: httpx.AsyncClient, account: Account, chatbot_id: str, fields: dict
    ) -> None:
        response = await start_crawl(
            crawl_client, account, chatbot_id, "https://example.com/", **fields
        )
        assert response.status_code == 422, response.text

    async def test_max_pages_above_the_plan_is_402_naming_the_plan_that_allows_it(
        self, crawl_client: httpx.AsyncClient, account: Account, chatbot_id: str
    ) -> None:
        response = await start_crawl(
            crawl_client, account, chatbot_id, "https://example.com/", max_pages=1000
        )

        body = assert_problem(response, 402, "quota-exceeded")
        assert (body["limit"], body["limit_value"]) == ("crawl_max_pages", 500)
        assert (body["plan_id"], body["upgrade_plan_id"]) == ("free", "pro")
        assert body["detail"] == (
            "The Free plan crawls at most 500 pages per crawl; 1000 were asked for. "
            "The Pro plan crawls up to 2000."
        )
        assert [error["loc"] for error in body["errors"]] == [["body", "max_pages"]]
        assert await chatbot_status(crawl_client, account, chatbot_id) == "draft"

    async def test_second_crawl_is_409_naming_the_running_one(
        self, crawl_client: httpx.AsyncClient, account: Account, chatbot_id: str
    ) -> None:
        first = await start_crawl(crawl_client, account, chatbot_id, "https://example.com/")
        second = await start_crawl(crawl_client, account, chatbot_id, "https://example.org/")
        assert second.status_code == 409
        assert second.json()["type"].endswith("/crawl-in-progress")
        assert second.json()["running_crawl_id"] == first.json()["id"]

    async def test_same_idempotency_key_returns_the_same_crawl(
        self, crawl_client: httpx.AsyncClient, account: Account, chatbot_id: str
    ) -> None:
        fields = {"idempotency_key": "deploy-42"}
        first = await start_crawl(
            crawl_client, account, chatbot_id, "https://example.com/", **fields
        )
        again = await start_crawl(
            crawl_client, account, chatbot_id, "https://example.com/", **fields
        )
        assert (first.status_code, again.status_code) == (202, 200)
        assert again.json()["id"] == first.json()["id"]

    async def test_paused_chatbot_cannot_crawl(
        self, crawl_client: httpx.AsyncClient, account: Account, chatbot_id: str
    ) -> None:
        await crawl_client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            json={"kind": "qa", "question": "Q?", "answer": "A."},
            headers=account.headers,
        )
        await crawl_client.patch(
            f"/v1/chatbots/{chatbot_id}", json={"status": "paused"}, headers=account.headers
        )
        response = await start_crawl(crawl_client, account, chatbot_id, "https://example.com/")
        assert response.status_code == 409
        assert (response.json()["from"], response.json()["to"]) == ("paused", "training")


class TestCancelAndRetry:
    async def test_cancel_a_queued_crawl_then_retry_it(
        self,
        crawl_app: Any,
        crawl_client: httpx.AsyncClient,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs_site(site, PAGES)
        job = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()
        cancelled = await crawl_client.post(
            f"/v1/crawls/{job['id']}/cancel", headers=account.headers
        )
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        assert await chatbot_status(crawl_client, account, chatbot_id) == "draft"
        await run_queued_jobs(crawl_app)
        assert site.hits["/"] == 0  # the queued job never ran

        again = await crawl_client.post(f"/v1/crawls/{job['id']}/cancel", headers=account.headers)
        assert again.status_code == 409
        assert again.json()["type"].endswith("/crawl-not-active")
        assert (again.json()["status"], again.json()["crawl_status"]) == (409, "cancelled")

        retried = await crawl_client.post(f"/v1/crawls/{job['id']}/retry", headers=account.headers)
        assert retried.status_code == 202, retried.text
        new_job = retried.json()
        assert new_job["id"] != job["id"] and new_job["start_url"] == job["start_url"]
        await run_queued_jobs(crawl_app)
        assert (await get_crawl(crawl_client, account, new_job["id"]))["status"] == "completed"
        assert await chatbot_status(crawl_client, account, chatbot_id) == "ready"

        finished = await crawl_client.post(
            f"/v1/crawls/{new_job['id']}/retry", headers=account.headers
        )
        assert finished.status_code == 409
        assert finished.json()["type"].endswith("/crawl-not-retryable")
        assert (finished.json()["status"], finished.json()["crawl_status"]) == (409, "completed")


class TestTenancyAndRoles:
    async def test_another_workspace_gets_404_on_every_crawl_route(
        self,
        crawl_app: Any,
        crawl_client: httpx.AsyncClient,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs_site(site, PAGES)
        job = (await start_crawl(crawl_client, account, chatbot_id, site.url("/"))).json()
        await run_queued_jobs(crawl_app)
        pages = await crawl_client.get(f"/v1/crawls/{job['id']}/pages", headers=account.headers)
        page_id = pages.json()["items"][0]["page_id"]

        stranger = await register(crawl_client)
        calls = [
            ("POST", f"/v1/chatbots/{chatbot_id}/crawls", {"url": site.url("/")}),
            ("GET", f"/v1/chatbots/{chatbot_id}/crawls", None),
            ("GET", f"/v1/crawls/{job['id']}", None),
            ("GET", f"/v1/crawls/{job['id']}/pages", None),
            ("GET", f"/v1/crawls/{job['id']}/events", None),
            ("POST", f"/v1/crawls/{job['id']}/cancel", None),
            ("POST", f"/v1/crawls/{job['id']}/retry", None),
            ("GET", f"/v1/pages/{page_id}", None),
            ("GET", f"/v1/crawls/{uuid.uuid4()}", None),
        ]
        for method, url, body in calls:
            response = await crawl_client.request(method, url, json=body, headers=stranger.headers)
            assert response.status_code == 404, (method, url)

    async def test_members_read_crawls_but_cannot_start_or_stop_them(
        self, crawl_client: httpx.AsyncClient, account: Account, chatbot_id: str
    ) -> None:
        job = (await start_crawl(crawl_client, account, chatbot_id, "https://example.com/")).json()
        member = {
            "Authorization": f"Bearer {await create_api_key(crawl_client, account, role='member')}"
        }
        assert (
            await crawl_client.get(f"/v1/crawls/{job['id']}", headers=member)
        ).status_code == 200
        for url in (
            f"/v1/chatbots/{chatbot_id}/crawls",
            f"/v1/crawls/{job['id']}/cancel",
            f"/v1/crawls/{job['id']}/retry",
        ):
            response = await crawl_client.post(
                url, json={"url": "https://example.com/"}, headers=member
            )
            assert response.status_code == 403, url


@contextlib.asynccontextmanager
async def queue_refusing(app: Any, task_name: str) -> AsyncIterator[None]:
    """The job queue's table refuses jobs of `task_name` (a trigger raises) for the block."""
    await crawl_site.sql(
        app,
        "CREATE FUNCTION sitechat_test_refuse_job() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'queue refused the job'; END $$",
    )
    await crawl_site.sql(
        app,
        "CREATE TRIGGER sitechat_test_refuse_job BEFORE INSERT ON procrastinate_jobs "
        f"FOR EACH ROW WHEN (NEW.task_name = '{task_name}') "
        "EXECUTE FUNCTION sitechat_test_refuse_job()",
    )
    try:
        yield
    finally:
        await crawl_site.sql(app, "DROP TRIGGER sitechat_test_refuse_job ON procrastinate_jobs")
        await crawl_site.sql(app, "DROP FUNCTION sitechat_test_refuse_job()")


class TestJobAndDataTogether:
    async def test_a_crawl_whose_job_cannot_be_queued_leaves_nothing_behind(
        self,
        crawl_client: httpx.AsyncClient,
        crawl_app: Any,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
    ) -> None:
        docs_site(site, PAGES)
        async with queue_refusing(crawl_app, "crawling.run"):
            refused = await start_crawl(crawl_client, account, chatbot_id, site.url("/"))

        crawls = await crawl_client.get(
            f"/v1/chatbots/{chatbot_id}/crawls", headers=account.headers
        )
        assert refused.status_code >= 500
        assert refused.headers["content-type"] == "application/problem+json"
        # Neither the crawl nor the chatbot's move to training was committed without its job.
        assert crawls.json()["items"] == []
        assert await chatbot_status(crawl_client, account, chatbot_id) == "draft"
        # And nothing blocks the next start (the one-active-crawl index holds no orphan).
        again = await start_crawl(crawl_client, account, chatbot_id, site.url("/"))
        assert again.status_code == 202, again.text
        await run_queued_jobs(crawl_app)
        assert (await get_crawl(crawl_client, account, again.json()["id"]))["status"] == (
            "completed"
        )
