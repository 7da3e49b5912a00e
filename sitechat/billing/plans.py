"""The plan catalog, as code.

Plans change with a deploy, not at runtime: prices and limits are part of the product and are
reviewed like code. Subscriptions store the plan id and the price they were charged, so a later
price change never rewrites an existing invoice.

Money is in integer minor units (cents). Yearly prices are ten times the monthly ones (two
months free), the usual SaaS discount.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

BillingInterval = Literal["month", "year"]
BILLING_INTERVALS: tuple[BillingInterval, ...] = ("month", "year")

DEFAULT_PLAN_ID = "free"
"""The plan of a workspace without a subscription, and the fallback after failed dunning."""


class UnknownPlanError(KeyError):
    """No plan has this id (a KeyError, so `plan_id in catalog`-style callers keep working)."""

    def __init__(self, plan_id: str) -> None:
        super().__init__(plan_id)
        self.plan_id = plan_id

    def __str__(self) -> str:
        return f"unknown plan {self.plan_id!r}"


@dataclass(frozen=True, slots=True)
class PlanPrices:
    month: int
    year: int

    def for_interval(self, interval: BillingInterval) -> int:
        return self.month if interval == "month" else self.year


@dataclass(frozen=True, slots=True)
class PlanLimits:
    chatbots: int
    messages_per_month: int
    pages_per_month: int
    members: int
    crawl_max_pages: int
    """Most pages one crawl job may fetch, whatever the monthly allowance left."""


LIMIT_NAMES: tuple[str, ...] = tuple(field.name for field in fields(PlanLimits))


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    name: str
    prices: PlanPrices
    limits: PlanLimits
    features: tuple[str, ...]
    rank: int
    """Position in the upgrade ladder: a higher rank is an upgrade."""
    currency: str = "usd"

    @property
    def is_free(self) -> bool:
        return self.prices.month == 0 and self.prices.year == 0

    def price_for(self, interval: BillingInterval) -> int:
        return self.prices.for_interval(interval)

    def limit(self, limit_name: str) -> int:
        if limit_name not in LIMIT_NAMES:
            raise ValueError(f"unknown plan limit {limit_name!r}")
        value: int = getattr(self.limits, limit_name)
        return value


FREE = Plan(
    id="free",
    name="Free",
    prices=PlanPrices(month=0, year=0),
    limits=PlanLimits(
        chatbots=1,
        messages_per_month=100,
        pages_per_month=50,
        members=1,
        crawl_max_pages=50,
    ),
    features=("widget", "api_access"),
    rank=0,
)

STARTER = Plan(
    id="starter",
    name="Starter",
    prices=PlanPrices(month=1_900, year=19_000),
    limits=PlanLimits(
        chatbots=3,
        messages_per_month=2_000,
        pages_per_month=1_000,
        members=3,
        crawl_max_pages=500,
    ),
    features=("widget", "api_access", "remove_branding"),
    rank=1,
)

PRO = Plan(
    id="pro",
    name="Pro",
    prices=PlanPrices(month=4_900, year=49_000),
    limits=PlanLimits(
        chatbots=10,
        messages_per_month=10_000,
        pages_per_month=10_000,
        members=10,
        crawl_max_pages=2_000,
    ),
    features=("widget", "api_access", "remove_branding", "openai_compatible_api", "analytics"),
    rank=2,
)

BUSINESS = Plan(
    id="business",
    name="Business",
    prices=PlanPrices(month=19_900, year=199_000),
    limits=PlanLimits(
        chatbots=50,
        messages_per_month=50_000,
        pages_per_month=50_000,
        members=50,
        crawl_max_pages=10_000,
    ),
    features=(
        "widget",
        "api_access",
        "remove_branding",
        "openai_compatible_api",
        "analytics",
        "priority_support",
    ),
    rank=3,
)

PLANS: tuple[Plan, ...] = tuple(sorted((FREE, STARTER, PRO, BUSINESS), key=lambda plan: plan.rank))
_PLANS_BY_ID: dict[str, Plan] = {plan.id: plan for plan in PLANS}


def get_plan(plan_id: str) -> Plan:
    try:
        return _PLANS_BY_ID[plan_id]
    except KeyError:
        raise UnknownPlanError(plan_id) from None


def cheapest_plan_allowing(limit_name: str, needed: int) -> Plan | None:
    """The lowest-ranked plan whose `limit_name` is at least `needed`; None when none is.

    `needed` is the total that must fit (current usage plus what the request adds), so the 402
    quota problem can name the plan that would have accepted the request.
    """
    if limit_name not in LIMIT_NAMES:
        raise ValueError(f"unknown plan limit {limit_name!r}")
    for plan in PLANS:
        if plan.limit(limit_name) >= needed:
            return plan
    return None
