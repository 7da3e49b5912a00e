"""Jobs asked for during a request, sent only once the request's transaction has committed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog
from procrastinate.exceptions import AlreadyEnqueued

from sitechat.worker.queue import queue

log = structlog.get_logger()


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
        self.jobs.append(PendingJob(task_name, kwargs, queueing_lock, lock, priority))

    def __bool__(self) -> bool:
        return bool(self.jobs)


async def flush_jobs(buffer: JobBuffer) -> None:
    jobs, buffer.jobs = buffer.jobs, []
    for job in jobs:
        try:
            await send_job(job)
        except AlreadyEnqueued:
            # A job with the same queueing lock is still waiting; it will do this work too.
            log.info("job.already_queued", task=job.task_name, queueing_lock=job.queueing_lock)


async def send_job(job: PendingJob) -> int:
    deferrer = queue.configure_task(
        job.task_name,
        queueing_lock=job.queueing_lock,
        lock=job.lock,
        priority=job.priority,
    )
    job_id = await deferrer.defer_async(**job.kwargs)
    log.info("job.deferred", task=job.task_name, job_id=job_id)
    return job_id
