"""`webhooks.deliver` (one attempt of one delivery) and `webhooks.sweep` (every minute: the
retries that are due, any delivery whose first job was lost, and the previous signing secrets
whose rotation overlap has ended).

No transaction is open while a receiver answers: the attempt is claimed (with a lease) in one
short transaction and its outcome stored in another.
"""

from __future__ import annotations

import contextlib
import uuid

import orjson
import structlog
from procrastinate import JobContext
from procrastinate.exceptions import AlreadyEnqueued

from sitechat.core.clock import utcnow
from sitechat.core.mail import MailMessage
from sitechat.core.state import TaskContext, task_context
from sitechat.webhooks import service
from sitechat.webhooks.sender import post_event
from sitechat.webhooks.signing import signed_headers
from sitechat.worker.buffer import PendingJob, send_job
from sitechat.worker.queue import queue

log = structlog.get_logger()

SWEEP_BATCH = 200


async def deliver(context: TaskContext, delivery_id: uuid.UUID) -> str:
    """One attempt; returns `succeeded`, `failed` (retried later or given up) or `skipped`."""
    now = utcnow()
    async with context.session() as session:
        attempt = await service.claim_attempt(session, delivery_id, now)
    if attempt is None:
        return "skipped"
    body = orjson.dumps(attempt.payload)
    headers = signed_headers(attempt.secrets, attempt.message_id, int(now.timestamp()), body)
    allowed_hosts = frozenset(context.settings.crawl.allowed_hosts)
    outcome = await post_event(attempt.url, headers, body, allowed_hosts)
    async with context.session() as session:
        owners = await service.record_outcome(session, attempt, outcome, utcnow())
    log.info(
        "webhooks.attempted",
        delivery_id=str(delivery_id),
        status_code=outcome.status_code,
        error=outcome.error,
        latency_ms=outcome.latency_ms,
    )
    if owners:
        for email in owners:
            await context.mailer.send(
                MailMessage(
                    to=email,
                    subject="SiteChat: a webhook endpoint was disabled",
                    body=(
                        f"Deliveries to {attempt.url} failed for a day (last: {outcome.error}), "
                        "so the endpoint was disabled. Fix the receiver, then enable it again "
                        f"with PATCH /v1/webhooks/{attempt.endpoint_id} and redeliver what it "
                        "missed from its delivery log."
                    ),
                )
            )
    return "succeeded" if outcome.succeeded else "failed"


@queue.task(name=service.DELIVER_TASK, pass_context=True)
async def deliver_task(job: JobContext, delivery_id: str) -> str:
    return await deliver(task_context(job), uuid.UUID(delivery_id))


async def defer_deliveries(delivery_ids: list[uuid.UUID]) -> None:
    """Ask for the attempts of deliveries recorded by a transaction that has committed."""
    for delivery_id in delivery_ids:
        job = PendingJob(
            service.DELIVER_TASK,
            {"delivery_id": str(delivery_id)},
            queueing_lock=service.deliver_lock_of(delivery_id),
        )
        with contextlib.suppress(AlreadyEnqueued):  # an attempt of it is waiting already
            await send_job(job)


async def sweep(context: TaskContext) -> int:
    """Ask for an attempt of every due delivery, and forget the previous secrets whose overlap
    has ended; returns how many deliveries were due."""
    now = utcnow()
    async with context.session() as session:
        erased = await service.erase_expired_secrets(session, now)
    if erased:
        log.info("webhooks.previous_secrets_erased", endpoints=erased)
    async with context.session() as session:
        due = await service.due_deliveries(session, now, SWEEP_BATCH)
    await defer_deliveries(due)
    return len(due)


@queue.periodic(cron="* * * * *", periodic_id="webhooks-sweep")
@queue.task(name="webhooks.sweep", queueing_lock="webhooks.sweep", pass_context=True)
async def sweep_task(job: JobContext, timestamp: int) -> int:
    return await sweep(task_context(job))
