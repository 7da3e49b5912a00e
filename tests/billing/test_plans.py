from __future__ import annotations

import dataclasses
import itertools

import pytest

from sitechat.billing.plans import DEFAULT_PLAN_ID, LIMIT_NAMES, UnknownPlanError
from sitechat.config import CrawlSettings
from tests.fixtures.plans import SHIPPED_PLANS

PLANS = SHIPPED_PLANS.plans


class TestCatalog:
    def test_plans_are_ordered_by_rank_with_unique_ids(self) -> None:
        assert [plan.rank for plan in PLANS] == sorted({plan.rank for plan in PLANS})
        assert [plan.id for plan in PLANS] == ["free", "starter", "pro", "business"]

    def test_default_plan_is_free_and_costs_nothing(self) -> None:
        free = SHIPPED_PLANS.get(DEFAULT_PLAN_ID)
        assert free.is_free
        assert free.price_for("month") == 0
        assert free.price_for("year") == 0

    def test_a_default_server_crawls_as_many_pages_as_every_plan_sells(self) -> None:
        # A Business customer asking for its plan's 10,000 pages got the server's 422 when the
        # default cap was 5,000.
        server_cap = CrawlSettings.model_fields["max_pages_cap"].default
        assert all(plan.limits.crawl_max_pages <= server_cap for plan in PLANS)

    def test_each_upgrade_costs_more_and_allows_at_least_as_much(self) -> None:
        for lower, higher in itertools.pairwise(PLANS):
            assert higher.prices.month > lower.prices.month
            for limit_name in LIMIT_NAMES:
                assert higher.limit(limit_name) >= lower.limit(limit_name)
            assert set(lower.features) <= set(higher.features)

    def test_yearly_price_is_ten_months(self) -> None:
        for plan in PLANS:
            assert plan.prices.year == 10 * plan.prices.month
            assert plan.currency == "usd"

    def test_plans_cannot_be_changed_at_runtime(self) -> None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            SHIPPED_PLANS.get("pro").rank = 99  # type: ignore[misc]


class TestGetPlan:
    def test_returns_the_plan(self) -> None:
        assert SHIPPED_PLANS.get("pro").name == "Pro"

    def test_unknown_plan_is_a_key_error_naming_the_id(self) -> None:
        with pytest.raises(UnknownPlanError) as caught:
            SHIPPED_PLANS.get("enterprise")
        assert isinstance(caught.value, KeyError)
        assert caught.value.plan_id == "enterprise"
        assert "enterprise" in str(caught.value)


class TestCheapestPlanAllowing:
    def test_names_the_first_plan_that_fits(self) -> None:
        assert SHIPPED_PLANS.cheapest_allowing("chatbots", 1) == SHIPPED_PLANS.get("free")
        assert SHIPPED_PLANS.cheapest_allowing("chatbots", 2) == SHIPPED_PLANS.get("starter")
        assert SHIPPED_PLANS.cheapest_allowing("chatbots", 4) == SHIPPED_PLANS.get("pro")
        assert SHIPPED_PLANS.cheapest_allowing("messages_per_month", 10_001) == SHIPPED_PLANS.get(
            "business"
        )

    def test_exact_limit_fits(self) -> None:
        starter = SHIPPED_PLANS.get("starter")
        assert (
            SHIPPED_PLANS.cheapest_allowing("pages_per_month", starter.limits.pages_per_month)
            == starter
        )

    def test_none_when_no_plan_is_big_enough(self) -> None:
        assert (
            SHIPPED_PLANS.cheapest_allowing(
                "members", SHIPPED_PLANS.get("business").limits.members + 1
            )
            is None
        )

    def test_unknown_limit_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="unknown plan limit"):
            SHIPPED_PLANS.cheapest_allowing("storage_gb", 1)
