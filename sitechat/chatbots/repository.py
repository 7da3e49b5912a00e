"""All SQL about chatbots and their sources. Every read is scoped to the caller's workspace."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from sitechat.core.db import PreparedSelect, fetch_row
from sitechat.models.chatbots import Chatbot, ChatbotStatus, Source, SourceKind
from sitechat.models.crawling import CrawlJob, CrawlStatus
from sitechat.models.knowledge import Chunk, TermStatistic

_CHATBOTS = Chatbot.__table__
_CHUNK_TOTALS = TermStatistic.__table__
# The chatbot and its live chunk count (the term statistics' row for the empty lexeme), in one
# statement: the hottest read stays one round trip.
_CHATBOT_COLUMNS = PreparedSelect.of(
    select(_CHATBOTS, _CHUNK_TOTALS.c.chunks.label("chunk_count"))
    .select_from(
        _CHATBOTS.outerjoin(
            _CHUNK_TOTALS,
            (_CHUNK_TOTALS.c.chatbot_id == _CHATBOTS.c.id)
            & (_CHUNK_TOTALS.c.lexeme == literal_column("''")),
        )
    )
    .where(
        _CHATBOTS.c.id == bindparam("chatbot_id"),
        _CHATBOTS.c.workspace_id == bindparam("workspace_id"),
    )
)


async def get_chatbot(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Chatbot | None:
    """The workspace's chatbot; `for_update` locks its row FOR NO KEY UPDATE, against other
    changes but not against rows referencing it: a file's or a crawl's pages, written in one
    long transaction, hold their foreign keys' FOR KEY SHARE lock on it until they commit, and
    FOR UPDATE would make every change of the chatbot (its settings, a new source) wait."""
    statement = select(Chatbot).where(
        Chatbot.id == chatbot_id, Chatbot.workspace_id == workspace_id
    )
    if for_update:
        statement = statement.with_for_update(key_share=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def read_chatbot(
    session: AsyncSession, workspace_id: uuid.UUID, chatbot_id: uuid.UUID
) -> Mapping[str, Any] | None:
    """The chatbot's columns for a response, without loading an ORM object (the lean path of
    `PreparedSelect`); use `get_chatbot` to change it."""
    return await fetch_row(
        session, _CHATBOT_COLUMNS, chatbot_id=chatbot_id, workspace_id=workspace_id
    )


async def get_chatbot_unscoped(
    session: AsyncSession, chatbot_id: uuid.UUID, *, for_update: bool = False
) -> Chatbot | None:
    """For jobs, which act on the workspace recorded in the row they were given; locked as
    `get_chatbot` locks."""
    statement = select(Chatbot).where(Chatbot.id == chatbot_id)
    if for_update:
        statement = statement.with_for_update(key_share=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def list_unarchived_chatbots(session: AsyncSession, workspace_id: uuid.UUID) -> list[Chatbot]:
    """Every chatbot that can still answer or come back (the OpenAI-compatible model list)."""
    statement = (
        select(Chatbot)
        .where(Chatbot.workspace_id == workspace_id, Chatbot.status != ChatbotStatus.archived)
        .order_by(Chatbot.id.desc())
    )
    return list((await session.execute(statement)).scalars().all())


async def list_chatbots(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    status: ChatbotStatus | None,
    before_id: uuid.UUID | None,
    limit: int,
) -> list[Chatbot]:
    """Newest first; `limit + 1` rows so the caller knows whether another page exists."""
    statement = select(Chatbot).where(Chatbot.workspace_id == workspace_id)
    if status is not None:
        statement = statement.where(Chatbot.status == status)
    if before_id is not None:
        statement = statement.where(Chatbot.id < before_id)
    statement = statement.order_by(Chatbot.id.desc()).limit(limit + 1)
    return list((await session.execute(statement)).scalars())


async def delete_chatbot(session: AsyncSession, chatbot: Chatbot) -> None:
    # Sources, crawls, pages and chunks go with it (ON DELETE CASCADE).
    await session.execute(delete(Chatbot).where(Chatbot.id == chatbot.id))


async def has_chunks(session: AsyncSession, chatbot_id: uuid.UUID) -> bool:
    statement = select(exists().where(Chunk.chatbot_id == chatbot_id))
    return bool((await session.execute(statement)).scalar())


async def get_source(
    session: AsyncSession, workspace_id: uuid.UUID, chatbot_id: uuid.UUID, source_id: uuid.UUID
) -> Source | None:
    statement = select(Source).where(
        Source.id == source_id,
        Source.chatbot_id == chatbot_id,
        Source.workspace_id == workspace_id,
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def list_sources(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    *,
    kind: SourceKind | None,
    before_id: uuid.UUID | None,
    limit: int,
    preview_chars: int,
) -> list[tuple[Source, str | None, int]]:
    """Sources with a preview and the length of their text, not the text itself (a text
    source may hold 200k characters)."""
    statement = (
        select(
            Source,
            func.left(Source.content, preview_chars),
            func.coalesce(func.length(Source.content), 0),
        )
        .options(defer(Source.content))
        .where(Source.workspace_id == workspace_id, Source.chatbot_id == chatbot_id)
    )
    if kind is not None:
        statement = statement.where(Source.kind == kind)
    if before_id is not None:
        statement = statement.where(Source.id < before_id)
    statement = statement.order_by(Source.id.desc()).limit(limit + 1)
    rows = (await session.execute(statement)).all()
    return [(source, preview, int(chars)) for source, preview, chars in rows]


async def find_website_source(
    session: AsyncSession, chatbot_id: uuid.UUID, url: str
) -> Source | None:
    statement = (
        select(Source)
        .where(
            Source.chatbot_id == chatbot_id,
            Source.kind == SourceKind.website,
            Source.url == url,
        )
        .order_by(Source.id)
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def delete_source(session: AsyncSession, source: Source) -> None:
    # Its pages, chunks and crawl jobs go with it (ON DELETE CASCADE), in this transaction.
    await session.execute(delete(Source).where(Source.id == source.id))


# -- the chatbot's crawl (its lifecycle stops or waits for it) -----------------------------


async def find_active_crawl(session: AsyncSession, chatbot_id: uuid.UUID) -> CrawlJob | None:
    """The chatbot's queued or running crawl (at most one, by a unique index)."""
    statement = select(CrawlJob).where(
        CrawlJob.chatbot_id == chatbot_id,
        CrawlJob.status.in_((CrawlStatus.queued, CrawlStatus.running)),
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def cancel_queued_crawl(session: AsyncSession, job_id: uuid.UUID) -> int:
    """Cancel the queue entry of a crawl that never started, in this transaction, through
    procrastinate's own function (best effort: the task also skips finished crawls)."""
    result = await session.execute(
        text(
            "SELECT count(procrastinate_cancel_job_v1(id, false, false)) FROM procrastinate_jobs "
            "WHERE queueing_lock = :lock AND status = 'todo'"
        ),
        {"lock": crawl_queueing_lock(job_id)},
    )
    return int(result.scalar_one())


def crawl_queueing_lock(job_id: uuid.UUID) -> str:
    return f"crawl:{job_id}"
