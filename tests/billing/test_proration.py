from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from sitechat.billing.plans import BillingInterval
from sitechat.billing.proration import (
    period_end_after,
    plan_period_line,
    prorate_interval_change,
    prorate_plan_change,
    unused_time_credit,
)
from tests.fixtures.plans import SHIPPED_PLANS

STARTER = SHIPPED_PLANS.get("starter")
PRO = SHIPPED_PLANS.get("pro")
BUSINESS = SHIPPED_PLANS.get("business")

_CASES = 3000


def _random_case(
    rng: random.Random,
) -> tuple[int, int, datetime, datetime, datetime]:
    """Amounts and a change time inside a real billing period, in assorted time zones."""
    offset = timezone(timedelta(minutes=15 * rng.randint(-48, 56)))
    start = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10 * 365 * 86400))
    start = start.astimezone(offset).replace(microsecond=0)
    interval: BillingInterval = rng.choice(["month", "year"])
    end = period_end_after(start, interval, start.day)
    length = int((end - start).total_seconds())
    # Favour the edges of the period, where rounding mistakes hide.
    elapsed = rng.choice([0, 1, length - 1, length, rng.randrange(length + 1)])
    at = start + timedelta(
        seconds=elapsed, microseconds=rng.randrange(1_000_000) if elapsed < length else 0
    )
    return rng.randrange(200_000), rng.randrange(200_000), start, end, at


def _exact(amount: int, start: datetime, end: datetime, at: datetime) -> Fraction:
    remaining = int((end - at.replace(microsecond=0)).total_seconds())
    return Fraction(amount * remaining, int((end - start).total_seconds()))


class TestProratePlanChangeProperties:
    def test_lines_add_up_to_the_exact_net_rounded_down(self) -> None:
        rng = random.Random(6)
        for _ in range(_CASES):
            old, new, start, end, at = _random_case(rng)
            lines = prorate_plan_change(
                old_plan=STARTER,
                old_amount=old,
                new_plan=PRO,
                new_amount=new,
                period_start=start,
                period_end=end,
                at=at,
            )
            exact_net = _exact(new, start, end, at) - _exact(old, start, end, at)
            assert lines.total == math.floor(exact_net)
            assert lines.credit.amount + lines.charge.amount == lines.total

    def test_each_line_is_within_a_cent_and_credit_is_rounded_up(self) -> None:
        rng = random.Random(7)
        for _ in range(_CASES):
            old, new, start, end, at = _random_case(rng)
            lines = prorate_plan_change(
                old_plan=STARTER,
                old_amount=old,
                new_plan=PRO,
                new_amount=new,
                period_start=start,
                period_end=end,
                at=at,
            )
            credit = -lines.credit.amount
            assert credit == math.ceil(_exact(old, start, end, at))
            assert 0 <= credit <= old
            assert abs(lines.charge.amount - _exact(new, start, end, at)) < 1
            assert 0 <= lines.charge.amount <= new

    def test_credit_never_grows_as_the_period_passes(self) -> None:
        rng = random.Random(8)
        for _ in range(_CASES):
            old, _, start, end, at = _random_case(rng)
            later = min(end, at + timedelta(seconds=rng.randrange(1, 5 * 86400)))
            assert unused_time_credit(old, start, end, later) <= unused_time_credit(
                old, start, end, at
            )

    def test_switching_between_equal_prices_costs_nothing(self) -> None:
        rng = random.Random(9)
        for _ in range(_CASES):
            old, _, start, end, at = _random_case(rng)
            lines = prorate_plan_change(
                old_plan=STARTER,
                old_amount=old,
                new_plan=PRO,
                new_amount=old,
                period_start=start,
                period_end=end,
                at=at,
            )
            assert lines.total == 0


class TestProratePlanChange:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    end = datetime(2024, 4, 1, tzinfo=UTC)

    def _change(self, at: datetime) -> tuple[int, int]:
        lines = prorate_plan_change(
            old_plan=STARTER,
            old_amount=1_900,
            new_plan=PRO,
            new_amount=4_900,
            period_start=self.start,
            period_end=self.end,
            at=at,
        )
        return lines.credit.amount, lines.charge.amount

    def test_at_period_start_credits_everything_and_charges_the_full_price(self) -> None:
        assert self._change(self.start) == (-1_900, 4_900)

    def test_at_period_end_nothing_is_due_and_no_line_is_printed(self) -> None:
        lines = prorate_plan_change(
            old_plan=STARTER,
            old_amount=1_900,
            new_plan=PRO,
            new_amount=4_900,
            period_start=self.start,
            period_end=self.end,
            at=self.end,
        )
        assert (lines.credit.amount, lines.charge.amount, lines.total) == (0, 0, 0)
        assert lines.lines == ()

    def test_half_way_through_a_known_example(self) -> None:
        # 31-day March, upgrade after 15.5 days: exactly half of each price remains.
        assert self._change(self.start + timedelta(days=15, hours=12)) == (-950, 2_450)

    def test_lines_describe_and_bound_the_remaining_time(self) -> None:
        at = datetime(2024, 3, 10, 8, 30, tzinfo=UTC)
        lines = prorate_plan_change(
            old_plan=STARTER,
            old_amount=1_900,
            new_plan=PRO,
            new_amount=4_900,
            period_start=self.start,
            period_end=self.end,
            at=at,
        )
        assert [line.kind for line in lines.lines] == ["proration_credit", "proration_charge"]
        assert lines.credit.plan_id == "starter"
        assert lines.charge.plan_id == "pro"
        assert lines.credit.description == "Unused time on Starter from 2024-03-10 to 2024-04-01"
        assert (lines.charge.period_start, lines.charge.period_end) == (at, self.end)

    def test_sub_second_part_of_the_change_time_is_ignored(self) -> None:
        at = datetime(2024, 3, 10, 8, 30, 1, tzinfo=UTC)
        assert self._change(at) == self._change(at.replace(microsecond=999_999))

    def test_time_is_measured_in_real_seconds_across_daylight_saving(self) -> None:
        new_york = ZoneInfo("America/New_York")
        start = datetime(2024, 3, 1, tzinfo=new_york)
        end = datetime(2024, 4, 1, tzinfo=new_york)  # one hour shorter than 31 days
        at = datetime(2024, 3, 31, tzinfo=new_york)
        credit = unused_time_credit(199_000, start, end, at)
        assert credit == math.ceil(Fraction(199_000 * 86_400, 31 * 86_400 - 3_600)) == 6_428

    @pytest.mark.parametrize(
        ("start", "end", "at", "message"),
        [
            (start, end, end + timedelta(seconds=1), "within the billing period"),
            (start, end, start - timedelta(seconds=1), "within the billing period"),
            (end, start, start, "after period_start"),
            (start, end, datetime(2024, 3, 5), "timezone-aware"),
        ],
    )
    def test_rejects_impossible_periods(
        self, start: datetime, end: datetime, at: datetime, message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            prorate_plan_change(
                old_plan=STARTER,
                old_amount=1_900,
                new_plan=PRO,
                new_amount=4_900,
                period_start=start,
                period_end=end,
                at=at,
            )

    def test_rejects_negative_prices(self) -> None:
        with pytest.raises(ValueError, match="old_amount"):
            prorate_plan_change(
                old_plan=STARTER,
                old_amount=-1,
                new_plan=PRO,
                new_amount=4_900,
                period_start=self.start,
                period_end=self.end,
                at=self.start,
            )


class TestProrateIntervalChange:
    def test_month_to_year_credits_unused_time_and_charges_a_full_year_from_now(self) -> None:
        start = datetime(2024, 1, 31, tzinfo=UTC)
        end = period_end_after(start, "month", 31)  # 2024-02-29
        at = datetime(2024, 2, 10, 12, tzinfo=UTC)
        lines = prorate_interval_change(
            old_plan=PRO,
            old_amount=4_900,
            new_plan=PRO,
            new_interval="year",
            period_start=start,
            period_end=end,
            at=at,
        )
        expected_credit = math.ceil(
            Fraction(4_900 * int((end - at).total_seconds()), int((end - start).total_seconds()))
        )
        assert lines.credit.amount == -expected_credit
        assert lines.charge.kind == "plan"
        assert lines.charge.amount == 49_000
        assert (lines.charge.period_start, lines.charge.period_end) == (
            at,
            datetime(2025, 2, 10, 12, tzinfo=UTC),
        )
        assert lines.total == 49_000 - expected_credit

    def test_at_period_end_only_the_new_period_is_charged(self) -> None:
        start = datetime(2024, 5, 1, tzinfo=UTC)
        end = datetime(2024, 6, 1, tzinfo=UTC)
        lines = prorate_interval_change(
            old_plan=STARTER,
            old_amount=1_900,
            new_plan=BUSINESS,
            new_interval="year",
            period_start=start,
            period_end=end,
            at=end,
        )
        assert [line.kind for line in lines.lines] == ["plan"]
        assert lines.total == 199_000


class TestPeriodEndAfter:
    def test_month_end_anchor_clamps_and_comes_back(self) -> None:
        moments = [datetime(2024, 1, 31, 9, 15, tzinfo=UTC)]
        for _ in range(4):
            moments.append(period_end_after(moments[-1], "month", 31))
        assert [moment.date().isoformat() for moment in moments] == [
            "2024-01-31",
            "2024-02-29",
            "2024-03-31",
            "2024-04-30",
            "2024-05-31",
        ]
        assert all(moment.time().isoformat() == "09:15:00" for moment in moments)

    def test_february_in_a_common_year(self) -> None:
        end = period_end_after(datetime(2023, 1, 30, tzinfo=UTC), "month", 30)
        assert end == datetime(2023, 2, 28, tzinfo=UTC)

    def test_december_rolls_into_the_next_year(self) -> None:
        end = period_end_after(datetime(2024, 12, 15, tzinfo=UTC), "month", 15)
        assert end == datetime(2025, 1, 15, tzinfo=UTC)

    def test_leap_day_anchor_over_years(self) -> None:
        moments = [datetime(2024, 2, 29, tzinfo=UTC)]
        for _ in range(4):
            moments.append(period_end_after(moments[-1], "year", 29))
        assert [moment.date().isoformat() for moment in moments] == [
            "2024-02-29",
            "2025-02-28",
            "2026-02-28",
            "2027-02-28",
            "2028-02-29",
        ]

    def test_keeps_the_time_zone(self) -> None:
        paris = ZoneInfo("Europe/Paris")
        end = period_end_after(datetime(2024, 3, 15, 10, tzinfo=paris), "month", 15)
        assert end.tzinfo is paris
        assert end.hour == 10

    def test_rejects_a_start_off_its_anchor_day(self) -> None:
        with pytest.raises(ValueError, match="anchor day"):
            period_end_after(datetime(2024, 3, 15, tzinfo=UTC), "month", 31)

    def test_rejects_impossible_anchor_days(self) -> None:
        with pytest.raises(ValueError, match="between 1 and 31"):
            period_end_after(datetime(2024, 3, 15, tzinfo=UTC), "month", 32)


class TestPlanPeriodLine:
    def test_full_period_line_at_catalog_price(self) -> None:
        start = datetime(2024, 3, 1, tzinfo=UTC)
        line = plan_period_line(PRO, "year", period_start=start, period_end=start)
        assert (line.kind, line.amount, line.quantity, line.plan_id) == ("plan", 49_000, 1, "pro")
        assert line.description.startswith("Pro plan (yearly)")

    def test_stored_price_overrides_catalog(self) -> None:
        start = datetime(2024, 3, 1, tzinfo=UTC)
        line = plan_period_line(PRO, "month", period_start=start, period_end=start, amount=3_900)
        assert line.amount == 3_900
