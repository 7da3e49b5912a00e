"""A finished crawl asks for its pages' vectors: crawl, then every chunk is embedded; a re-crawl
embeds only the text that changed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sitechat.knowledge.dense import DenseRetrieval
from tests.conftest import run_queued_jobs
from tests.crawling import site as crawl_site
from tests.crawling.conftest import LocalSite, html_page
from tests.crawling.site import docs_site, get_crawl, sql, start_crawl
from tests.fixtures.accounts import Account
from tests.knowledge.conftest import EmbeddingsServer

crawl_app_fixture = crawl_site.crawl_app_fixture
crawl_client_fixture = crawl_site.crawl_client_fixture
account_fixture = crawl_site.account_fixture
chatbot_id_fixture = crawl_site.chatbot_id_fixture
target_app_fixture = crawl_site.target_app_fixture


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

        await run_queued_jobs(crawl_app)  # the crawl, then the embedding job it queued

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


INSTALL = "Install the agent with the package manager of your system."
USAGE_BEFORE = "Start the agent from the command line and leave it running."
USAGE_AFTER = "Start the agent as a service so that it survives a reboot."
FAQ = "Ask the support team through the form on the contact page."


def _guide_site(site: LocalSite, usage: str) -> None:
    intro = "<p>Start here to learn how the agent is installed, used and supported.</p>"
    links = "<ul><li><a href='/guide'>Guide</a></li><li><a href='/faq'>FAQ</a></li></ul>"
    site.page("/", html_page("Home", f"<h1>Welcome</h1>{intro}{links}"))
    site.page(
        "/guide",
        html_page(
            "Guide",
            f"<h1>Guide</h1><h2>Install</h2><p>{INSTALL}</p><h2>Usage</h2><p>{usage}</p>",
        ),
    )
    site.page("/faq", html_page("FAQ", f"<h1>FAQ</h1><h2>Support</h2><p>{FAQ}</p>"))


async def _vectors(crawl_app: Any, chatbot_id: str) -> dict[str, tuple[uuid.UUID, Any]]:
    """Each chunk's text -> (chunk id, when its vector was computed)."""
    rows = await sql(
        crawl_app,
        "SELECT c.content, c.id, e.created_at FROM chunks c "
        "JOIN chunk_embeddings e ON e.chunk_id = c.id WHERE c.chatbot_id = :id",
        id=uuid.UUID(chatbot_id),
    )
    return {content: (chunk_id, created_at) for content, chunk_id, created_at in rows}


class TestRecrawl:
    async def test_embeds_only_the_chunks_whose_text_changed(
        self,
        crawl_app: Any,
        crawl_client: httpx.AsyncClient,
        account: Account,
        chatbot_id: str,
        site: LocalSite,
        dense_on: DenseRetrieval,
        embeddings_server: EmbeddingsServer,
    ) -> None:
        _guide_site(site, USAGE_BEFORE)
        await start_crawl(crawl_client, account, chatbot_id, site.url("/"), use_sitemap=False)
        await run_queued_jobs(crawl_app)
        before = await _vectors(crawl_app, chatbot_id)
        assert {INSTALL, USAGE_BEFORE, FAQ} <= before.keys()

        _guide_site(site, USAGE_AFTER)  # one section of one page changes
        embeddings_server.reset()
        second = await start_crawl(
            crawl_client, account, chatbot_id, site.url("/"), use_sitemap=False
        )
        await run_queued_jobs(crawl_app)

        job = await get_crawl(crawl_client, account, second.json()["id"])
        assert (job["pages_changed"], job["pages_unchanged"]) == (1, 2)
        embedded_again = [text for batch in embeddings_server.batches for text in batch]
        assert len(embedded_again) == 1 and USAGE_AFTER in embedded_again[0]
        after = await _vectors(crawl_app, chatbot_id)
        assert USAGE_BEFORE not in after and USAGE_AFTER in after
        assert after[FAQ] == before[FAQ]  # unchanged page: same chunk, same vector
        # The changed page's untouched section is a new chunk that kept its vector.
        assert after[INSTALL][0] != before[INSTALL][0]
        assert after[INSTALL][1] == before[INSTALL][1]
