"""Source rules: file uploads and replacements, re-sync schedules, reading sources and runs.

A file is checked in the request (the plan's size cap, its type by content), stored with a
queued run, and parsed by `sources.ingest_file` after the request commits (202). Text and
Q&A sources are still indexed in the request (`chatbots/service.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.auth.caller import Caller
from sitechat.billing.plans import Plan, PlanCatalog
from sitechat.billing.usage import ensure_room, quota_status, workspace_plan
from sitechat.chatbots.schemas import CONTENT_PREVIEW_CHARS
from sitechat.chatbots.service import edit_text_or_qa, get_chatbot
from sitechat.config import CrawlSettings
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound
from sitechat.core.fields import display_file_name
from sitechat.core.pagination import decode_cursor, next_cursor_of
from sitechat.crawling.service import checked_start_url
from sitechat.knowledge.dense import DenseRetrieval
from sitechat.models.chatbots import Source, SourceKind, SourceStatus, SyncSchedule
from sitechat.models.crawling import CrawlJob
from sitechat.models.sources import RunTrigger, SourceRun
from sitechat.sources import repository
from sitechat.sources.errors import (
    FileTooLarge,
    NotAFileSource,
    NotEditable,
    NotSyncable,
    ScheduleNotInPlan,
    SyncInProgress,
    UnsupportedFileType,
)
from sitechat.sources.filetypes import UnsupportedFile, detect_file_type
from sitechat.sources.scheduling import (
    SYNCS_PER_WEEK,
    next_sync_after,
    queue_run,
    schedule_allowed,
)
from sitechat.sources.schemas import (
    FileUrlSourceCreate,
    PageChange,
    RunDetail,
    RunRead,
    SourceDetail,
    SourceUpdate,
)
from sitechat.worker.buffer import JobBuffer

log = structlog.get_logger()

# Reads the uploaded file (its name and bytes) once the request's target is known to exist.
FileReader = Callable[[], Awaitable[tuple[str | None, bytes]]]


def check_upload(plan: Plan, size: int, head: bytes, file_name: str) -> str:
    """413 above the plan's file cap, 415 unless the bytes are a file type we read; returns
    the type."""
    limit = plan.limit("file_max_bytes")
    if size > limit:
        raise FileTooLarge(size, limit, plan.id)
    try:
        return detect_file_type(head, file_name).value
    except UnsupportedFile as error:
        raise UnsupportedFileType(str(error)) from None


async def add_file_source(
    session: AsyncSession,
    jobs: JobBuffer,
    plans: PlanCatalog,
    caller: Caller,
    chatbot_id: uuid.UUID,
    read_file: FileReader,
) -> SourceDetail:
    """Store an uploaded file as a `queued` file source; the job parses and indexes it."""
    chatbot = await get_chatbot(session, caller, chatbot_id, for_update=True)
    file_name, data = await read_file()
    name = display_file_name(file_name)
    # One read of the plan: its file cap (413), then its pages (402 once nothing is left).
    pages = await quota_status(session, plans, caller.workspace_id, "pages")
    file_type = check_upload(pages.plan, len(data), data, name)
    ensure_room(plans, pages)
    source = Source(
        workspace_id=chatbot.workspace_id,
        chatbot_id=chatbot.id,
        kind=SourceKind.file,
        title=name[:500],
        status=SourceStatus.queued,
        file_name=name,
        file_type=file_type,
        file_bytes=len(data),
    )
    session.add(source)
    await session.flush()
    run = await queue_run(session, jobs, source, RunTrigger.upload, utcnow(), name, data)
    return await _detail(session, source, run)


async def add_file_url_source(
    session: AsyncSession,
    jobs: JobBuffer,
    plans: PlanCatalog,
    caller: Caller,
    chatbot_id: uuid.UUID,
    data: FileUrlSourceCreate,
    crawl_settings: CrawlSettings,
) -> SourceDetail:
    """A file fetched from a URL (checked like a crawl's start URL), then on its schedule."""
    chatbot = await get_chatbot(session, caller, chatbot_id, for_update=True)
    url = checked_start_url(data.url, crawl_settings)
    pages = await quota_status(session, plans, caller.workspace_id, "pages")
    _check_schedule(plans, pages.plan, data.sync_schedule)
    ensure_room(plans, pages)
    name = display_file_name(url.split("?", 1)[0])
    now = utcnow()
    source = Source(
        workspace_id=chatbot.workspace_id,
        chatbot_id=chatbot.id,
        kind=SourceKind.file,
        title=(data.title or url)[:500],
        url=url,
        status=SourceStatus.queued,
        file_name=name,
        sync_schedule=data.sync_schedule,
        next_sync_at=next_sync_after(data.sync_schedule, now),
    )
    session.add(source)
    await session.flush()
    run = await queue_run(session, jobs, source, RunTrigger.upload, now, name)
    return await _detail(session, source, run)


async def replace_file(
    session: AsyncSession,
    jobs: JobBuffer,
    plans: PlanCatalog,
    caller: Caller,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
    read_file: FileReader,
) -> SourceDetail:
    """A new version of a file source: only its changed pages are re-indexed."""
    source = await _source(session, caller, chatbot_id, source_id, for_update=True)
    if source.kind is not SourceKind.file or source.url is not None:
        raise NotAFileSource()
    file_name, data = await read_file()
    name = display_file_name(file_name or source.file_name)
    check_upload(await workspace_plan(session, plans, caller.workspace_id), len(data), data, name)
    source.status = SourceStatus.queued
    source.error = None
    # The source keeps the name of the version it answers from until the new one is indexed.
    run = await queue_run(session, jobs, source, RunTrigger.replacement, utcnow(), name, data)
    return await _detail(session, source, run)


async def sync_now(
    session: AsyncSession,
    jobs: JobBuffer,
    caller: Caller,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
) -> SourceDetail:
    """Fetch a file source's URL again now (conditional: a 304 costs nothing)."""
    source = await _source(session, caller, chatbot_id, source_id, for_update=True)
    if source.kind is not SourceKind.file or source.url is None:
        raise NotSyncable()
    if await repository.has_active_run(session, source.id):
        raise SyncInProgress()
    run = await queue_run(session, jobs, source, RunTrigger.manual, utcnow(), source.file_name)
    return await _detail(session, source, run)


# What a PATCH may change on each kind of source (the schedule: `_syncable`).
_CONTENT_FIELDS = {SourceKind.text: {"title", "content"}, SourceKind.qa: {"question", "answer"}}


async def update_source(
    session: AsyncSession,
    jobs: JobBuffer,
    dense: DenseRetrieval | None,
    plans: PlanCatalog,
    caller: Caller,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
    data: SourceUpdate,
) -> SourceDetail:
    """A website's or fetched file's schedule, or a text or Q&A source's content (indexed
    again at once); every change is checked before any is made."""
    source = await _source(session, caller, chatbot_id, source_id, for_update=True)
    changed = data.changed()
    content_fields = changed - {"sync_schedule"}
    if content_fields - _CONTENT_FIELDS.get(source.kind, set()):
        raise NotEditable(source.kind.value, content_fields)
    if "sync_schedule" in changed:
        if not _syncable(source):
            raise NotSyncable()
        assert data.sync_schedule is not None
        plan = await workspace_plan(session, plans, caller.workspace_id)
        _check_schedule(plans, plan, data.sync_schedule)
        if data.sync_schedule is not source.sync_schedule or source.next_sync_at is None:
            source.next_sync_at = next_sync_after(data.sync_schedule, utcnow())
        source.sync_schedule = data.sync_schedule
    if content_fields:
        changes = {name: str(getattr(data, name)) for name in content_fields}
        await edit_text_or_qa(session, jobs, dense, caller, source, changes)
    await session.flush()
    return await _detail(session, source, None)


def _syncable(source: Source) -> bool:
    return source.kind is SourceKind.website or (
        source.kind is SourceKind.file and source.url is not None
    )


def _check_schedule(plans: PlanCatalog, plan: Plan, schedule: SyncSchedule) -> None:
    if not schedule_allowed(plan, schedule):
        upgrade = plans.cheapest_allowing("syncs_per_week", SYNCS_PER_WEEK[schedule])
        raise ScheduleNotInPlan(schedule.value, plan.id, upgrade.id if upgrade else None)


async def _source(
    session: AsyncSession,
    caller: Caller,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Source:
    source = await repository.get_source(
        session, caller.workspace_id, chatbot_id, source_id, for_update=for_update
    )
    if source is None:
        raise NotFound("Source")
    return source


async def read_source(
    session: AsyncSession, caller: Caller, chatbot_id: uuid.UUID, source_id: uuid.UUID
) -> SourceDetail:
    source = await _source(session, caller, chatbot_id, source_id)
    runs, _ = await _runs_of(session, source, before=None, limit=1)
    return await _detail(session, source, runs[0] if runs else None)


async def _detail(
    session: AsyncSession, source: Source, run: SourceRun | RunRead | None
) -> SourceDetail:
    content = source.content
    return SourceDetail.of(
        source,
        content[:CONTENT_PREVIEW_CHARS] if content is not None else None,
        len(content or ""),
        file_type=source.file_type,
        file_bytes=source.file_bytes,
        next_sync_at=source.next_sync_at,
        last_synced_at=source.last_synced_at,
        pages=await repository.count_pages(session, source.id),
        last_run=run if isinstance(run, RunRead) or run is None else file_run_read(run),
    )


# -- runs ---------------------------------------------------------------------------------------


def file_run_read(run: SourceRun) -> RunRead:
    return RunRead(
        id=run.id,
        kind="file",
        trigger=run.trigger.value,
        status=run.status.value,
        error=run.error,
        file_name=run.file_name,
        http_requests=run.http_requests,
        pages_new=run.pages_new,
        pages_changed=run.pages_changed,
        pages_unchanged=run.pages_unchanged,
        pages_removed=run.pages_removed,
        pages_indexed=run.pages_indexed,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def crawl_run_read(job: CrawlJob) -> RunRead:
    return RunRead(
        id=job.id,
        kind="crawl",
        trigger=job.trigger.value,
        status=job.status.value,
        error=job.error,
        http_requests=job.pages_fetched,
        pages_new=job.pages_new,
        pages_changed=job.pages_changed,
        pages_unchanged=job.pages_unchanged,
        pages_removed=job.pages_removed,
        pages_indexed=job.pages_indexed,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


async def list_runs(
    session: AsyncSession,
    caller: Caller,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[RunRead], str | None]:
    """A file source's runs, or a website source's crawls, newest first."""
    source = await _source(session, caller, chatbot_id, source_id)
    return await _runs_of(session, source, before=decode_cursor(cursor), limit=limit)


async def _runs_of(
    session: AsyncSession, source: Source, *, before: uuid.UUID | None, limit: int
) -> tuple[list[RunRead], str | None]:
    if source.kind is SourceKind.website:
        jobs = await repository.list_crawls_of_source(
            session, source.workspace_id, source.id, before_id=before, limit=limit
        )
        return [crawl_run_read(job) for job in jobs[:limit]], next_cursor_of(
            [job.id for job in jobs], limit
        )
    runs = await repository.list_runs(
        session, source.workspace_id, source.id, before_id=before, limit=limit
    )
    return [file_run_read(run) for run in runs[:limit]], next_cursor_of(
        [run.id for run in runs], limit
    )


async def read_run(
    session: AsyncSession,
    caller: Caller,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
    run_id: uuid.UUID,
) -> RunDetail:
    source = await _source(session, caller, chatbot_id, source_id)
    run = await repository.get_run(session, caller.workspace_id, source.id, run_id)
    if run is None:
        raise NotFound("Run")
    return RunDetail(
        **file_run_read(run).model_dump(),
        diff=[PageChange.model_validate(entry) for entry in run.diff],
    )
