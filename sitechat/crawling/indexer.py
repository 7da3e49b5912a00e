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
from sitechat.crawling.engine import BROWSER_UNAVAILABLE, NEEDS_BROWSER, PageResult
from sitechat.crawling.extract import ExtractedPage
from sitechat.knowledge import repository as knowledge_repository
from sitechat.knowledge.dense import DenseRetrieval
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
    session: AsyncSession,
    crawl: CrawlTarget,
    result: PageResult,
    now: datetime,
    dense: DenseRetrieval | None,
) -> PageOutcome | None:
    """Record one URL's outcome, keep the page's chunks in step, bump the job's counters.

    A page whose content hash did not change keeps its chunks (`unchanged`). Returns the
    outcome, or None when this job had already recorded the URL (a replayed result). 304s
    (`unchanged` results) are recorded in batches by `store_unchanged_results` instead.
    """
    existing: Page | None = None
    outcome = PageOutcome.skipped if result.status == "skipped" else PageOutcome.failed
    if result.status == "indexed" and result.page is not None:
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
            **_validators_of(result),
            "rendered": result.rendered,
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
        "pages_rendered": 1 if result.rendered else 0,
        "pages_needing_browser": 1 if result.reason in (NEEDS_BROWSER, BROWSER_UNAVAILABLE) else 0,
    }
    if result.page is not None and outcome in (PageOutcome.indexed, PageOutcome.unchanged):
        page = await _write_page(session, crawl, result, result.page, existing, now, dense)
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


async def store_unchanged_results(
    session: AsyncSession, crawl: CrawlTarget, results: list[PageResult], now: datetime
) -> int:
    """Record pages answered 304 in a few statements for all of them: the page is current, so
    nothing is written or re-indexed, nor counted against the plan. Returns how many were
    recorded (a replayed result is not)."""
    page_ids = await knowledge_repository.page_ids_by_url(
        session, crawl.source_id, [result.url for result in results]
    )
    rows = [
        {
            "id": new_id(),
            "crawl_job_id": crawl.job_id,
            "workspace_id": crawl.workspace_id,
            "page_id": page_ids.get(result.url),
            "url": result.url,
            # The page was removed meanwhile (a replaced source): nothing to keep.
            "outcome": PageOutcome.unchanged if result.url in page_ids else PageOutcome.failed,
            "reason": result.reason if result.url in page_ids else "page-gone",
            "status_code": result.http_status,
            "bytes": 0,
            "depth": result.depth,
            "links": _links_of(result, None),
            **_validators_of(result),
            "created_at": now,
        }
        for result in results
    ]
    inserted = await repository.insert_crawl_pages(session, rows)
    unchanged = sum(1 for row in rows if row["url"] in inserted and row["page_id"] is not None)
    await repository.bump_counters(
        session,
        crawl.job_id,
        {
            "pages_fetched": len(inserted),
            "pages_unchanged": unchanged,
            "pages_failed": len(inserted) - unchanged,
        },
    )
    return len(inserted)


def _links_of(result: PageResult, existing: Page | None) -> list[str]:
    if result.page is not None:
        return list(result.page.links)
    # A 304 has no body: the links stored with the page, so the crawl and a resumed job
    # continue from them.
    if result.known is not None:
        return list(result.known.links)
    return list(existing.links or ()) if existing is not None else []


def _validators_of(result: PageResult) -> dict[str, str | None]:
    """The response's validators (a crawl page's `etag` and `last_modified` columns); a 304
    may omit them, then the ones it confirmed."""
    etag, last_modified = result.etag, result.last_modified
    if result.known is not None:
        etag = etag or result.known.validators.etag
        last_modified = last_modified or result.known.validators.last_modified
    return {
        "etag": etag[:500] if etag else None,
        "last_modified": last_modified[:100] if last_modified else None,
    }


async def _write_page(
    session: AsyncSession,
    crawl: CrawlTarget,
    result: PageResult,
    extracted: ExtractedPage,
    existing: Page | None,
    now: datetime,
    dense: DenseRetrieval | None,
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
    return await write_page(session, target, content, existing, now, dense)
