"""Billing jobs: the periodic renewal run and the processing of stored Stripe events."""

from __future__ import annotations

from procrastinate import JobContext, RetryStrategy

from sitechat.billing import renewal, webhooks
from sitechat.billing.invoicing import GatewayContext
from sitechat.billing.plans import PlanCatalog
from sitechat.core.state import task_context
from sitechat.worker.queue import queue

RENEWAL_CRON = "*/10 * * * *"
"""Every ten minutes: a period that ends is renewed within ten minutes of its end."""


@queue.periodic(cron=RENEWAL_CRON, periodic_id="billing-renewals")
@queue.task(
    name="billing.renew_subscriptions",
    queueing_lock="billing.renew_subscriptions",
    pass_context=True,
)
async def renew_subscriptions_task(job: JobContext, timestamp: int) -> None:
    context = task_context(job)
    await renewal.renew_subscriptions(
        context.session, context.component(PlanCatalog), context.component(GatewayContext)
    )


@queue.task(
    name="billing.process_stripe_event",
    retry=RetryStrategy(max_attempts=8, exponential_wait=2),
    pass_context=True,
)
async def process_stripe_event_task(job: JobContext, event_id: str) -> None:
    context = task_context(job)
    async with context.session() as session:
        await webhooks.process_stripe_event(session, context.component(GatewayContext), event_id)
