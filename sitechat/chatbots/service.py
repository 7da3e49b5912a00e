"""Chatbot and source rules: tenancy, lifecycle, and indexing text / Q&A at once."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.auth.caller import Caller
from sitechat.billing.plans import PlanCatalog
from sitechat.billing.usage import ensure_quota, settle_crawl_pages
from sitechat.chatbots import repository
from sitechat.chatbots.errors import CrawlInProgress
from sitechat.chatbots.lifecycle import Actor, transition
from sitechat.chatbots.schemas import (
    CONTENT_PREVIEW_CHARS,
    ChatbotCreate,
    ChatbotRead,
    ChatbotUpdate,
    IndexingRead,
    QaSourceCreate,
    SourceRead,
    TextSourceCreate,
)
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound
from sitechat.core.pagination import decode_cursor, next_cursor_of
from sitechat.knowledge.dense import DenseRetrieval, embed_source_now, indexing_progress
from sitechat.knowledge.tasks import request_embedding
from sitechat.knowledge.writer import (
    ChunkTarget,
    delete_source_chunks,
    index_markdown,
    index_question_answer,
)
from sitechat.models.chatbots import Chatbot, ChatbotStatus, Source, SourceKind, SourceStatus
from sitechat.worker.buffer import JobBuffer

log = structlog.get_logger()


async def create_chatbot(
    session: AsyncSession, plans: PlanCatalog, caller: Caller, data: ChatbotCreate
) -> Chatbot:
    await ensure_quota(session, plans, caller.workspace_id, "chatbots")
    fields = data.model_dump()
    chatbot = Chatbot(workspace_id=caller.workspace_id, status=ChatbotStatus.draft, **fields)
    session.add(chatbot)
    await session.flush()
    log.info("chatbot.created", chatbot_id=str(chatbot.id), workspace_id=str(caller.workspace_id))
    return chatbot


async def get_chatbot(
    session: AsyncSession, caller: Caller, chatbot_id: uuid.UUID, *, for_update: bool = False
) -> Chatbot:
    chatbot = await repository.get_chatbot(
        session, caller.workspace_id, chatbot_id, for_update=for_update
    )
    if chatbot is None:
        raise NotFound("Chatbot")
    return chatbot


async def read_chatbot(
    session: AsyncSession, caller: Caller, chatbot_id: uuid.UUID, dense: DenseRetrieval | None
) -> ChatbotRead:
    """The chatbot as the API shows it; read-only (use `get_chatbot` to change it). Its
    indexing progress counts vectors of `dense`'s model."""
    row = await repository.read_chatbot(session, caller.workspace_id, chatbot_id)
    if row is None:
        raise NotFound("Chatbot")
    chatbot = ChatbotRead.model_validate(row)
    progress = indexing_progress(
        dense, row["chunk_count"] or 0, row["embedded_chunks"], row["embedding_model"]
    )
    chatbot.indexing = IndexingRead(
        chunks=progress.chunks, embedded=progress.embedded, state=progress.state
    )
    return chatbot


async def list_chatbots(
    session: AsyncSession,
    caller: Caller,
    *,
    status: ChatbotStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Chatbot], str | None]:
    rows = await repository.list_chatbots(
        session, caller.workspace_id, status=status, before_id=decode_cursor(cursor), limit=limit
    )
    return rows[:limit], next_cursor_of([row.id for row in rows], limit)


async def update_chatbot(
    session: AsyncSession, caller: Caller, chatbot_id: uuid.UUID, data: ChatbotUpdate
) -> Chatbot:
    chatbot = await get_chatbot(session, caller, chatbot_id, for_update=True)
    changes = data.model_dump(exclude_unset=True)
    target_status = changes.pop("status", None)
    if target_status is not None:
        transition(chatbot, ChatbotStatus(target_status), Actor.user)
        if chatbot.status is ChatbotStatus.archived:
            await _stop_active_crawl(session, chatbot.id)
    theme_changes = changes.pop("theme", None)
    if theme_changes is not None:
        # Only the theme fields sent change (a new dict, so the JSONB column is written).
        chatbot.theme = {**chatbot.theme, **theme_changes}
    for name, value in changes.items():
        setattr(chatbot, name, value)
    await session.flush()
    return chatbot


async def _stop_active_crawl(session: AsyncSession, chatbot_id: uuid.UUID) -> None:
    """Archiving a chatbot asks its crawl, if any, to stop (the job notices within seconds)."""
    active = await repository.find_active_crawl(session, chatbot_id)
    if active is not None and active.cancel_requested_at is None:
        active.cancel_requested_at = utcnow()


async def delete_chatbot(session: AsyncSession, caller: Caller, chatbot_id: uuid.UUID) -> None:
    chatbot = await get_chatbot(session, caller, chatbot_id, for_update=True)
    active = await repository.find_active_crawl(session, chatbot.id)
    if active is not None:
        # A running crawl finds its job gone and stops; a queued one must not start at all.
        await repository.cancel_queued_crawl(session, active.id)
        # Its pages so far stay used this period (usage events outlive the chatbot); the
        # rest of its reservation goes back.
        await settle_crawl_pages(session, active)
    await repository.delete_chatbot(session, chatbot)
    log.info("chatbot.deleted", chatbot_id=str(chatbot_id), workspace_id=str(caller.workspace_id))


# -- sources -----------------------------------------------------------------------------------


async def list_sources(
    session: AsyncSession,
    caller: Caller,
    chatbot_id: uuid.UUID,
    *,
    kind: SourceKind | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[SourceRead], str | None]:
    await get_chatbot(session, caller, chatbot_id)
    rows = await repository.list_sources(
        session,
        caller.workspace_id,
        chatbot_id,
        kind=kind,
        before_id=decode_cursor(cursor),
        limit=limit,
        preview_chars=CONTENT_PREVIEW_CHARS,
    )
    items = [SourceRead.of(source, preview, chars) for source, preview, chars in rows[:limit]]
    return items, next_cursor_of([source.id for source, _, _ in rows], limit)


async def add_source(
    session: AsyncSession,
    jobs: JobBuffer,
    dense: DenseRetrieval | None,
    caller: Caller,
    chatbot_id: uuid.UUID,
    data: TextSourceCreate | QaSourceCreate,
) -> SourceRead:
    """Store a text or Q&A source and index it in this same transaction: it is searchable as
    soon as the request returns, and a draft chatbot becomes ready."""
    chatbot = await get_chatbot(session, caller, chatbot_id, for_update=True)
    if isinstance(data, TextSourceCreate):
        source = Source(
            workspace_id=chatbot.workspace_id,
            chatbot_id=chatbot.id,
            kind=SourceKind.text,
            title=data.title,
            content=data.content,
            status=SourceStatus.ready,
        )
    else:
        source = Source(
            workspace_id=chatbot.workspace_id,
            chatbot_id=chatbot.id,
            kind=SourceKind.qa,
            title=data.question[:500],
            question=data.question,
            content=data.answer,
            status=SourceStatus.ready,
        )
    session.add(source)
    await session.flush()
    chunk_count = await _index_text_or_qa(session, jobs, dense, chatbot, source)
    if chunk_count and chatbot.status in (ChatbotStatus.draft, ChatbotStatus.training):
        transition(chatbot, ChatbotStatus.ready, Actor.system)
    await session.flush()
    content = source.content or ""
    return SourceRead.of(source, content[:CONTENT_PREVIEW_CHARS], len(content))


async def edit_text_or_qa(
    session: AsyncSession,
    jobs: JobBuffer,
    dense: DenseRetrieval | None,
    caller: Caller,
    source: Source,
    changes: Mapping[str, str],
) -> None:
    """Change a text source's title or content, or a Q&A source's question or answer, and
    index it again in this transaction: once the request returns, answers quote the new text
    and never the old."""
    chatbot = await get_chatbot(session, caller, source.chatbot_id)
    if source.kind is SourceKind.text:
        source.title = changes.get("title", source.title)
        source.content = changes.get("content", source.content)
    else:
        source.question = changes.get("question", source.question)
        source.title = (source.question or "")[:500]
        source.content = changes.get("answer", source.content)
    await delete_source_chunks(session, source.id)
    await _index_text_or_qa(session, jobs, dense, chatbot, source)
    await session.flush()


async def _index_text_or_qa(
    session: AsyncSession,
    jobs: JobBuffer,
    dense: DenseRetrieval | None,
    chatbot: Chatbot,
    source: Source,
) -> int:
    target = ChunkTarget(
        workspace_id=chatbot.workspace_id,
        chatbot_id=chatbot.id,
        source_id=source.id,
        language=chatbot.language,
        title=source.title if source.question is None else source.question,
    )
    if source.kind is SourceKind.text:
        chunk_count = await index_markdown(session, target, source.content or "", notes=True)
    else:
        chunk_count = await index_question_answer(
            session, target, source.question or "", source.content or ""
        )
    # Vectors for a small source at once; else by the embedding job, after the commit.
    if (
        chunk_count
        and dense is not None
        and not await embed_source_now(session, dense, chatbot, source.id)
    ):
        request_embedding(jobs, dense, chatbot.id)
    log.info(
        "chatbot.source_indexed",
        chatbot_id=str(chatbot.id),
        source_id=str(source.id),
        kind=source.kind.value,
        chunks=chunk_count,
    )
    return chunk_count


async def delete_source(
    session: AsyncSession, caller: Caller, chatbot_id: uuid.UUID, source_id: uuid.UUID
) -> None:
    """Remove a source with its pages and chunks, in this transaction: once the request
    returns, answers no longer find it."""
    source = await repository.get_source(session, caller.workspace_id, chatbot_id, source_id)
    if source is None:
        raise NotFound("Source")
    if source.kind is SourceKind.website:
        active = await repository.find_active_crawl(session, chatbot_id)
        if active is not None and active.source_id == source.id:
            raise CrawlInProgress(active.id)
    await repository.delete_source(session, source)
    log.info("chatbot.source_deleted", chatbot_id=str(chatbot_id), source_id=str(source_id))
