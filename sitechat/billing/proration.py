"""Billing-period arithmetic and proration, as pure integer math.

Every amount is an integer number of minor units (cents). Time is measured in whole seconds of
real (UTC) time: each datetime must be timezone-aware, is converted to UTC, and loses its
sub-second part, so a period that crosses a daylight-saving change is exactly as long as it
really is. Nothing here reads a clock or a database.

Proration of a plan change at time `at` inside a paid period `[period_start, period_end)`:
with `T` the period length and `r` the remaining time `period_end - at` (both in seconds),

- the exact credit for unused time on the old plan is `old_amount * r / T`,
- the exact charge for the remaining time on the new plan is `new_amount * r / T`.

Rounding rule (always in the customer's favour, and rounded once so totals never drift):

1. The net of the change, `(new_amount - old_amount) * r / T`, is rounded down (floor): the
   customer pays at most the exact amount, or receives at least the exact credit.
2. The credit line is the exact credit rounded up (ceiling): the customer never loses a
   fraction of a cent they paid for. It never exceeds what was paid for the period.
3. The charge line is the net minus the credit line, so the lines always add up to the
   floored net. It is the exact charge rounded down or up, never off by a whole cent, never
   negative and never more than the new plan's price for a full period.

At `at == period_start` the credit is the whole old amount and the charge the whole new amount;
at `at == period_end` both are zero.

Interval change (for example month to year) at time `at`: the unused time of the current
period is credited with the same ceiling rule, and a new period of the new interval starts at
`at` (its anchor day becomes `at`'s day) and is charged in full. The invoice total is therefore
`new_price - ceil(old_amount * r / T)`. A change that would leave a credit larger than the
charge (year to month) is better scheduled for the period end; the math still holds and the
negative total is the customer's balance credit.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sitechat.billing.plans import BillingInterval, Plan

InvoiceLineKind = Literal["plan", "proration_credit", "proration_charge", "overage"]

_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    kind: InvoiceLineKind
    description: str
    amount: int
    """Signed total of the line in minor units: credits are negative."""
    quantity: int
    period_start: datetime
    period_end: datetime
    plan_id: str | None


@dataclass(frozen=True, slots=True)
class ProrationLines:
    credit: InvoiceLine
    """Unused time on the old plan; amount <= 0."""
    charge: InvoiceLine
    """Remaining time on the new plan (or the new full period for an interval change)."""

    @property
    def total(self) -> int:
        return self.credit.amount + self.charge.amount

    @property
    def lines(self) -> tuple[InvoiceLine, ...]:
        """The lines worth printing on an invoice: zero-amount lines are left out."""
        return tuple(line for line in (self.credit, self.charge) if line.amount != 0)


def _to_whole_second_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("billing datetimes must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def _seconds_between(start: datetime, end: datetime) -> int:
    # Both sides are converted to UTC first: subtracting two datetimes that share one tzinfo
    # compares wall clocks, which is off by an hour across a daylight-saving change.
    return (_to_whole_second_utc(end) - _to_whole_second_utc(start)) // _ONE_SECOND


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _check_change_inside_period(period_start: datetime, period_end: datetime, at: datetime) -> None:
    if _seconds_between(period_start, period_end) <= 0:
        raise ValueError("period_end must be after period_start")
    if _seconds_between(period_start, at) < 0 or _seconds_between(at, period_end) < 0:
        raise ValueError("the change time must lie within the billing period")


def _check_amount(name: str, amount: int) -> None:
    if amount < 0:
        raise ValueError(f"{name} must not be negative")


def unused_time_credit(
    amount: int, period_start: datetime, period_end: datetime, at: datetime
) -> int:
    """What `amount` paid for the whole period is worth after `at`, rounded up (positive)."""
    _check_amount("amount", amount)
    _check_change_inside_period(period_start, period_end, at)
    period_seconds = _seconds_between(period_start, period_end)
    remaining_seconds = _seconds_between(at, period_end)
    return _ceil_div(amount * remaining_seconds, period_seconds)


def _day(moment: datetime) -> str:
    return _to_whole_second_utc(moment).strftime("%Y-%m-%d")


def _credit_line(plan: Plan, amount: int, at: datetime, period_end: datetime) -> InvoiceLine:
    return InvoiceLine(
        kind="proration_credit",
        description=f"Unused time on {plan.name} from {_day(at)} to {_day(period_end)}",
        amount=-amount,
        quantity=1,
        period_start=at,
        period_end=period_end,
        plan_id=plan.id,
    )


def prorate_plan_change(
    *,
    old_plan: Plan,
    old_amount: int,
    new_plan: Plan,
    new_amount: int,
    period_start: datetime,
    period_end: datetime,
    at: datetime,
) -> ProrationLines:
    """Credit and charge lines for switching plans at `at`, keeping the current period.

    `old_amount` is what was actually paid for the period (it may differ from today's catalog
    price); `new_amount` is the new plan's price for the same interval. See the module
    docstring for the rounding rule.
    """
    _check_amount("old_amount", old_amount)
    _check_amount("new_amount", new_amount)
    _check_change_inside_period(period_start, period_end, at)
    period_seconds = _seconds_between(period_start, period_end)
    remaining_seconds = _seconds_between(at, period_end)

    net = ((new_amount - old_amount) * remaining_seconds) // period_seconds
    credit = _ceil_div(old_amount * remaining_seconds, period_seconds)
    charge = net + credit

    change_at = _to_whole_second_utc(at)
    end = _to_whole_second_utc(period_end)
    return ProrationLines(
        credit=_credit_line(old_plan, credit, change_at, end),
        charge=InvoiceLine(
            kind="proration_charge",
            description=f"Remaining time on {new_plan.name} from {_day(change_at)} to {_day(end)}",
            amount=charge,
            quantity=1,
            period_start=change_at,
            period_end=end,
            plan_id=new_plan.id,
        ),
    )


def prorate_interval_change(
    *,
    old_plan: Plan,
    old_amount: int,
    new_plan: Plan,
    new_interval: BillingInterval,
    period_start: datetime,
    period_end: datetime,
    at: datetime,
) -> ProrationLines:
    """Credit the unused time and start a full new period of `new_interval` at `at`.

    The charge line is a `plan` line whose period is the new period; its end comes from
    `period_end_after(at, new_interval, at.day)`, so `at`'s day becomes the new anchor day.
    """
    credit = unused_time_credit(old_amount, period_start, period_end, at)
    change_at = _to_whole_second_utc(at)
    return ProrationLines(
        credit=_credit_line(old_plan, credit, change_at, _to_whole_second_utc(period_end)),
        charge=plan_period_line(
            new_plan,
            new_interval,
            period_start=change_at,
            period_end=period_end_after(change_at, new_interval, change_at.day),
        ),
    )


def plan_period_line(
    plan: Plan,
    interval: BillingInterval,
    *,
    period_start: datetime,
    period_end: datetime,
    amount: int | None = None,
) -> InvoiceLine:
    """The line for a full period of `plan` (a subscription start or a renewal).

    `amount` defaults to the catalog price for `interval`.
    """
    price = plan.price_for(interval) if amount is None else amount
    _check_amount("amount", price)
    interval_label = "monthly" if interval == "month" else "yearly"
    return InvoiceLine(
        kind="plan",
        description=(
            f"{plan.name} plan ({interval_label}) from {_day(period_start)} to {_day(period_end)}"
        ),
        amount=price,
        quantity=1,
        period_start=period_start,
        period_end=period_end,
        plan_id=plan.id,
    )


def _clamped_day(year: int, month: int, anchor_day: int) -> int:
    return min(anchor_day, calendar.monthrange(year, month)[1])


def period_end_after(start: datetime, interval: BillingInterval, anchor_day: int) -> datetime:
    """The end of the period that starts at `start`: one month or one year later.

    The day of month follows the subscription's `anchor_day` (the day it started), clamped to
    the length of the month: with anchor 31, Jan 31 -> Feb 28 (29 in a leap year) -> Mar 31.
    The time of day and the timezone of `start` are kept.
    """
    if not 1 <= anchor_day <= 31:
        raise ValueError("anchor_day must be between 1 and 31")
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("billing datetimes must be timezone-aware")
    if start.day != _clamped_day(start.year, start.month, anchor_day):
        raise ValueError("start does not fall on the anchor day of its month")
    if interval == "year":
        year, month = start.year + 1, start.month
    else:
        # `year * 12 + month` is the zero-based index of the following month.
        year, zero_based_month = divmod(start.year * 12 + start.month, 12)
        month = zero_based_month + 1
    return start.replace(year=year, month=month, day=_clamped_day(year, month, anchor_day))
