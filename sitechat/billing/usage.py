"""Usage metering and quota checks against the workspace's plan.

Counted from the rows the other domains write, so usage can never drift from reality:
chatbots = chatbots not archived; members = memberships; messages = `UsageEvent` rows of kind
`message` (recorded idempotently by the chat domain, one `event_key` per answer); pages =
`pages_indexed` of the crawl jobs and file-source runs created in the period.

The usage period is the subscription's current period for a monthly plan, the current month
of a yearly plan's period (anchored on the subscription's day), and the calendar month (UTC)
on the free plan.

`ensure_quota` takes a per-workspace transaction-level advisory lock before counting, so
concurrent requests of one workspace check and insert one after the other and never overshoot
a limit; the caller must insert what it counted in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.billing import repository
from sitechat.billing.plans import Plan, cheapest_plan_allowing
from sitechat.billing.proration import period_end_after
from sitechat.billing.service import effective_plan
from sitechat.core.clock import utcnow
from sitechat.core.errors import PaymentRequired
from sitechat.models.billing import Subscription, SubscriptionInterval, SubscriptionStatus

USAGE_BY_LIMIT: dict[str, str] = {
    "chatbots": "chatbots",
    "messages_per_month": "messages",
    "pages_per_month": "pages",
    "members": "members",
}
"""Plan limit name -> usage counter name (as in `GET /v1/billing/usage`)."""
_LIMIT_BY_USAGE = {usage: limit for limit, usage in USAGE_BY_LIMIT.items()}


@dataclass(frozen=True, slots=True)
class UsagePeriod:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class UsageReport:
    period: UsagePeriod
    plan: Plan
    usage: dict[str, int]
    limits: dict[str, int]


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    limit: str
    limit_value: int
    usage: int
    """Usage before the request that asked."""
    plan: Plan

    @property
    def remaining(self) -> int:
        return max(0, self.limit_value - self.usage)


def _calendar_month(now: datetime) -> UsagePeriod:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return UsagePeriod(start, period_end_after(start, "month", 1))


def usage_period(subscription: Subscription | None, now: datetime) -> UsagePeriod:
    if subscription is None or subscription.status not in (
        SubscriptionStatus.active,
        SubscriptionStatus.past_due,
    ):
        return _calendar_month(now)
    start = subscription.current_period_start
    end = subscription.current_period_end
    if subscription.interval is SubscriptionInterval.year:
        # Monthly limits on a yearly plan: the month of the period that holds `now`.
        month_end = period_end_after(start, "month", subscription.anchor_day)
        for _ in range(12):
            if month_end > now:
                break
            start, month_end = (
                month_end,
                period_end_after(month_end, "month", subscription.anchor_day),
            )
        end = min(month_end, end)
    return UsagePeriod(start, end)


async def _count(
    session: AsyncSession, workspace_id: uuid.UUID, usage_name: str, period: UsagePeriod
) -> int:
    if usage_name == "chatbots":
        return await repository.count_chatbots(session, workspace_id)
    if usage_name == "members":
        return await repository.count_members(session, workspace_id)
    if usage_name == "messages":
        return await repository.sum_messages(session, workspace_id, period.start, period.end)
    if usage_name == "pages":
        return await repository.sum_pages_indexed(session, workspace_id, period.start, period.end)
    raise ValueError(f"unknown usage counter {usage_name!r}")


async def usage_report(session: AsyncSession, workspace_id: uuid.UUID) -> UsageReport:
    subscription = await repository.get_subscription(session, workspace_id)
    plan = effective_plan(subscription)
    period = usage_period(subscription, utcnow())
    usage = {
        usage_name: await _count(session, workspace_id, usage_name, period)
        for usage_name in USAGE_BY_LIMIT.values()
    }
    limits = {
        usage_name: plan.limit(limit_name) for limit_name, usage_name in USAGE_BY_LIMIT.items()
    }
    return UsageReport(period=period, plan=plan, usage=usage, limits=limits)


def _limit_name(name: str) -> str:
    limit_name = _LIMIT_BY_USAGE.get(name, name)
    if limit_name not in USAGE_BY_LIMIT:
        raise ValueError(f"no quota is metered for {name!r}")
    return limit_name


async def quota_status(
    session: AsyncSession, workspace_id: uuid.UUID, limit_name: str
) -> QuotaStatus:
    """Usage against one limit, after taking the workspace's quota lock."""
    limit_name = _limit_name(limit_name)
    await repository.lock_workspace_quota(session, workspace_id)
    subscription = await repository.get_subscription(session, workspace_id)
    plan = effective_plan(subscription)
    period = usage_period(subscription, utcnow())
    used = await _count(session, workspace_id, USAGE_BY_LIMIT[limit_name], period)
    return QuotaStatus(limit=limit_name, limit_value=plan.limit(limit_name), usage=used, plan=plan)


async def ensure_quota(
    session: AsyncSession, workspace_id: uuid.UUID, limit_name: str, needed: int = 1
) -> QuotaStatus:
    """Raise 402 `quota-exceeded` unless `needed` more fits under the plan's `limit_name`.

    `limit_name` is a plan limit (`chatbots`, `messages_per_month`, `pages_per_month`,
    `members`) or its usage name (`messages`, `pages`). Call it in the transaction that then
    inserts the counted rows: the quota lock is held until that transaction ends. A crawl can
    cap its pages with the returned `remaining`.
    """
    status = await quota_status(session, workspace_id, limit_name)
    if status.usage + needed > status.limit_value:
        upgrade = cheapest_plan_allowing(status.limit, status.usage + needed)
        raise PaymentRequired(
            f"The {status.plan.name} plan allows {status.limit_value} {status.limit}; "
            f"{status.usage} are used.",
            extra={
                "limit": status.limit,
                "limit_value": status.limit_value,
                "usage": status.usage,
                "plan_id": status.plan.id,
                "upgrade_plan_id": upgrade.id if upgrade else None,
            },
        )
    return status


async def workspace_plan(session: AsyncSession, workspace_id: uuid.UUID) -> Plan:
    """The plan whose limits apply to the workspace now (no quota lock: for caps such as a
    file's size, not for counted usage)."""
    return effective_plan(await repository.get_subscription(session, workspace_id))
