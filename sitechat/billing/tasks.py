"""Billing jobs: the periodic renewal run and the processing of stored Stripe events."""

from __future__ import annotations

from procrastinate import RetryStrategy

from sitechat.billing import renewal, webhooks
from sitechat.billing.dependencies import task_gateway
from sitechat.worker.context import task_context, task_session
from sitechat.worker.queue import queue

RENEWAL_CRON = "*/10 * * * *"
"""Every ten minutes: a period that ends is renewed within ten minutes of its end."""


@queue.periodic(cron=RENEWAL_CRON, periodic_id="billing-renewals")
@queue.task(name="billing.renew_subscriptions", queueing_lock="billing.renew_subscriptions")
async def renew_subscriptions_task(timestamp: int) -> None:
    gateway = task_gateway(task_context().settings.billing)
    await renewal.renew_subscriptions(task_session, gateway)


@queue.task(
    name="billing.process_stripe_event",
    retry=RetryStrategy(max_attempts=8, exponential_wait=2),
)
async def process_stripe_event_task(event_id: str) -> None:
    gateway = task_gateway(task_context().settings.billing)
    async with task_session() as session:
        await webhooks.process_stripe_event(session, gateway, event_id)
