"""A crawl's pages of the plan's monthly allowance: reserved when it starts (so parallel
starts cannot overshoot it, and a retry is checked like a start), given back when it ends,
and still counted after its chatbot is deleted (issue 13)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.billing import helpers
from tests.conftest import run_queued_jobs
from tests.crawling import site as crawl_site
from tests.crawling.conftest import LocalSite
from tests.crawling.site import docs_site, get_crawl, start_crawl
from tests.fixtures.accounts import Account, assert_problem

crawl_app_fixture = crawl_site.crawl_app_fixture
crawl_client_fixture = crawl_site.crawl_client_fixture
account_fixture = crawl_site.account_fixture
# Free: 10 pages a month, at most 6 per crawl.
small_catalog_fixture = helpers.small_catalog_fixture
target_app_fixture = crawl_site.target_app_fixture


FOUR_PAGES = {
    "/a": "Alpha explains the first thing.",
    "/b": "Beta explains the second one.",
    "/c": "Gamma explains the third thing.",
}


async def new_chatbot(client: httpx.AsyncClient, account: Account) -> str:
    response = await client.post("/v1/chatbots", json={"name": "Docs"}, headers=account.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def pages_used(client: httpx.AsyncClient, account: Account) -> int:
    usage = (await client.get("/v1/billing/usage", headers=account.headers)).json()
    return int(usage["usage"]["pages"])


class TestPlanCrawlCap:
    async def test_max_pages_above_the_plans_cap_is_refused_not_cut(
        self, crawl_client: httpx.AsyncClient, account: Account, site: LocalSite
    ) -> None:
        chatbot = await new_chatbot(crawl_client, account)

        refused = await start_crawl(crawl_client, account, chatbot, site.url("/"), max_pages=7)

        body = assert_problem(refused, 402, "quota-exceeded")
        assert (body["limit"], body["limit_value"], body["plan_id"]) == (
            "crawl_max_pages",
            6,
            "free",
        )
        assert body["upgrade_plan_id"] is None  # no plan of this catalog crawls 7 at a time
        assert "at most 6 pages per crawl" in str(body["detail"])
        assert body["errors"] == [
            {"loc": ["body", "max_pages"], "msg": "at most 6 pages per crawl on the Free plan"}
        ]
        assert await pages_used(crawl_client, account) == 0  # nothing reserved
        crawls = await crawl_client.get(f"/v1/chatbots/{chatbot}/crawls", headers=account.headers)
        assert crawls.json()["items"] == []

        # The cap itself is accepted; with no max_pages the server's default is capped by it.
        capped = await start_crawl(crawl_client, account, chatbot, site.url("/"), max_pages=6)
        assert (capped.status_code, capped.json()["max_pages"]) == (202, 6)

    async def test_the_pages_granted_show_beside_the_pages_asked_for(
        self, crawl_client: httpx.AsyncClient, account: Account, site: LocalSite
    ) -> None:
        first, second = [await new_chatbot(crawl_client, account) for _ in range(2)]
        await start_crawl(crawl_client, account, first, site.url("/"), max_pages=6)

        shrunk = await start_crawl(crawl_client, account, second, site.url("/"), max_pages=6)

        assert shrunk.status_code == 202, shrunk.text
        # 4 pages left of the month's 10: the crawl starts with those, and says so.
        assert (shrunk.json()["requested_pages"], shrunk.json()["max_pages"]) == (6, 4)


class TestCrawlPageReservations:
    async def test_parallel_starts_at_the_edge_reserve_the_allowance_once(
        self, crawl_app: Any, crawl_client: httpx.AsyncClient, account: Account, site: LocalSite
    ) -> None:
        docs_site(site, FOUR_PAGES)  # 4 pages: the home page and three more
        chatbots = [await new_chatbot(crawl_client, account) for _ in range(3)]

        started = await asyncio.gather(
            *(
                start_crawl(crawl_client, account, chatbot, site.url("/"), max_pages=6)
                for chatbot in chatbots
            )
        )

        # 10 pages a month, 6 asked by each: 6, then the 4 left, then nothing.
        accepted = [response.json() for response in started if response.status_code == 202]
        refused = [response for response in started if response.status_code != 202]
        assert sorted(job["max_pages"] for job in accepted) == [4, 6]
        assert len(refused) == 1
        body = assert_problem(refused[0], 402, "quota-exceeded")
        assert (body["limit"], body["usage"]) == ("pages_per_month", 10)
        assert await pages_used(crawl_client, account) == 10  # reserved while they run

        await run_queued_jobs(crawl_app)
        indexed = [(await get_crawl(crawl_client, account, job["id"])) for job in accepted]
        assert [job["status"] for job in indexed] == ["completed", "completed"]
        assert sum(job["pages_indexed"] for job in indexed) == 8
        # What the crawls did not use went back: 2 pages are left for the third chatbot.
        assert await pages_used(crawl_client, account) == 8
        third = await start_crawl(crawl_client, account, chatbots[2], site.url("/"), max_pages=6)
        assert third.status_code == 202, third.text
        assert third.json()["max_pages"] == 2

    async def test_a_retry_checks_the_quota(
        self, crawl_client: httpx.AsyncClient, account: Account, site: LocalSite
    ) -> None:
        docs_site(site, FOUR_PAGES)
        first, second, third = [await new_chatbot(crawl_client, account) for _ in range(3)]
        job = (await start_crawl(crawl_client, account, first, site.url("/"), max_pages=6)).json()
        cancelled = await crawl_client.post(
            f"/v1/crawls/{job['id']}/cancel", headers=account.headers
        )
        assert cancelled.status_code == 200
        assert await pages_used(crawl_client, account) == 0  # the cancel gave its pages back
        # The other chatbots take the whole allowance (6 + 4 of 10).
        for chatbot in (second, third):
            taken = await start_crawl(crawl_client, account, chatbot, site.url("/"), max_pages=6)
            assert taken.status_code == 202, taken.text

        retried = await crawl_client.post(f"/v1/crawls/{job['id']}/retry", headers=account.headers)

        assert_problem(retried, 402, "quota-exceeded")
        crawls = await crawl_client.get(f"/v1/chatbots/{first}/crawls", headers=account.headers)
        assert [crawl["status"] for crawl in crawls.json()["items"]] == ["cancelled"]

    async def test_a_retry_asks_for_what_the_crawl_asked_not_what_it_got(
        self, crawl_client: httpx.AsyncClient, account: Account, site: LocalSite
    ) -> None:
        docs_site(site, FOUR_PAGES)
        first, second = [await new_chatbot(crawl_client, account) for _ in range(2)]
        taken = await start_crawl(crawl_client, account, first, site.url("/"), max_pages=6)
        shrunk = await start_crawl(crawl_client, account, second, site.url("/"), max_pages=6)
        assert shrunk.json()["max_pages"] == 4  # 6 asked, 4 left of the month's 10
        for job in (taken.json(), shrunk.json()):
            cancel = await crawl_client.post(
                f"/v1/crawls/{job['id']}/cancel", headers=account.headers
            )
            assert cancel.status_code == 200
        assert await pages_used(crawl_client, account) == 0  # both reservations given back

        retried = await crawl_client.post(
            f"/v1/crawls/{shrunk.json()['id']}/retry", headers=account.headers
        )

        assert retried.status_code == 202, retried.text
        assert retried.json()["max_pages"] == 6  # the 6 it asked for, now that there is room

    async def test_deleting_a_chatbot_keeps_the_months_page_usage(
        self, crawl_app: Any, crawl_client: httpx.AsyncClient, account: Account, site: LocalSite
    ) -> None:
        docs_site(site, FOUR_PAGES)
        chatbot = await new_chatbot(crawl_client, account)
        job = (await start_crawl(crawl_client, account, chatbot, site.url("/"), max_pages=6)).json()
        await run_queued_jobs(crawl_app)
        assert (await get_crawl(crawl_client, account, job["id"]))["pages_indexed"] == 4

        deleted = await crawl_client.delete(f"/v1/chatbots/{chatbot}", headers=account.headers)

        assert deleted.status_code == 204
        assert await pages_used(crawl_client, account) == 4
        again = await new_chatbot(crawl_client, account)
        restarted = await start_crawl(crawl_client, account, again, site.url("/"), max_pages=6)
        assert restarted.json()["max_pages"] == 6
        assert await pages_used(crawl_client, account) == 10
        refused = await start_crawl(crawl_client, account, chatbot, site.url("/"))
        assert refused.status_code == 404  # the deleted one is gone; its usage is not

    async def test_a_crawl_again_of_an_unchanged_site_counts_no_pages(
        self, crawl_app: Any, crawl_client: httpx.AsyncClient, account: Account, site: LocalSite
    ) -> None:
        docs_site(site, FOUR_PAGES)
        chatbot = await new_chatbot(crawl_client, account)
        for _ in range(2):
            job = await start_crawl(crawl_client, account, chatbot, site.url("/"), max_pages=6)
            await run_queued_jobs(crawl_app)
            crawled = await get_crawl(crawl_client, account, job.json()["id"])
            assert crawled["pages_indexed"] == 4

        assert crawled["pages_unchanged"] == 4
        assert await pages_used(crawl_client, account) == 4
