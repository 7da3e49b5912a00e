"""Usage periods: the window a workspace's monthly limits count in (see `billing/usage.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sitechat.billing.proration import period_end_after
from sitechat.models.billing import Subscription, SubscriptionInterval, SubscriptionStatus


@dataclass(frozen=True, slots=True)
class UsagePeriod:
    start: datetime
    end: datetime


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
    carried_from = subscription.usage_carried_from
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
    if carried_from is not None and start == subscription.current_period_start:
        start = min(start, carried_from)
    return UsagePeriod(start, end)
