"""Jobs asked for during a request, written to the queue inside the request's transaction.

The queue lives in the same PostgreSQL as the data, so a request's jobs are inserted (through
procrastinate's own `procrastinate_defer_jobs_v1`) on the request's connection just before it
commits: the data and its jobs are committed together or not at all. A job is therefore sent
only if the request commits, and a committed request never lacks its job (a crawl left
`queued` with no job to run it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.worker.queue import queue

log = structlog.get_logger()

# procrastinate's unique index of waiting jobs per queueing lock.
QUEUEING_LOCK_INDEX = "procrastinate_jobs_queueing_lock_idx_v1"

_DEFER_JOB = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
    "CAST(:queue_name AS varchar), CAST(:task_name AS varchar), CAST(:priority AS integer), "
    "CAST(:lock AS text), CAST(:queueing_lock AS text), CAST(CAST(:args AS text) AS jsonb), "
    "CAST(NULL AS timestamptz))]::procrastinate_job_to_defer_v1[])) AS id"
)


@dataclass(frozen=True)
class PendingJob:
    task_name: str
    kwargs: dict[str, Any]
    queueing_lock: str | None = None
    lock: str | None = None
    priority: int = 0


@dataclass
class JobBuffer:
    jobs: list[PendingJob] = field(default_factory=list)

    def defer(
        self,
        task_name: str,
        *,
        queueing_lock: str | None = None,
        lock: str | None = None,
        priority: int = 0,
        **kwargs: Any,
    ) -> None:
        self.add(PendingJob(task_name, kwargs, queueing_lock, lock, priority))

    def add(self, job: PendingJob) -> None:
        self.jobs.append(job)

    def __bool__(self) -> bool:
        return bool(self.jobs)


async def write_jobs(session: AsyncSession, buffer: JobBuffer) -> None:
    """Insert the buffered jobs in `session`'s transaction (the caller then commits)."""
    jobs, buffer.jobs = buffer.jobs, []
    for job in jobs:
        await defer_in_transaction(session, job)


async def defer_in_transaction(session: AsyncSession, job: PendingJob) -> int | None:
    """Queue `job` in `session`'s transaction; its id, or None when a job with the same
    queueing lock is still waiting (it will do this work too)."""
    # The task's registered defaults (queue, lock, priority) as procrastinate would send them.
    queued = queue.configure_task(
        job.task_name, queueing_lock=job.queueing_lock, lock=job.lock, priority=job.priority
    ).make_new_job(**job.kwargs)
    parameters = {
        "queue_name": queued.queue,
        "task_name": queued.task_name,
        "priority": queued.priority,
        "lock": queued.lock,
        "queueing_lock": queued.queueing_lock,
        "args": json.dumps(queued.task_kwargs),
    }
    if queued.queueing_lock is None:
        job_id = (await session.execute(_DEFER_JOB, parameters)).scalar_one()
    else:
        # A refused duplicate must not abort the request's transaction: a savepoint.
        try:
            async with session.begin_nested():
                job_id = (await session.execute(_DEFER_JOB, parameters)).scalar_one()
        except IntegrityError as error:
            if QUEUEING_LOCK_INDEX not in str(error.orig):
                raise
            log.info("job.already_queued", task=job.task_name, queueing_lock=job.queueing_lock)
            return None
    log.info("job.deferred", task=job.task_name, job_id=job_id)
    return int(job_id)


async def send_job(job: PendingJob) -> int:
    """Outside a request (in a job, after its own transaction committed): send `job` over the
    queue's connection pool. Raises `AlreadyEnqueued` for a waiting duplicate."""
    deferrer = queue.configure_task(
        job.task_name, queueing_lock=job.queueing_lock, lock=job.lock, priority=job.priority
    )
    job_id = await deferrer.defer_async(**job.kwargs)
    log.info("job.deferred", task=job.task_name, job_id=job_id)
    return job_id


async def job_waiting(session: AsyncSession, queueing_lock: str) -> bool:
    """Whether a job of this queueing lock waits in the queue (at most one can)."""
    result = await session.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs "
            "WHERE queueing_lock = :lock AND status = 'todo')"
        ),
        {"lock": queueing_lock},
    )
    return bool(result.scalar_one())
