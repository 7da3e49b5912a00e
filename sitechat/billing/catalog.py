"""Reading the plan catalog from a TOML file (the shipped `plans.toml` or the operator's own).

A file that does not hold a usable catalog is refused with one line naming the first problem
(`PlanCatalogError`), which `sitechat check-config` and `serve` show as is.
"""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sitechat.billing.plans import (
    DEFAULT_PLAN_ID,
    FEATURES,
    Plan,
    PlanCatalog,
    PlanLimits,
    PlanPrices,
)

SHIPPED_CATALOG = "plans.toml"

Count = Annotated[int, Field(ge=0)]


class PlanCatalogError(ValueError):
    pass


class _Prices(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: Count
    year: Count


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chatbots: Count
    messages_per_month: Count
    pages_per_month: Count
    members: Count
    crawl_max_pages: Count
    # Added with file sources and scheduled re-sync; a catalog written before keeps working.
    file_max_bytes: Count = 5_000_000
    syncs_per_week: Count = 1


class _Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=100)
    rank: int
    currency: str = Field("usd", pattern=r"^[a-z]{3}$")
    features: list[str] = Field(default_factory=list)
    rate_limit_scale: int = Field(1, ge=1, le=1000)
    prices: _Prices
    limits: _Limits


class _Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plans: list[_Plan] = Field(min_length=1)


def _first_error(error: ValidationError) -> str:
    item = error.errors()[0]
    location = ".".join(str(part) for part in item["loc"])
    return f"{location}: {item['msg']}"


def _plan(entry: _Plan) -> Plan:
    return Plan(
        id=entry.id,
        name=entry.name,
        prices=PlanPrices(month=entry.prices.month, year=entry.prices.year),
        limits=PlanLimits(**entry.limits.model_dump()),
        features=tuple(entry.features),
        rank=entry.rank,
        currency=entry.currency,
        rate_limit_scale=entry.rate_limit_scale,
    )


def parse_catalog(text: str, source: str) -> PlanCatalog:
    try:
        catalog = _Catalog.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as error:
        raise PlanCatalogError(f"{source} is not valid TOML: {error}") from None
    except ValidationError as error:
        raise PlanCatalogError(f"{source}: {_first_error(error)}") from None
    plans = tuple(_plan(entry) for entry in catalog.plans)
    ids = [plan.id for plan in plans]
    ranks = [plan.rank for plan in plans]
    for plan in plans:
        unknown = sorted(set(plan.features) - FEATURES.keys())
        if unknown:
            raise PlanCatalogError(
                f"{source}: plan {plan.id!r} lists {', '.join(unknown)}, which SiteChat does "
                f"not enforce (known features: {', '.join(FEATURES)})"
            )
    if len(set(ids)) != len(ids):
        raise PlanCatalogError(f"{source}: two plans share an id")
    if len(set(ranks)) != len(ranks):
        raise PlanCatalogError(f"{source}: two plans share a rank")
    free = next((plan for plan in plans if plan.id == DEFAULT_PLAN_ID), None)
    if free is None or not free.is_free:
        raise PlanCatalogError(
            f"{source}: needs a plan with id {DEFAULT_PLAN_ID!r} that costs nothing "
            "(the plan of a workspace without a subscription)"
        )
    return PlanCatalog(plans)


def load_catalog(path: Path | None) -> PlanCatalog:
    """The catalog in `path`, or the shipped one when `path` is None."""
    if path is None:
        text = (files("sitechat.billing") / SHIPPED_CATALOG).read_text(encoding="utf-8")
        return parse_catalog(text, SHIPPED_CATALOG)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PlanCatalogError(f"cannot read {path}: {error.strerror}") from None
    return parse_catalog(text, str(path))
