"""Scheduled re-sync: which sources are due, and starting each one exactly once.

`schedule_due_syncs` runs in the periodic `sources.schedule_syncs` job on any number of
workers. It claims due sources with `FOR UPDATE SKIP LOCKED`, moves each one's `next_sync_at`
on and queues its run in the same transaction, so a source is taken by one scheduler only; the
run's job carries a queueing lock, and a website's crawl the one-active-crawl index, so even a
replayed scan cannot start a source twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.billing.plans import Plan, PlanCatalog
from sitechat.chatbots import repository as chatbot_repository
from sitechat.chatbots.errors import CrawlInProgress
from sitechat.core.errors import PaymentRequired
from sitechat.crawling.service import CrawlParameters, queue_crawl
from sitechat.models.chatbots import Source, SourceKind, SyncSchedule
from sitechat.models.crawling import CrawlTrigger
from sitechat.models.sources import RunStatus, RunTrigger, SourceRun
from sitechat.sources import repository
from sitechat.worker.buffer import JobBuffer, PendingJob, write_jobs

log = structlog.get_logger()

INTERVALS = {SyncSchedule.daily: timedelta(days=1), SyncSchedule.weekly: timedelta(days=7)}
SYNCS_PER_WEEK = {SyncSchedule.daily: 7, SyncSchedule.weekly: 1}
# A source whose run could not start (a crawl of its chatbot is running) is tried again then.
BUSY_RETRY = timedelta(hours=1)
INGEST_TASK = "sources.ingest_file"


def schedule_allowed(plan: Plan, schedule: SyncSchedule) -> bool:
    return schedule is SyncSchedule.off or plan.limit("syncs_per_week") >= SYNCS_PER_WEEK[schedule]


def next_sync_after(schedule: SyncSchedule, now: datetime) -> datetime | None:
    interval = INTERVALS.get(schedule)
    return now + interval if interval is not None else None


def _ingest_job(run: SourceRun) -> PendingJob:
    lock = f"source:{run.source_id}"
    return PendingJob(
        INGEST_TASK, {"run_id": str(run.id)}, queueing_lock=f"{lock}:{run.id}", lock=lock
    )


async def queue_run(
    session: AsyncSession,
    jobs: JobBuffer,
    source: Source,
    trigger: RunTrigger,
    now: datetime,
    file_name: str | None,
    data: bytes | None = None,
) -> SourceRun:
    """A file source's `queued` run, and its `sources.ingest_file` job buffered in `jobs`:
    the job parses `data` (an upload), or fetches the source's URL when there is none."""
    run = SourceRun(
        workspace_id=source.workspace_id,
        chatbot_id=source.chatbot_id,
        source_id=source.id,
        trigger=trigger,
        status=RunStatus.queued,
        file_name=file_name,
        file_bytes=len(data) if data is not None else None,
        file_data=data,
        created_at=now,
    )
    session.add(run)
    await session.flush()
    jobs.add(_ingest_job(run))
    log.info(
        "sources.run_queued",
        source_id=str(source.id),
        run_id=str(run.id),
        trigger=trigger.value,
        file_bytes=run.file_bytes,
    )
    return run


async def schedule_due_syncs(
    session: AsyncSession, plans: PlanCatalog, now: datetime, limit: int
) -> int:
    """Queue the runs of up to `limit` due sources; how many were started. Their jobs are
    written in `session`'s transaction (the caller commits)."""
    started = 0
    jobs = JobBuffer()
    claimed = await repository.claim_due_sources(session, now, limit)
    # A crawl reserves its pages under its workspace's quota lock, held until this transaction
    # ends: taking the locks in one order keeps two schedulers from waiting on each other.
    for source in sorted(claimed, key=lambda source: source.workspace_id):
        interval = INTERVALS.get(source.sync_schedule)
        if interval is None:
            source.next_sync_at = None
            continue
        if source.kind is SourceKind.website:
            queued = await _queue_crawl(session, jobs, plans, source, now)
        else:
            queued = await _queue_file_fetch(session, jobs, source, now)
        source.next_sync_at = now + interval if queued else now + BUSY_RETRY
        started += int(queued)
    await write_jobs(session, jobs)
    return started


async def _queue_crawl(
    session: AsyncSession, jobs: JobBuffer, plans: PlanCatalog, source: Source, now: datetime
) -> bool:
    previous = await repository.crawl_to_repeat(session, source.id)
    if previous is None:
        return False
    if await chatbot_repository.find_active_crawl(session, source.chatbot_id) is not None:
        log.info("sources.sync_postponed", source_id=str(source.id), reason="crawl running")
        return False
    try:
        # Like a crawl started by hand, asking for what the source's last completed crawl
        # asked for; a refusal undoes this source's reservation only.
        async with session.begin_nested():
            job = await queue_crawl(
                session,
                jobs,
                plans,
                source,
                CrawlParameters.of(previous),
                trigger=CrawlTrigger.schedule,
                now=now,
            )
    except PaymentRequired:
        log.info("sources.sync_postponed", source_id=str(source.id), reason="pages quota")
        return False
    except CrawlInProgress:
        log.info("sources.sync_postponed", source_id=str(source.id), reason="crawl running")
        return False
    log.info("sources.sync_queued", source_id=str(source.id), crawl_job_id=str(job.id))
    return True


async def _queue_file_fetch(
    session: AsyncSession, jobs: JobBuffer, source: Source, now: datetime
) -> bool:
    if source.url is None or await repository.has_active_run(session, source.id):
        return False
    run = await queue_run(session, jobs, source, RunTrigger.schedule, now, source.file_name)
    log.info("sources.sync_queued", source_id=str(source.id), run_id=str(run.id))
    return True
