"""One crawled page's outcome: the `crawl_pages` row, the page itself, the job's counters.

The page and its chunks are written by `sitechat.knowledge.writer`; this module adds what only a
crawl knows (the outcome of each URL, the counters the progress stream reads).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.crawling import repository
from sitechat.crawling.engine import PageResult
from sitechat.crawling.extract import ExtractedPage
from sitechat.knowledge import repository as knowledge_repository
from sitechat.knowledge.writer import PageContent, PageTarget, write_page
from sitechat.models.base import new_id
from sitechat.models.crawling import PageOutcome
from sitechat.models.knowledge import Page


@dataclass(frozen=True)
class CrawlTarget:
    """The crawl a page result belongs to."""

    job_id: uuid.UUID
    workspace_id: uuid.UUID
    chatbot_id: uuid.UUID
    source_id: uuid.UUID
    language: str


async def store_page_result(
    session: AsyncSession, crawl: CrawlTarget, result: PageResult, now: datetime
) -> PageOutcome | None:
    """Record one URL's outcome, keep the page's chunks in step, bump the job's counters.

    A page whose content hash did not change keeps its chunks (`unchanged`). Returns the
    outcome, or None when this job had already recorded the URL (a replayed result).
    """
    existing: Page | None = None
    outcome = PageOutcome.skipped if result.status == "skipped" else PageOutcome.failed
    if result.status == "unchanged":
        existing = await knowledge_repository.find_page_for_update(
            session, crawl.source_id, result.url
        )
        outcome = PageOutcome.unchanged if existing is not None else PageOutcome.failed
    elif result.status == "indexed" and result.page is not None:
        existing = await knowledge_repository.find_page_for_update(
            session, crawl.source_id, result.url
        )
        same = existing is not None and existing.content_hash == result.page.content_hash
        outcome = PageOutcome.unchanged if same else PageOutcome.indexed
    crawl_page_id = await repository.insert_crawl_page(
        session,
        {
            "id": new_id(),
            "crawl_job_id": crawl.job_id,
            "workspace_id": crawl.workspace_id,
            "url": result.url,
            "outcome": outcome,
            "reason": result.reason[:200] if result.reason else None,
            "title": result.page.title[:1000] if result.page else None,
            "status_code": result.http_status,
            "bytes": result.bytes,
            "depth": result.depth,
            "links": _links_of(result, existing),
            "created_at": now,
        },
    )
    if crawl_page_id is None:
        return None
    counters = {
        "pages_fetched": 1 if result.http_status is not None else 0,
        "bytes_fetched": result.bytes,
        "pages_skipped": 1 if outcome is PageOutcome.skipped else 0,
        "pages_failed": 1 if outcome is PageOutcome.failed else 0,
    }
    if result.status == "unchanged" and existing is not None:
        # A 304: the page is current; nothing is written or re-indexed, nor counted.
        await repository.link_crawl_page(session, crawl_page_id, existing.id)
        counters["pages_unchanged"] = 1
    elif result.page is not None and outcome in (PageOutcome.indexed, PageOutcome.unchanged):
        page = await _write_page(session, crawl, result, result.page, existing, now)
        await repository.link_crawl_page(session, crawl_page_id, page.id)
        counters["pages_indexed"] = 1
        if outcome is PageOutcome.unchanged:
            counters["pages_unchanged"] = 1
        elif existing is not None:
            counters["pages_changed"] = 1
        else:
            counters["pages_new"] = 1
    await repository.bump_counters(session, crawl.job_id, counters)
    return outcome


def _links_of(result: PageResult, existing: Page | None) -> list[str]:
    if result.page is not None:
        return list(result.page.links)
    # A 304 has no body: its stored links, so a resumed job continues from them.
    return list(existing.links or ()) if existing is not None else []


async def _write_page(
    session: AsyncSession,
    crawl: CrawlTarget,
    result: PageResult,
    extracted: ExtractedPage,
    existing: Page | None,
    now: datetime,
) -> Page:
    target = PageTarget(
        workspace_id=crawl.workspace_id,
        chatbot_id=crawl.chatbot_id,
        source_id=crawl.source_id,
        language=crawl.language,
        crawl_job_id=crawl.job_id,
    )
    content = PageContent(
        url=result.url,
        title=extracted.title,
        markdown=extracted.markdown,
        content_hash=extracted.content_hash,
        language=extracted.language,
        status_code=result.http_status,
        content_type=result.content_type,
        bytes=result.bytes,
        etag=result.etag,
        last_modified=result.last_modified,
        links=extracted.links,
    )
    return await write_page(session, target, content, existing, now)
