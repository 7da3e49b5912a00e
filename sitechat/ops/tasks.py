"""Housekeeping jobs that keep the queue itself healthy."""

from __future__ import annotations

import structlog

from sitechat.worker.queue import queue

log = structlog.get_logger()

STALLED_AFTER_SECONDS = 60
FINISHED_JOBS_KEPT_HOURS = 24 * 7


async def retry_stalled_jobs(seconds_since_heartbeat: float = STALLED_AFTER_SECONDS) -> int:
    """Put back in the queue the jobs whose worker stopped sending heartbeats (it died)."""
    stalled = await queue.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=seconds_since_heartbeat
    )
    retried = 0
    for job in stalled:
        await queue.job_manager.retry_job(job)
        log.warning("ops.stalled_job_retried", job_id=job.id, task=job.task_name)
        retried += 1
    return retried


@queue.periodic(cron="* * * * *", periodic_id="retry-stalled")
@queue.task(
    name="ops.retry_stalled_jobs", queueing_lock="ops.retry_stalled_jobs", pass_context=False
)
async def retry_stalled_jobs_task(timestamp: int) -> int:
    return await retry_stalled_jobs()


@queue.periodic(cron="17 * * * *", periodic_id="purge-finished")
@queue.task(name="ops.purge_finished_jobs", queueing_lock="ops.purge_finished_jobs")
async def purge_finished_jobs_task(timestamp: int) -> None:
    """Keep a week of finished jobs for inspection; older ones only cost space."""
    await queue.job_manager.delete_old_jobs(nb_hours=FINISHED_JOBS_KEPT_HOURS, include_failed=True)
