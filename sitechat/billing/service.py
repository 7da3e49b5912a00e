"""Subscriptions: subscribe, upgrade now with proration, downgrade at period end, cancel, resume.

State machine (`status`):

- no subscription / `canceled` / `incomplete` --subscribe to a paid plan--> `active` when the
  first invoice is paid, else `incomplete` (the workspace stays on free until it is paid);
- `active` --renewal charge fails--> `past_due` --a retry succeeds--> `active`;
  `past_due` --last retry fails, or cancel--> `canceled` (back to free, data kept);
- `active` --cancel--> `active` with `cancel_at_period_end`, `canceled` when the period ends;
  `incomplete` --cancel--> `canceled` at once.

Every change takes the subscription row lock, is audited, and is committed by the request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.audit.service import record_audit_event
from sitechat.auth.caller import Caller
from sitechat.billing import invoicing, repository
from sitechat.billing.errors import PaymentFailed, PaymentMethodRequired, UnknownPlan
from sitechat.billing.invoicing import GatewayContext
from sitechat.billing.plans import DEFAULT_PLAN_ID, BillingInterval, Plan, PlanCatalog
from sitechat.billing.plans import UnknownPlanError as CatalogUnknownPlan
from sitechat.billing.proration import (
    InvoiceLine as LineDraft,
)
from sitechat.billing.proration import (
    period_end_after,
    plan_period_line,
    prorate_interval_change,
    prorate_plan_change,
)
from sitechat.billing.usage_periods import usage_period
from sitechat.core.clock import utcnow
from sitechat.core.errors import InvalidStateTransition
from sitechat.models.billing import (
    PLAN_IN_FORCE,
    Invoice,
    InvoiceStatus,
    Subscription,
    SubscriptionInterval,
    SubscriptionStatus,
)

log = structlog.get_logger()


def effective_plan(plans: PlanCatalog, subscription: Subscription | None) -> Plan:
    """The plan whose limits apply: a paid plan only while its subscription is in force."""
    if subscription is None or subscription.status not in PLAN_IN_FORCE:
        return plans.get(DEFAULT_PLAN_ID)
    return plans.get(subscription.plan_id)


@dataclass(frozen=True)
class SubscriptionState:
    subscription: Subscription | None
    plan: Plan
    latest_invoice: Invoice | None


async def get_subscription_state(
    session: AsyncSession, plans: PlanCatalog, workspace_id: uuid.UUID
) -> SubscriptionState:
    subscription = await repository.get_subscription(session, workspace_id)
    latest = (
        await repository.latest_invoice_of_subscription(session, subscription.id)
        if subscription is not None
        else None
    )
    return SubscriptionState(subscription, effective_plan(plans, subscription), latest)


def _audit(
    session: AsyncSession,
    caller: Caller | None,
    action: str,
    subscription: Subscription,
    **details: Any,
) -> None:
    record_audit_event(
        session,
        action=action,
        workspace_id=subscription.workspace_id,
        actor_user_id=caller.user_id if caller else None,
        actor_api_key_id=caller.api_key_id if caller else None,
        details={
            "subscription_id": str(subscription.id),
            "plan_id": subscription.plan_id,
            "interval": subscription.interval.value,
            "status": subscription.status.value,
            **details,
        },
    )


def _plan(plans: PlanCatalog, plan_id: str) -> Plan:
    try:
        return plans.get(plan_id)
    except CatalogUnknownPlan:
        raise UnknownPlan(f"There is no plan {plan_id!r}.") from None


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


async def _require_payment_method(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    if await repository.get_default_payment_method(session, workspace_id) is None:
        raise PaymentMethodRequired()


async def change_subscription(
    session: AsyncSession,
    plans: PlanCatalog,
    gateway: GatewayContext,
    caller: Caller,
    *,
    plan_id: str,
    interval: BillingInterval,
) -> SubscriptionState:
    """Subscribe, upgrade (now, prorated), downgrade (at period end) or change interval."""
    plan = _plan(plans, plan_id)
    subscription = await repository.get_subscription(session, caller.workspace_id, for_update=True)
    if subscription is None or subscription.status in (
        SubscriptionStatus.canceled,
        SubscriptionStatus.incomplete,
    ):
        if plan.is_free:
            raise InvalidStateTransition("The workspace is already on the free plan.")
        await _require_payment_method(session, caller.workspace_id)
        subscription = await _start(session, gateway, caller, subscription, plan, interval)
    elif subscription.status is SubscriptionStatus.past_due:
        raise InvalidStateTransition(
            "The subscription is past due; update the payment method and it is retried."
        )
    else:
        current = plans.get(subscription.plan_id)
        await _change_active(session, gateway, caller, subscription, current, plan, interval)
    return await get_subscription_state(session, plans, caller.workspace_id)


async def _start(
    session: AsyncSession,
    gateway: GatewayContext,
    caller: Caller,
    subscription: Subscription | None,
    plan: Plan,
    interval: BillingInterval,
) -> Subscription:
    now = _whole_second(utcnow())
    if subscription is None:
        subscription = Subscription(workspace_id=caller.workspace_id, carried_balance=0)
        session.add(subscription)
    else:
        await _void_open_invoices(session, subscription, now)
    start_first_period(
        subscription,
        plan,
        interval,
        now,
        status=SubscriptionStatus.incomplete,
        price=plan.price_for(interval),
        granted=False,
    )
    await session.flush()
    line = plan_period_line(
        plan,
        interval,
        period_start=subscription.current_period_start,
        period_end=subscription.current_period_end,
    )
    invoice = await invoicing.create_invoice(
        session, subscription=subscription, reason="subscription_create", lines=[line]
    )
    attempt = await invoicing.collect_invoice(
        session, gateway, invoice=invoice, subscription=subscription
    )
    if attempt is None or attempt.status == "succeeded":
        subscription.status = SubscriptionStatus.active
    _audit(session, caller, "billing.subscription_created", subscription, invoice=invoice.number)
    log.info(
        "billing.subscription_started",
        workspace_id=str(subscription.workspace_id),
        plan_id=plan.id,
        status=subscription.status.value,
    )
    return subscription


async def _void_open_invoices(
    session: AsyncSession, subscription: Subscription, now: datetime
) -> None:
    for invoice in await repository.open_invoices_of_subscription(session, subscription.id):
        invoice.status = InvoiceStatus.void
        invoice.updated_at = now


def _is_scheduled_change(current: Plan, current_interval: str, plan: Plan, interval: str) -> bool:
    """Downgrades wait for the period end: a lower plan, or yearly to monthly billing."""
    return plan.rank < current.rank or (current_interval == "year" and interval == "month")


async def _change_active(
    session: AsyncSession,
    gateway: GatewayContext,
    caller: Caller,
    subscription: Subscription,
    current: Plan,
    plan: Plan,
    interval: BillingInterval,
) -> None:
    if plan.id == current.id and interval == subscription.interval.value:
        raise InvalidStateTransition("The subscription is already on this plan and interval.")
    if not plan.is_free:
        await _require_payment_method(session, caller.workspace_id)
    if _is_scheduled_change(current, subscription.interval.value, plan, interval):
        subscription.pending_plan_id = plan.id
        subscription.pending_interval = SubscriptionInterval(interval)
        _audit(
            session,
            caller,
            "billing.subscription_change_scheduled",
            subscription,
            pending_plan_id=plan.id,
            pending_interval=interval,
        )
        return
    now = _whole_second(utcnow())
    if interval != subscription.interval.value:
        proration = prorate_interval_change(
            old_plan=current,
            old_amount=subscription.price,
            new_plan=plan,
            new_interval=interval,
            period_start=subscription.current_period_start,
            period_end=subscription.current_period_end,
            at=now,
        )
    else:
        proration = prorate_plan_change(
            old_plan=current,
            old_amount=subscription.price,
            new_plan=plan,
            new_amount=plan.price_for(interval),
            period_start=subscription.current_period_start,
            period_end=subscription.current_period_end,
            at=now,
        )
    await _invoice_immediate_change(session, gateway, subscription, list(proration.lines))
    previous_plan_id = subscription.plan_id
    subscription.plan_id = plan.id
    subscription.price = plan.price_for(interval)
    if interval != subscription.interval.value:
        # A new billing period, not a new usage month: the counters keep counting from the
        # start of the usage month this change interrupts.
        subscription.usage_carried_from = usage_period(subscription, now).start
        subscription.interval = SubscriptionInterval(interval)
        subscription.current_period_start = proration.charge.period_start
        subscription.current_period_end = proration.charge.period_end
        subscription.anchor_day = proration.charge.period_start.day
    subscription.pending_plan_id = None
    subscription.pending_interval = None
    subscription.cancel_at_period_end = False
    _audit(
        session,
        caller,
        "billing.subscription_upgraded",
        subscription,
        previous_plan_id=previous_plan_id,
    )


async def _invoice_immediate_change(
    session: AsyncSession,
    gateway: GatewayContext,
    subscription: Subscription,
    lines: list[LineDraft],
) -> None:
    """Invoice and charge a change that applies now; a failed charge changes nothing."""
    if not lines:
        return
    invoice = await invoicing.create_invoice(
        session, subscription=subscription, reason="subscription_update", lines=lines
    )
    attempt = await invoicing.collect_invoice(
        session, gateway, invoice=invoice, subscription=subscription
    )
    if attempt is not None and attempt.status not in ("succeeded", "processing"):
        # Raising rolls the whole request back: no invoice, no number used, no plan change.
        raise PaymentFailed(
            attempt.failure_message or "The payment for the change failed.",
            code=attempt.failure_code,
        )


async def cancel_subscription(
    session: AsyncSession, plans: PlanCatalog, caller: Caller
) -> SubscriptionState:
    """Cancel at period end; an unpaid (incomplete or past-due) subscription ends now."""
    subscription = await _locked(session, caller.workspace_id)
    now = utcnow()
    if subscription.status is SubscriptionStatus.active:
        if subscription.cancel_at_period_end:
            raise InvalidStateTransition("The subscription is already set to cancel.")
        subscription.cancel_at_period_end = True
        _audit(session, caller, "billing.subscription_cancel_scheduled", subscription)
    elif subscription.status in (SubscriptionStatus.incomplete, SubscriptionStatus.past_due):
        await _void_open_invoices(session, subscription, now)
        end_subscription(subscription, now)
        _audit(session, caller, "billing.subscription_canceled", subscription)
    else:
        raise InvalidStateTransition("The subscription is already canceled.")
    return await get_subscription_state(session, plans, caller.workspace_id)


def start_first_period(
    subscription: Subscription,
    plan: Plan,
    interval: BillingInterval,
    now: datetime,
    *,
    status: SubscriptionStatus,
    price: int,
    granted: bool,
) -> None:
    """`subscription` starts over on `plan`, its first period from `now`: nothing pending,
    nothing being retried, nothing left of what it was (a subscription paid for after a grant
    ended is not a grant; a grant replaces a paid one)."""
    subscription.plan_id = plan.id
    subscription.interval = SubscriptionInterval(interval)
    subscription.status = status
    subscription.price = price
    subscription.currency = plan.currency
    subscription.current_period_start = now
    subscription.usage_carried_from = None
    subscription.current_period_end = period_end_after(now, interval, now.day)
    subscription.anchor_day = now.day
    subscription.cancel_at_period_end = False
    subscription.pending_plan_id = None
    subscription.pending_interval = None
    subscription.dunning_retries = 0
    subscription.next_retry_at = None
    subscription.canceled_at = None
    subscription.granted = granted


def end_subscription(subscription: Subscription, now: datetime) -> None:
    """Back to free: the row stays as history, the limits become the free plan's."""
    subscription.status = SubscriptionStatus.canceled
    subscription.canceled_at = now
    subscription.cancel_at_period_end = False
    subscription.pending_plan_id = None
    subscription.pending_interval = None
    subscription.next_retry_at = None


async def resume_subscription(
    session: AsyncSession, plans: PlanCatalog, caller: Caller
) -> SubscriptionState:
    """Undo a cancel before the period ends."""
    subscription = await _locked(session, caller.workspace_id)
    if (
        subscription.status is not SubscriptionStatus.active
        or not subscription.cancel_at_period_end
        or utcnow() >= subscription.current_period_end
    ):
        raise InvalidStateTransition("Only a subscription set to cancel can be resumed.")
    subscription.cancel_at_period_end = False
    _audit(session, caller, "billing.subscription_resumed", subscription)
    return await get_subscription_state(session, plans, caller.workspace_id)


async def cancel_pending_change(
    session: AsyncSession, plans: PlanCatalog, caller: Caller
) -> SubscriptionState:
    subscription = await _locked(session, caller.workspace_id)
    if subscription.status is not SubscriptionStatus.active or (
        subscription.pending_plan_id is None and subscription.pending_interval is None
    ):
        raise InvalidStateTransition("The subscription has no scheduled change.")
    canceled_plan_id = subscription.pending_plan_id
    subscription.pending_plan_id = None
    subscription.pending_interval = None
    _audit(
        session,
        caller,
        "billing.subscription_change_canceled",
        subscription,
        canceled_plan_id=canceled_plan_id,
    )
    return await get_subscription_state(session, plans, caller.workspace_id)


async def _locked(session: AsyncSession, workspace_id: uuid.UUID) -> Subscription:
    subscription = await repository.get_subscription(session, workspace_id, for_update=True)
    if subscription is None:
        raise InvalidStateTransition("The workspace has no subscription.")
    return subscription
