"""File-source jobs: `sources.ingest_file` parses one run's file (uploaded, or fetched from the
source's URL) and applies it; `sources.schedule_syncs` (periodic) starts the re-syncs that are
due. Jobs reload their rows, are idempotent, and never let a bad file crash the worker: every
failure ends as a `failed` run with a message the customer can act on.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import structlog
from procrastinate import JobContext

from sitechat.billing.plans import PlanCatalog
from sitechat.billing.usage import record_file_pages, workspace_plan
from sitechat.chatbots import repository as chatbot_repository
from sitechat.chatbots.lifecycle import Actor, transition
from sitechat.core.clock import utcnow
from sitechat.core.fields import sanitize_display_text
from sitechat.core.state import TaskContext, task_context
from sitechat.knowledge.dense import DenseSetup
from sitechat.knowledge.tasks import defer_embedding
from sitechat.models.chatbots import ChatbotStatus, SourceStatus
from sitechat.models.sources import RunStatus, SourceRun
from sitechat.sources import repository
from sitechat.sources.fetching import FetchedFile, fetch_source_file
from sitechat.sources.filetypes import FileType, UnsupportedFile, detect_file_type
from sitechat.sources.ingest import IngestDiff, apply_document
from sitechat.sources.parse_process import ProcessLimits, parse_in_child
from sitechat.sources.parsing import FileRejected, ParseLimits
from sitechat.sources.scheduling import INGEST_TASK, schedule_due_syncs
from sitechat.worker.queue import queue

log = structlog.get_logger()


SAFE_ERROR_MESSAGE = "The file could not be processed because of an internal error; retry it."
CONTENT_TYPES = {
    FileType.pdf: "application/pdf",
    FileType.docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    FileType.html: "text/html",
    FileType.markdown: "text/markdown",
    FileType.text: "text/plain",
}


@queue.task(name=INGEST_TASK, pass_context=True)
async def ingest_file_task(job: JobContext, run_id: str) -> None:
    await ingest_run(task_context(job), uuid.UUID(run_id))


@queue.periodic(cron="*/5 * * * *", periodic_id="sources-schedule-syncs")
@queue.task(
    name="sources.schedule_syncs", queueing_lock="sources.schedule_syncs", pass_context=True
)
async def schedule_syncs_task(job: JobContext, timestamp: int) -> int:
    """Start every re-sync that is due (websites as crawls, file URLs as file runs)."""
    context = task_context(job)
    async with context.session() as session:
        return await schedule_due_syncs(
            session,
            context.component(PlanCatalog),
            utcnow(),
            context.settings.sources.syncs_per_scheduler_run,
        )


@dataclass(frozen=True)
class _Work:
    run_id: uuid.UUID
    source_id: uuid.UUID
    chatbot_id: uuid.UUID
    workspace_id: uuid.UUID
    file_name: str
    data: bytes | None  # None: fetch the source's URL
    url: str | None
    etag: str | None
    last_modified: str | None
    previous_hash: str | None
    max_file_bytes: int


async def ingest_run(context: TaskContext, run_id: uuid.UUID) -> None:
    """Run one file run to `completed` or `failed`. Safe to call again for the same run."""
    work = await _start(context, run_id)
    if work is None:
        return
    bound = log.bind(run_id=str(run_id), source_id=str(work.source_id))
    try:
        diff = await _process(context, work)
    except FileRejected as rejected:
        bound.info("sources.run_rejected", reason=str(rejected))
        await _fail(context, work, str(rejected))
    except Exception:
        bound.exception("sources.run_crashed")
        await _fail(context, work, SAFE_ERROR_MESSAGE)
    else:
        bound.info("sources.run_completed", new=diff.new, changed=diff.changed)
        if diff.indexed:
            await defer_embedding(context.component(DenseSetup).dense, work.chatbot_id)


async def _start(context: TaskContext, run_id: uuid.UUID) -> _Work | None:
    plans = context.component(PlanCatalog)
    async with context.session() as session:
        run = await repository.get_run_unscoped(session, run_id, for_update=True)
        if run is None or run.status not in (RunStatus.queued, RunStatus.running):
            log.info("sources.run_skipped", run_id=str(run_id), reason="not active")
            return None
        source = await repository.get_source_unscoped(session, run.source_id, for_update=True)
        if source is None:
            return None
        run.status = RunStatus.running
        run.started_at = run.started_at or utcnow()
        source.status = SourceStatus.processing
        return _Work(
            run_id=run.id,
            source_id=source.id,
            chatbot_id=source.chatbot_id,
            workspace_id=source.workspace_id,
            file_name=run.file_name or source.file_name or "file",
            data=run.file_data,
            url=source.url if run.file_data is None else None,
            etag=source.etag,
            last_modified=source.last_modified,
            previous_hash=source.file_hash,
            max_file_bytes=(await workspace_plan(session, plans, source.workspace_id)).limit(
                "file_max_bytes"
            ),
        )


async def _process(context: TaskContext, work: _Work) -> IngestDiff:
    settings = context.settings
    fetched: FetchedFile | None = None
    data = work.data
    if data is None:
        if work.url is None:
            raise FileRejected("The run has no file and the source no URL to fetch it from.")
        fetched = await fetch_source_file(
            settings.crawl, work.url, work.etag, work.last_modified, work.max_file_bytes
        )
        if fetched.not_modified:
            return await _finish_unchanged(context, work, fetched)
        data = fetched.data
        assert data is not None
    file_hash = hashlib.sha256(data).hexdigest()
    if file_hash == work.previous_hash:
        return await _finish_unchanged(context, work, fetched)
    try:
        file_type = detect_file_type(data, work.file_name)
    except UnsupportedFile as error:
        raise FileRejected(str(error)) from None
    document = await parse_in_child(
        data,
        file_type,
        work.file_name,
        ParseLimits(
            max_pages=settings.sources.max_file_pages,
            max_unzipped_bytes=settings.sources.max_unzipped_bytes,
            max_text_chars=settings.sources.max_text_chars,
        ),
        ProcessLimits(
            seconds=settings.sources.parse_timeout_seconds,
            memory_bytes=settings.sources.parse_memory_bytes,
        ),
    )
    async with context.session() as session:
        run = await repository.get_run_unscoped(session, work.run_id, for_update=True)
        source = await repository.get_source_unscoped(session, work.source_id, for_update=True)
        # Not locked while the pages are written: a lock on the chatbot's row would stop every
        # new conversation of it (their foreign key reads it) until the file is written.
        chatbot = await chatbot_repository.get_chatbot_unscoped(session, work.chatbot_id)
        if run is None or source is None or chatbot is None:
            return IngestDiff()  # deleted meanwhile
        now = utcnow()
        diff = await apply_document(
            session,
            context.component(PlanCatalog),
            context.component(DenseSetup).dense,
            source,
            chatbot.language,
            document,
            CONTENT_TYPES[file_type],
            now,
        )
        _complete(run, diff, fetched)
        record_file_pages(
            session,
            source.workspace_id,
            run_id=run.id,
            chatbot_id=chatbot.id,
            pages=diff.indexed,
        )
        run.file_type = file_type.value
        run.file_bytes = len(data)
        source.status = SourceStatus.ready
        source.error = None
        source.file_type = file_type.value
        source.file_bytes = len(data)
        source.file_hash = file_hash
        source.last_synced_at = now
        if not source.title or source.title == source.file_name:
            # The document's own title, shown in source lists: the display-text rule applies.
            title = sanitize_display_text(document.title)[:500]
            source.title = title or source.title if source.url is None else source.title
        source.file_name = work.file_name  # the version now answered from
        if fetched is not None:
            source.etag, source.last_modified = fetched.etag, fetched.last_modified
        # Its current status, locked against other changes but not against references to it.
        await session.refresh(chatbot, ["status"], with_for_update={"key_share": True})
        if diff.indexed and chatbot.status in (ChatbotStatus.draft, ChatbotStatus.training):
            transition(chatbot, ChatbotStatus.ready, Actor.system)
    return diff


def _complete(run: SourceRun, diff: IngestDiff, fetched: FetchedFile | None) -> None:
    run.status = RunStatus.completed
    run.error = None
    run.file_data = None
    run.pages_new, run.pages_changed = diff.new, diff.changed
    run.pages_unchanged, run.pages_removed = diff.unchanged, diff.removed
    run.pages_indexed = diff.indexed
    run.diff = diff.entries
    run.http_requests = fetched.requests if fetched is not None else 0
    run.finished_at = utcnow()


async def _finish_unchanged(
    context: TaskContext, work: _Work, fetched: FetchedFile | None
) -> IngestDiff:
    """The same file again (a 304, or the same bytes): one request, nothing re-indexed."""
    async with context.session() as session:
        run = await repository.get_run_unscoped(session, work.run_id, for_update=True)
        source = await repository.get_source_unscoped(session, work.source_id, for_update=True)
        if run is None or source is None:
            return IngestDiff()
        pages = await repository.pages_of_source(session, source.id)
        diff = IngestDiff(unchanged=len(pages))
        diff.entries = [
            {
                "page": url,
                "title": page.title,
                "page_number": page.page_number,
                "change": "unchanged",
            }
            for url, page in sorted(pages.items())
        ]
        _complete(run, diff, fetched)
        source.status = SourceStatus.ready
        source.error = None
        source.last_synced_at = utcnow()
        if fetched is not None and not fetched.not_modified:
            source.etag, source.last_modified = fetched.etag, fetched.last_modified
    return diff


async def _fail(context: TaskContext, work: _Work, message: str) -> None:
    async with context.session() as session:
        run = await repository.get_run_unscoped(session, work.run_id, for_update=True)
        source = await repository.get_source_unscoped(session, work.source_id, for_update=True)
        if run is not None:
            run.status = RunStatus.failed
            run.error = message
            run.file_data = None
            run.finished_at = utcnow()
        if source is not None:
            # A failed replacement (or re-fetch) leaves the previous version answered from: the
            # source stays ready, and its error says why the new one is not in use.
            served = source.file_hash is not None
            source.status = SourceStatus.ready if served else SourceStatus.failed
            source.error = f"{message} The previous version is still in use." if served else message
