"""All SQL of file sources, their runs, and the re-sync scheduler's scan."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.chatbots import Source, SourceKind, SyncSchedule
from sitechat.models.crawling import CrawlJob, CrawlStatus
from sitechat.models.knowledge import Page
from sitechat.models.sources import RunStatus, SourceRun


async def get_source(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Source | None:
    statement = select(Source).where(
        Source.id == source_id,
        Source.chatbot_id == chatbot_id,
        Source.workspace_id == workspace_id,
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def get_source_unscoped(
    session: AsyncSession, source_id: uuid.UUID, *, for_update: bool = False
) -> Source | None:
    """For jobs, which act on the workspace recorded in the row they were given."""
    statement = select(Source).where(Source.id == source_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def count_pages(session: AsyncSession, source_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(Page).where(Page.source_id == source_id)
    return int((await session.execute(statement)).scalar_one())


async def pages_of_source(session: AsyncSession, source_id: uuid.UUID) -> dict[str, Page]:
    """The source's pages by URL, locked: one run of a source writes them at a time."""
    statement = select(Page).where(Page.source_id == source_id).with_for_update()
    return {page.url: page for page in (await session.execute(statement)).scalars()}


async def delete_pages(session: AsyncSession, page_ids: list[uuid.UUID]) -> None:
    if page_ids:  # their chunks go with them (ON DELETE CASCADE)
        await session.execute(delete(Page).where(Page.id.in_(page_ids)))


# -- runs ---------------------------------------------------------------------------------------


async def get_run(
    session: AsyncSession, workspace_id: uuid.UUID, source_id: uuid.UUID, run_id: uuid.UUID
) -> SourceRun | None:
    statement = select(SourceRun).where(
        SourceRun.id == run_id,
        SourceRun.source_id == source_id,
        SourceRun.workspace_id == workspace_id,
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_run_unscoped(
    session: AsyncSession, run_id: uuid.UUID, *, for_update: bool = False
) -> SourceRun | None:
    statement = select(SourceRun).where(SourceRun.id == run_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def list_runs(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    source_id: uuid.UUID,
    *,
    before_id: uuid.UUID | None,
    limit: int,
) -> list[SourceRun]:
    statement = select(SourceRun).where(
        SourceRun.workspace_id == workspace_id, SourceRun.source_id == source_id
    )
    if before_id is not None:
        statement = statement.where(SourceRun.id < before_id)
    statement = statement.order_by(SourceRun.id.desc()).limit(limit + 1)
    return list((await session.execute(statement)).scalars())


async def list_crawls_of_source(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    source_id: uuid.UUID,
    *,
    before_id: uuid.UUID | None,
    limit: int,
) -> list[CrawlJob]:
    statement = select(CrawlJob).where(
        CrawlJob.workspace_id == workspace_id, CrawlJob.source_id == source_id
    )
    if before_id is not None:
        statement = statement.where(CrawlJob.id < before_id)
    statement = statement.order_by(CrawlJob.id.desc()).limit(limit + 1)
    return list((await session.execute(statement)).scalars())


async def has_active_run(session: AsyncSession, source_id: uuid.UUID) -> bool:
    statement = select(
        select(SourceRun.id)
        .where(
            SourceRun.source_id == source_id,
            SourceRun.status.in_((RunStatus.queued, RunStatus.running)),
        )
        .exists()
    )
    return bool((await session.execute(statement)).scalar())


async def crawl_to_repeat(session: AsyncSession, source_id: uuid.UUID) -> CrawlJob | None:
    """The crawl a scheduled re-sync repeats: the source's latest completed crawl, else its
    latest. A failed crawl's settings (include_paths matching no page) would fail again."""
    statement = (
        select(CrawlJob)
        .where(CrawlJob.source_id == source_id)
        .order_by((CrawlJob.status != CrawlStatus.completed), CrawlJob.id.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


# -- the scheduler ------------------------------------------------------------------------------


async def claim_due_sources(session: AsyncSession, now: datetime, limit: int) -> list[Source]:
    """Sources whose re-sync is due, locked; rows another scheduler holds are skipped, so two
    workers running the scan at once never take the same source."""
    statement = (
        select(Source)
        .where(
            Source.next_sync_at.is_not(None),
            Source.next_sync_at <= now,
            Source.sync_schedule != SyncSchedule.off,
            Source.kind.in_((SourceKind.website, SourceKind.file)),
        )
        .order_by(Source.next_sync_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(statement)).scalars())
