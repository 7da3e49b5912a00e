"""A worker killed mid-crawl: the crawl finishes on another worker and stores nothing twice."""

from __future__ import annotations

import signal
import time
import uuid
from typing import Any

import httpx

from sitechat.core.db import libpq_url
from sitechat.ops.tasks import retry_stalled_jobs
from sitechat.worker.queue import connected_queue
from tests.crawling.conftest import LocalSite
from tests.faults.conftest import (
    Processes,
    base_env,
    eventually,
    fetch_rows,
    pages_site,
    set_page_delay,
)
from tests.fixtures.accounts import register

SITE_PAGES = 40
SLOW_PAGE_SECONDS = 0.1
# The killed worker's last heartbeat must be older than this before its job counts as stalled.
STALLED_AFTER_SECONDS = 1.0


async def _crawl(http: httpx.AsyncClient, headers: dict[str, str], crawl_id: str) -> Any:
    response = await http.get(f"/v1/crawls/{crawl_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_killed_worker_crawl_completes_once_after_recovery(
    processes: Processes, site: LocalSite, database_url: str
) -> None:
    """SIGKILL the only worker while a crawl is half done, start another, and re-queue the
    stalled job (what the periodic `ops.retry_stalled_jobs` does every minute). Must hold: the
    crawl ends `completed` on its second attempt; every URL has exactly one `pages` row and one
    `crawl_pages` row; the crawl's counts equal the rows stored; the first worker's pages were
    not fetched again."""
    paths = pages_site(site, SITE_PAGES, delay_seconds=SLOW_PAGE_SECONDS)
    # One fetch at a time makes the crawl last a few seconds: long enough to kill it midway.
    env = base_env(database_url, SITECHAT_CRAWL_PER_HOST_CONCURRENCY="1")
    api = processes.api(env)
    first_worker = processes.worker(env)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as http:
        account = await register(http)
        chatbot = await http.post("/v1/chatbots", json={"name": "Docs"}, headers=account.headers)
        chatbot_id = chatbot.json()["id"]
        started = await http.post(
            f"/v1/chatbots/{chatbot_id}/crawls",
            json={"url": site.url("/"), "use_sitemap": False},
            headers=account.headers,
        )
        assert started.status_code == 202, started.text
        crawl_id = started.json()["id"]

        async def some_pages_indexed() -> Any:
            crawl = await _crawl(http, account.headers, crawl_id)
            return crawl if crawl["pages_indexed"] >= 5 else None

        await eventually(some_pages_indexed, seconds=20, what="the crawl indexing pages")
        first_worker.signal(signal.SIGKILL)
        first_worker.wait(timeout=5)
        killed_at = time.monotonic()
        indexed_before_kill = await fetch_rows(
            database_url,
            "SELECT url FROM crawl_pages WHERE crawl_job_id = $1",
            uuid.UUID(crawl_id),
        )
        assert 0 < len(indexed_before_kill) < len(paths), "the kill must land mid-crawl"
        hits_before_kill = {path: site.hits[path] for path in paths}

        set_page_delay(site, 0)
        processes.worker(env)
        async with connected_queue(libpq_url(database_url)):

            async def stalled_job_requeued() -> int:
                return await retry_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS)

            assert await eventually(stalled_job_requeued, seconds=15, what="a stalled job") == 1
        assert time.monotonic() - killed_at < 20

        async def crawl_finished() -> Any:
            crawl = await _crawl(http, account.headers, crawl_id)
            return crawl if crawl["status"] not in ("queued", "running") else None

        crawl = await eventually(crawl_finished, seconds=20, what="the crawl to finish")

    assert crawl["status"] == "completed", crawl
    assert crawl["attempts"] == 2
    job_id = uuid.UUID(crawl_id)
    duplicate_crawl_pages = await fetch_rows(
        database_url,
        "SELECT url, count(*) FROM crawl_pages WHERE crawl_job_id = $1 "
        "GROUP BY url HAVING count(*) > 1",
        job_id,
    )
    duplicate_pages = await fetch_rows(
        database_url,
        "SELECT url, count(*) FROM pages WHERE chatbot_id = $1 GROUP BY url HAVING count(*) > 1",
        uuid.UUID(chatbot_id),
    )
    assert duplicate_crawl_pages == []
    assert duplicate_pages == []
    stored = await fetch_rows(
        database_url,
        "SELECT (SELECT count(*) FROM crawl_pages WHERE crawl_job_id = $1 "
        "AND outcome = 'indexed') AS indexed, "
        "(SELECT count(*) FROM pages WHERE crawl_job_id = $1) AS pages",
        job_id,
    )
    assert stored[0]["indexed"] == stored[0]["pages"] == len(paths)
    assert crawl["pages_indexed"] == crawl["pages_new"] == len(paths)
    assert crawl["pages_failed"] == 0
    # Pages the first worker had stored were not fetched again by the second.
    refetched = [
        row["url"]
        for row in indexed_before_kill
        if site.hits[row["url"].removeprefix(site.origin)]
        > hits_before_kill[row["url"].removeprefix(site.origin)]
    ]
    assert refetched == []
