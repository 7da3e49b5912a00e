"""Plans given by the operator (`sitechat admin set-plan`), without billing.

A grant is an `active` subscription with `granted` set and a price of 0: its limits apply like a
paid plan's, its periods roll on at each renewal without an invoice or a charge
(`renewal.py`), and it replaces whatever subscription the workspace had (a paid one is ended
first, without a refund: the operator decides that outside SiteChat). Granting the free plan
ends the workspace's subscription.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.audit.service import record_audit_event
from sitechat.billing import repository
from sitechat.billing.plans import BillingInterval, Plan
from sitechat.billing.service import end_subscription, start_first_period
from sitechat.core.clock import utcnow
from sitechat.models.billing import Subscription, SubscriptionStatus

log = structlog.get_logger()


async def grant_plan(
    session: AsyncSession, workspace_id: uuid.UUID, plan: Plan, interval: BillingInterval
) -> Subscription | None:
    """Put the workspace on `plan` now; None when that is the free plan (no subscription)."""
    now = utcnow().replace(microsecond=0)
    subscription = await repository.get_subscription(session, workspace_id, for_update=True)
    if plan.is_free:
        if subscription is not None and subscription.status is not SubscriptionStatus.canceled:
            end_subscription(subscription, now)
            _audit(session, workspace_id, plan, interval)
        return None
    if subscription is None:
        subscription = Subscription(workspace_id=workspace_id)
        session.add(subscription)
    start_first_period(
        subscription,
        plan,
        interval,
        now,
        status=SubscriptionStatus.active,
        price=0,
        granted=True,
    )
    subscription.carried_balance = 0  # a grant starts without the old subscription's credit
    await session.flush()
    _audit(session, workspace_id, plan, interval)
    return subscription


def _audit(
    session: AsyncSession, workspace_id: uuid.UUID, plan: Plan, interval: BillingInterval
) -> None:
    record_audit_event(
        session,
        action="billing.plan_granted",
        workspace_id=workspace_id,
        details={"plan_id": plan.id, "interval": interval, "by": "operator"},
    )
    log.info("billing.plan_granted", workspace_id=str(workspace_id), plan_id=plan.id)
