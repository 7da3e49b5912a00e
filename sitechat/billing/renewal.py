"""Closing ended periods: scheduled changes, cancellations, renewal invoices and dunning.

A renewal opens the next period, applies a scheduled downgrade or interval change, invoices
the period and charges it. A failed charge makes the subscription `past_due`; the open
invoice is retried on the schedule below, each retry a new payment attempt (a new
idempotency key). After the last failed retry the invoice is `uncollectible` and the
subscription `canceled`: the workspace is on free again, its data kept and its limits enforced
by the quotas.

Each subscription is handled in its own transaction with its row locked (`SKIP LOCKED`), so
two workers never renew the same subscription and one failure does not hold the others back.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.audit.service import record_audit_event
from sitechat.billing import invoicing, repository
from sitechat.billing.invoicing import GatewayContext
from sitechat.billing.plans import PlanCatalog
from sitechat.billing.proration import period_end_after, plan_period_line
from sitechat.billing.service import end_subscription
from sitechat.core.clock import utcnow
from sitechat.models.billing import InvoiceStatus, Subscription, SubscriptionStatus

log = structlog.get_logger()

DUNNING_RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(days=1),
    timedelta(days=2),
    timedelta(days=4),
)
"""Wait before each retry, counted from the previous attempt: retries 1, 3 and 7 days after the
failed renewal; the subscription is canceled when the last one fails."""

RENEWAL_BATCH_SIZE = 200

SessionFactory = Callable[[], contextlib.AbstractAsyncContextManager[AsyncSession]]
"""Opens a session whose transaction commits when the block ends (`TaskContext.session`)."""


@dataclass
class RenewalReport:
    renewed: list[uuid.UUID] = field(default_factory=list)
    past_due: list[uuid.UUID] = field(default_factory=list)
    recovered: list[uuid.UUID] = field(default_factory=list)
    canceled: list[uuid.UUID] = field(default_factory=list)


def _audit(session: AsyncSession, action: str, subscription: Subscription, **details: Any) -> None:
    record_audit_event(
        session,
        action=action,
        workspace_id=subscription.workspace_id,
        details={
            "subscription_id": str(subscription.id),
            "plan_id": subscription.plan_id,
            "status": subscription.status.value,
            **details,
        },
    )


async def renew_subscriptions(
    open_session: SessionFactory, plans: PlanCatalog, gateway: GatewayContext
) -> RenewalReport:
    """Renew every subscription whose period has ended and retry every due past-due one."""
    now = utcnow()
    report = RenewalReport()
    async with open_session() as session:
        renewals = await repository.subscriptions_due_for_renewal(
            session, now, limit=RENEWAL_BATCH_SIZE
        )
        retries = await repository.subscriptions_due_for_retry(
            session, now, limit=RENEWAL_BATCH_SIZE
        )
    await _each(
        open_session, renewals, lambda s, i: renew_subscription(s, plans, gateway, i, report)
    )
    await _each(open_session, retries, lambda s, i: retry_past_due(s, gateway, i, report))
    log.info(
        "billing.renewal_run",
        renewed=len(report.renewed),
        past_due=len(report.past_due),
        recovered=len(report.recovered),
        canceled=len(report.canceled),
    )
    return report


async def _each(
    open_session: SessionFactory,
    subscription_ids: Sequence[uuid.UUID],
    handle: Callable[[AsyncSession, uuid.UUID], Any],
) -> None:
    for subscription_id in subscription_ids:
        try:
            async with open_session() as session:
                await handle(session, subscription_id)
        except Exception:
            # One broken subscription must not stop the others; the next run tries again.
            log.exception("billing.renewal_failed", subscription_id=str(subscription_id))


def _renew_granted(subscription: Subscription, period_start: datetime) -> None:
    """An operator's grant runs on, period after period, with nothing to invoice."""
    subscription.current_period_start = period_start
    subscription.usage_carried_from = None
    subscription.current_period_end = period_end_after(
        period_start, subscription.interval.value, subscription.anchor_day
    )


async def renew_subscription(
    session: AsyncSession,
    plans: PlanCatalog,
    gateway: GatewayContext,
    subscription_id: uuid.UUID,
    report: RenewalReport,
) -> None:
    now = utcnow()
    subscription = await repository.lock_subscription_by_id(session, subscription_id)
    if (
        subscription is None
        or subscription.status is not SubscriptionStatus.active
        or subscription.current_period_end > now
    ):
        return
    period_start = subscription.current_period_end
    if subscription.cancel_at_period_end:
        end_subscription(subscription, period_start)
        _audit(session, "billing.subscription_canceled", subscription, reason="period_end")
        report.canceled.append(subscription.id)
        return
    if subscription.granted:
        _renew_granted(subscription, period_start)
        _audit(session, "billing.subscription_renewed", subscription, granted=True)
        report.renewed.append(subscription.id)
        return
    plan = plans.get(subscription.pending_plan_id or subscription.plan_id)
    interval = subscription.pending_interval or subscription.interval
    changed = subscription.pending_plan_id is not None or subscription.pending_interval is not None
    if plan.is_free:
        end_subscription(subscription, period_start)
        _audit(session, "billing.subscription_canceled", subscription, reason="downgraded_to_free")
        report.canceled.append(subscription.id)
        return
    subscription.plan_id = plan.id
    subscription.interval = interval
    subscription.price = plan.price_for(interval.value)
    subscription.pending_plan_id = None
    subscription.pending_interval = None
    subscription.current_period_start = period_start
    subscription.usage_carried_from = None
    subscription.current_period_end = period_end_after(
        period_start, interval.value, subscription.anchor_day
    )
    line = plan_period_line(
        plan,
        interval.value,
        period_start=subscription.current_period_start,
        period_end=subscription.current_period_end,
    )
    invoice = await invoicing.create_invoice(
        session, subscription=subscription, reason="subscription_cycle", lines=[line]
    )
    attempt = await invoicing.collect_invoice(
        session, gateway, invoice=invoice, subscription=subscription
    )
    if attempt is None or attempt.status in ("succeeded", "processing"):
        # `processing`: the gateway decides later and its webhook settles the invoice.
        _audit(session, "billing.subscription_renewed", subscription, scheduled_change=changed)
        report.renewed.append(subscription.id)
        return
    subscription.status = SubscriptionStatus.past_due
    subscription.dunning_retries = 0
    subscription.next_retry_at = now + DUNNING_RETRY_DELAYS[0]
    _audit(
        session,
        "billing.subscription_past_due",
        subscription,
        invoice=invoice.number,
        failure_code=attempt.failure_code,
    )
    report.past_due.append(subscription.id)


async def retry_past_due(
    session: AsyncSession,
    gateway: GatewayContext,
    subscription_id: uuid.UUID,
    report: RenewalReport,
) -> None:
    now = utcnow()
    subscription = await repository.lock_subscription_by_id(session, subscription_id)
    if (
        subscription is None
        or subscription.status is not SubscriptionStatus.past_due
        or subscription.next_retry_at is None
        or subscription.next_retry_at > now
    ):
        return
    open_invoices = await repository.open_invoices_of_subscription(session, subscription.id)
    if not open_invoices:
        # Paid meanwhile (a webhook, say) without the subscription hearing of it.
        mark_recovered(subscription)
        report.recovered.append(subscription.id)
        return
    invoice = open_invoices[0]
    attempt = await invoicing.collect_invoice(
        session, gateway, invoice=invoice, subscription=subscription
    )
    subscription.dunning_retries += 1
    if attempt is None or attempt.status == "succeeded":
        mark_recovered(subscription)
        _audit(session, "billing.subscription_recovered", subscription, invoice=invoice.number)
        report.recovered.append(subscription.id)
    elif subscription.dunning_retries < len(DUNNING_RETRY_DELAYS):
        subscription.next_retry_at = now + DUNNING_RETRY_DELAYS[subscription.dunning_retries]
        log.info(
            "billing.dunning_retry_failed",
            subscription_id=str(subscription.id),
            retries=subscription.dunning_retries,
        )
    else:
        invoice.status = InvoiceStatus.uncollectible
        invoice.updated_at = now
        end_subscription(subscription, now)
        _audit(
            session,
            "billing.subscription_canceled",
            subscription,
            reason="dunning_exhausted",
            invoice=invoice.number,
        )
        report.canceled.append(subscription.id)


def mark_recovered(subscription: Subscription) -> None:
    subscription.status = SubscriptionStatus.active
    subscription.dunning_retries = 0
    subscription.next_retry_at = None
