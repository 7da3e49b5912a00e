"""The plans: their limits, prices and features, and the catalog the process uses.

The catalog is read from a TOML file (`sitechat/billing/catalog.py`): the one shipped in the
package (`plans.toml`, today's plans) unless the operator names their own with
`SITECHAT_BILLING_PLANS_FILE`. It is loaded once when the process starts and never changes
while it runs: the `PlanCatalog` component of the process state (`core/state.py`), handed to
what needs a plan (`billing/dependencies.py: PlansDep` in a request). Subscriptions store
the plan id and the price they were charged, so a later price change never rewrites an
existing invoice.

Money is in integer minor units (cents). Yearly prices are ten times the monthly ones (two
months free), the usual SaaS discount.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

BillingInterval = Literal["month", "year"]
BILLING_INTERVALS: tuple[BillingInterval, ...] = ("month", "year")

FEATURES: dict[str, str] = {
    "widget": "the website widget (public chatbots)",
    "api_access": "API keys",
    "openai_compatible_api": "the OpenAI-compatible API (/v1/chat/completions)",
}
"""Every feature a plan may list, each enforced where it is used (402 `quota-exceeded`
otherwise): a catalog cannot promise what SiteChat does not check."""

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
    file_max_bytes: int = 5_000_000
    """Largest file a file source may upload (413 above it)."""
    syncs_per_week: int = 1
    """How often a source may re-sync on a schedule: 1 allows `weekly`, 7 `daily` too."""


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
    rate_limit_scale: int = 1
    """Factor on the configured request rate limits for this plan's workspaces (ADR
    "per-plan rate limits"); anonymous callers and widget visitors get the configured ones."""

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


class PlanCatalog:
    """The plans of this deployment, ordered by rank."""

    def __init__(self, plans: tuple[Plan, ...]) -> None:
        self.plans = tuple(sorted(plans, key=lambda plan: plan.rank))
        self._by_id = {plan.id: plan for plan in self.plans}

    def get(self, plan_id: str) -> Plan:
        try:
            return self._by_id[plan_id]
        except KeyError:
            raise UnknownPlanError(plan_id) from None

    def cheapest_allowing(self, limit_name: str, needed: int) -> Plan | None:
        """The lowest-ranked plan whose `limit_name` is at least `needed`; None when none is.

        `needed` is the total that must fit (current usage plus what the request adds), so the
        402 quota problem can name the plan that would have accepted the request.
        """
        if limit_name not in LIMIT_NAMES:
            raise ValueError(f"unknown plan limit {limit_name!r}")
        for plan in self.plans:
            if plan.limit(limit_name) >= needed:
                return plan
        return None

    def cheapest_with(self, feature: str) -> Plan | None:
        """The lowest-ranked plan that lists `feature`, for the 402 problem's upgrade path."""
        return next((plan for plan in self.plans if feature in plan.features), None)
