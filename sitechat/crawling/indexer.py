"""Text becomes searchable here: Markdown -> heading-aware chunks -> `chunks` rows.

Used by the crawl job (one page at a time) and by text / Q&A sources (indexed in the request
that adds them). Each row carries what a citation needs (URL, title, heading path) and its
weighted `tsvector` in the chatbot's language.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.crawling import repository
from sitechat.crawling.chunking import chunk_markdown
from sitechat.crawling.engine import PageResult
from sitechat.crawling.extract import ExtractedPage
from sitechat.models.base import new_id
from sitechat.models.crawling import Chunk, Page, PageOutcome
from sitechat.search.indexing import search_vector

HEADING_SEPARATOR = " > "
# Each row binds ~12 parameters; stay far below PostgreSQL's 32767 per statement.


@dataclass(frozen=True)
class ChunkTarget:
    """Where chunks belong and what they cite."""

    workspace_id: uuid.UUID
    chatbot_id: uuid.UUID
    source_id: uuid.UUID
    language: str
    title: str
    url: str | None = None
    page_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ChunkText:
    heading: str
    content: str


def chunks_of_markdown(markdown: str) -> list[ChunkText]:
    return [
        ChunkText(HEADING_SEPARATOR.join(chunk.heading_path), chunk.text)
        for chunk in chunk_markdown(markdown)
        if chunk.text.strip()
    ]


_CHUNK_COLUMNS = (
    "id", "workspace_id", "chatbot_id", "source_id", "page_id", "position", "url", "title",
    "heading", "content", "language",
)  # fmt: skip
# One statement, compiled once, run with every page's rows: building a separate SQL expression
# per chunk cost more CPU than extracting the page (bench/crawl).
_INSERT_CHUNK = insert(Chunk).values(
    **{name: bindparam(f"v_{name}") for name in _CHUNK_COLUMNS},
    search_vector=search_vector(
        bindparam("v_language"),
        bindparam("v_title"),
        bindparam("v_heading"),
        bindparam("v_content"),
    ),
)


async def insert_chunks(session: AsyncSession, target: ChunkTarget, texts: list[ChunkText]) -> int:
    rows: list[dict[str, Any]] = [
        {
            "v_id": new_id(),
            "v_workspace_id": target.workspace_id,
            "v_chatbot_id": target.chatbot_id,
            "v_source_id": target.source_id,
            "v_page_id": target.page_id,
            "v_position": position,
            "v_url": target.url,
            "v_title": target.title,
            "v_heading": text.heading[:1000],
            "v_content": text.content,
            "v_language": target.language,
        }
        for position, text in enumerate(texts)
    ]
    if rows:
        await session.execute(_INSERT_CHUNK, rows)
    return len(rows)


async def index_markdown(session: AsyncSession, target: ChunkTarget, markdown: str) -> int:
    """Chunk `markdown` and insert the rows; returns how many chunks were written."""
    return await insert_chunks(session, target, chunks_of_markdown(markdown))


async def index_question_answer(
    session: AsyncSession, target: ChunkTarget, question: str, answer: str
) -> int:
    """One chunk: the question is the title and heading (it is what visitors ask), the answer
    the content."""
    return await insert_chunks(session, target, [ChunkText(f"Q: {question}", answer)])


async def delete_page_chunks(session: AsyncSession, page_id: uuid.UUID) -> None:
    await session.execute(delete(Chunk).where(Chunk.page_id == page_id))


# -- one crawled page --------------------------------------------------------------------------


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
    if result.status == "indexed" and result.page is not None:
        existing = await repository.find_page_for_update(session, crawl.source_id, result.url)
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
            "links": list(result.page.links) if result.page else [],
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
    if result.page is not None and outcome in (PageOutcome.indexed, PageOutcome.unchanged):
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


async def _write_page(
    session: AsyncSession,
    crawl: CrawlTarget,
    result: PageResult,
    extracted: ExtractedPage,
    existing: Page | None,
    now: datetime,
) -> Page:
    page = existing or Page(
        id=new_id(),
        workspace_id=crawl.workspace_id,
        chatbot_id=crawl.chatbot_id,
        source_id=crawl.source_id,
        url=result.url,
    )
    content_changed = page.content_hash != extracted.content_hash if existing else True
    page.crawl_job_id = crawl.job_id
    page.title = extracted.title[:1000]
    page.status_code = result.http_status
    page.content_type = result.content_type[:200] if result.content_type else None
    page.bytes = result.bytes
    page.language = extracted.language[:32] if extracted.language else None
    page.content = extracted.markdown
    page.content_hash = extracted.content_hash
    page.fetched_at = now
    if existing is None:
        session.add(page)
    await session.flush()
    if content_changed:
        if existing is not None:
            await delete_page_chunks(session, page.id)
        target = ChunkTarget(
            workspace_id=crawl.workspace_id,
            chatbot_id=crawl.chatbot_id,
            source_id=crawl.source_id,
            language=crawl.language,
            title=page.title,
            url=page.url,
            page_id=page.id,
        )
        await index_markdown(session, target, extracted.markdown)
    return page
