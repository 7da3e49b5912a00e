"""A finished crawl asks for its pages' vectors: crawl, then every chunk is embedded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sitechat.knowledge.dense import DenseRetrieval
from tests.conftest import run_queued_jobs
from tests.crawling import site as crawl_site
from tests.crawling.conftest import LocalSite
from tests.crawling.site import docs_site, get_crawl, sql, start_crawl
from tests.fixtures.accounts import Account

crawl_app_fixture = crawl_site.crawl_app_fixture
crawl_client_fixture = crawl_site.crawl_client_fixture
account_fixture = crawl_site.account_fixture
chatbot_id_fixture = crawl_site.chatbot_id_fixture


@pytest.fixture
def site() -> Iterator[LocalSite]:
    local_site = LocalSite()
    local_site.start()
    try:
        yield local_site
    finally:
        local_site.stop()


class TestCrawlThenEmbed:
    async def test_every_crawled_chunk_gets_a_vector(
        self,
        crawl_app: Any,
        crawl_client: httpx.AsyncClient,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
        dense_on: DenseRetrieval,
    ) -> None:
        docs_site(site, {"/garage": "Our automobile workshop services engines."})
        job = (
            await start_crawl(crawl_client, account, chatbot_id, site.url("/"), use_sitemap=False)
        ).json()

        await run_queued_jobs()  # the crawl, then the embedding job it queued

        assert (await get_crawl(crawl_client, account, job["id"]))["status"] == "completed"
        counts = await sql(
            crawl_app,
            "SELECT count(c.id), count(e.chunk_id) FROM chunks c "
            "LEFT JOIN chunk_embeddings e ON e.chunk_id = c.id WHERE c.chatbot_id = :id",
            id=uuid.UUID(chatbot_id),
        )
        chunks, embedded = counts[0]
        assert chunks >= 2
        assert embedded == chunks
