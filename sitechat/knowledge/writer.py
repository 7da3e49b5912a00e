"""Text becomes searchable here: pages and Markdown -> heading-aware chunks -> `chunks` rows.

Everything that adds knowledge writes through this module: the crawl job (one page at a time,
`crawling/indexer.py`), text and Q&A sources (in the request that adds them), and file sources.
Each chunk row carries what a citation needs (URL, title, heading path) and its weighted
`tsvector` in the chatbot's language; vectors are added later by `knowledge.embed_chunks`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.knowledge.chunking import HEADING_SEPARATOR, chunk_markdown
from sitechat.knowledge.dense import DenseRetrieval, keep_vectors_of_unchanged_chunks
from sitechat.knowledge.indexing import search_vector
from sitechat.models.base import new_id
from sitechat.models.knowledge import Chunk, Page

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
    anchor: str | None = None  # the id of the nearest heading the page gives one


def chunks_of_markdown(markdown: str, notes: bool = False) -> list[ChunkText]:
    return [
        ChunkText(HEADING_SEPARATOR.join(chunk.heading_path), chunk.text, chunk.anchor)
        for chunk in chunk_markdown(markdown, notes=notes)
        if chunk.text.strip()
    ]


_CHUNK_COLUMNS = (
    "id", "workspace_id", "chatbot_id", "source_id", "page_id", "position", "url", "title",
    "heading", "content", "language", "anchor",
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
    return len(await _insert_chunk_rows(session, target, texts))


async def _insert_chunk_rows(
    session: AsyncSession, target: ChunkTarget, texts: list[ChunkText]
) -> list[uuid.UUID]:
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
            "v_anchor": text.anchor,
        }
        for position, text in enumerate(texts)
    ]
    if rows:
        await session.execute(_INSERT_CHUNK, rows)
    return [row["v_id"] for row in rows]


async def index_markdown(
    session: AsyncSession, target: ChunkTarget, markdown: str, notes: bool = False
) -> int:
    """Chunk `markdown` (`notes`: a text a customer wrote, its facts under no heading a chunk
    each) and insert the rows; returns how many chunks were written."""
    return await insert_chunks(session, target, chunks_of_markdown(markdown, notes))


async def index_question_answer(
    session: AsyncSession, target: ChunkTarget, question: str, answer: str
) -> int:
    """One chunk: the question is the title and heading (it is what visitors ask), the answer
    the content."""
    return await insert_chunks(session, target, [ChunkText(f"Q: {question}", answer)])


async def delete_page_chunks(session: AsyncSession, page_id: uuid.UUID) -> None:
    await session.execute(delete(Chunk).where(Chunk.page_id == page_id))


async def delete_source_chunks(session: AsyncSession, source_id: uuid.UUID) -> None:
    """Every chunk of a source (a text or Q&A source's, before it is indexed again)."""
    await session.execute(delete(Chunk).where(Chunk.source_id == source_id))


# -- pages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageTarget:
    """The source a page belongs to, and the crawl (if any) that wrote it."""

    workspace_id: uuid.UUID
    chatbot_id: uuid.UUID
    source_id: uuid.UUID
    language: str
    crawl_job_id: uuid.UUID | None = None


@dataclass(frozen=True)
class PageContent:
    """One page's extracted content and how it was fetched."""

    url: str
    title: str
    markdown: str
    content_hash: str
    language: str | None
    status_code: int | None
    content_type: str | None
    bytes: int
    # Conditional-request validators and outgoing links (crawled pages).
    etag: str | None = None
    last_modified: str | None = None
    links: tuple[str, ...] | None = None
    # A file's page: its number (PDF), and what its chunks cite instead of `url` (which is
    # then only the page's key within the source): the file's own URL, or nothing.
    page_number: int | None = None
    link_to_page: bool = True
    citation_url: str | None = None


async def write_page(
    session: AsyncSession,
    target: PageTarget,
    content: PageContent,
    existing: Page | None,
    now: datetime,
    dense: DenseRetrieval | None,
) -> Page:
    """Insert or update the page row; re-chunk it only when its content changed (keeping the
    `dense` model's vectors of chunks whose text did not)."""
    page = existing or Page(
        id=new_id(),
        workspace_id=target.workspace_id,
        chatbot_id=target.chatbot_id,
        source_id=target.source_id,
        url=content.url,
    )
    content_changed = page.content_hash != content.content_hash if existing else True
    page.crawl_job_id = target.crawl_job_id
    page.title = content.title[:1000]
    page.status_code = content.status_code
    page.content_type = content.content_type[:200] if content.content_type else None
    page.bytes = content.bytes
    page.language = content.language[:32] if content.language else None
    page.content = content.markdown
    page.content_hash = content.content_hash
    page.fetched_at = now
    page.etag = content.etag[:500] if content.etag else None
    page.last_modified = content.last_modified[:100] if content.last_modified else None
    page.links = list(content.links) if content.links is not None else None
    page.page_number = content.page_number
    if existing is None:
        session.add(page)
    await session.flush()
    if content_changed:
        chunk_target = ChunkTarget(
            workspace_id=target.workspace_id,
            chatbot_id=target.chatbot_id,
            source_id=target.source_id,
            language=target.language,
            title=page.title,
            url=page.url if content.link_to_page else content.citation_url,
            page_id=page.id,
        )
        if existing is None:
            await index_markdown(session, chunk_target, content.markdown)
        else:
            await _rewrite_page_chunks(session, chunk_target, page.id, content.markdown, dense)
    return page


async def _rewrite_page_chunks(
    session: AsyncSession,
    target: ChunkTarget,
    page_id: uuid.UUID,
    markdown: str,
    dense: DenseRetrieval | None,
) -> None:
    """A changed page's new chunks replace its old ones; a new chunk whose text is exactly an
    old one's keeps that chunk's vector, so a re-crawl embeds only the text that changed."""
    new_ids = await _insert_chunk_rows(session, target, chunks_of_markdown(markdown))
    await keep_vectors_of_unchanged_chunks(session, dense, page_id, new_ids)
    await session.execute(delete(Chunk).where(Chunk.page_id == page_id, Chunk.id.not_in(new_ids)))
