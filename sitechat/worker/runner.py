"""How every SiteChat worker runs: the in-process one of the API and `sitechat worker`.

Shutdown (SIGTERM, or the API's lifespan ending) stops fetching jobs and gives running jobs
`SITECHAT_WORKER_SHUTDOWN_GRACE_SECONDS` to finish. A job still running after that is
cancelled and put back in the queue (`todo`, at once), so the next worker runs it again: our
tasks are idempotent and resumable (a crawl skips the pages it already stored). Without this,
procrastinate marks such a job `aborted` and nothing ever runs it again.

Every worker registers in procrastinate's `procrastinate_workers` table and updates its
`last_heartbeat` every `SITECHAT_WORKER_HEARTBEAT_SECONDS`; a stopped worker deletes its row.
A worker that dies without shutting down (SIGKILL, a lost machine) stops sending heartbeats:
the periodic `ops.retry_stalled_jobs` puts its jobs back in the queue, and `/readyz` and
`/metrics` stop counting it (`ops/workers.py`, ADR 0030).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from procrastinate import App, BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

from sitechat.config import WorkerSettings

log = structlog.get_logger()


class RequeueOnShutdown(BaseRetryStrategy):
    """Re-queue a job cancelled by its worker's shutdown; other failures follow the task's
    own strategy (`inner`), or end the job when it has none.

    Procrastinate consults the retry strategy for a job aborted by a shutdown, and such an
    async job ends in `CancelledError`. We never abort jobs on request (crawls have their own
    cancel), so a cancelled job is always an interrupted one.
    """

    def __init__(self, inner: BaseRetryStrategy | None) -> None:
        self.inner = inner

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, asyncio.CancelledError):
            log.warning("worker.job_requeued_on_shutdown", job_id=job.id, task=job.task_name)
            return RetryDecision(retry_in={"seconds": 0})
        if self.inner is None:
            return None
        return self.inner.get_retry_decision(exception=exception, job=job)


def requeue_interrupted_jobs(app: App) -> None:
    """Give every task of `app` the `RequeueOnShutdown` policy (once)."""
    app.perform_import_paths()  # type: ignore[no-untyped-call]
    for task in app.tasks.values():
        if not isinstance(task.retry_strategy, RequeueOnShutdown):
            task.retry_strategy = RequeueOnShutdown(task.retry_strategy)


async def run_worker(
    app: App,
    *,
    context: dict[str, Any],
    settings: WorkerSettings,
    concurrency: int,
    name: str,
    install_signal_handlers: bool,
) -> None:
    """Run a worker on `app` until it is stopped (a signal, or cancelling this coroutine);
    every job it runs gets `context` (`core/state.py: worker_context`)."""
    requeue_interrupted_jobs(app)
    await app.run_worker_async(
        additional_context=context,
        concurrency=concurrency,
        name=name,
        install_signal_handlers=install_signal_handlers,
        shutdown_graceful_timeout=settings.shutdown_grace_seconds,
        update_heartbeat_interval=settings.heartbeat_seconds,
        # At start procrastinate deletes the rows of workers silent for this long: the same
        # rule `/readyz` counts by.
        stalled_worker_timeout=settings.heartbeat_stale_after_seconds,
    )
