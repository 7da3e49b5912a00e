"""Which limit applies where: route classes, their limits, and what a storage outage does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Final

from limits import RateLimitItem, parse


class RouteClass(StrEnum):
    """Groups of routes that share one limit; a route declares its class."""

    AUTH = "auth"
    READ = "read"
    WRITE = "write"
    CHAT = "chat"
    CRAWL_START = "crawl_start"
    PUBLIC_WIDGET = "public_widget"


class StorageFailurePolicy(StrEnum):
    FAIL_OPEN = "fail_open"
    FAIL_CLOSED = "fail_closed"


DEFAULT_LIMITS: Final[Mapping[RouteClass, str]] = {
    RouteClass.AUTH: "10/minute",
    RouteClass.READ: "600/minute",
    RouteClass.WRITE: "120/minute",
    RouteClass.CHAT: "60/minute",
    RouteClass.CRAWL_START: "10/hour",
    RouteClass.PUBLIC_WIDGET: "30/minute",
}


@dataclass(frozen=True)
class RateLimitPolicy:
    """Limit per route class, in `limits` notation ("600/minute", "10 per 15 minutes")."""

    limits: Mapping[RouteClass, str] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    # Login must not become unthrottled password guessing while Redis is down.
    fail_closed: frozenset[RouteClass] = frozenset({RouteClass.AUTH})
    # Classes reachable without an account are also limited per client IP, even when a
    # narrower identity (a widget visitor) is known, so one host cannot mint identities.
    also_per_ip: frozenset[RouteClass] = frozenset({RouteClass.AUTH, RouteClass.PUBLIC_WIDGET})
    # Classes that protect shared capacity (answers, crawls) are charged to the workspace as
    # well as to the credential: all its keys and people together.
    per_workspace: frozenset[RouteClass] = frozenset({RouteClass.CHAT, RouteClass.CRAWL_START})

    def redis_fail_policy(self, route_class: RouteClass) -> StorageFailurePolicy:
        if route_class in self.fail_closed:
            return StorageFailurePolicy.FAIL_CLOSED
        return StorageFailurePolicy.FAIL_OPEN


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """A parsed limit: its `limits` item (amount, bucket keys), window and header value."""

    item: RateLimitItem
    window_seconds: int
    policy_header_value: str


@lru_cache(maxsize=512)
def limit_spec(limit_string: str) -> LimitSpec:
    item = parse(limit_string)
    window = item.get_expiry()
    return LimitSpec(
        item=item, window_seconds=window, policy_header_value=f"{item.amount};w={window}"
    )


@lru_cache(maxsize=512)
def scaled_limit(limit_string: str, scale: int) -> str:
    """`limit_string` with `scale` times the amount in the same window ("60/minute", 5 ->
    "300 per 60 seconds"): a plan's limits are the configured ones times its factor."""
    spec = limit_spec(limit_string)
    return f"{spec.item.amount * scale} per {spec.window_seconds} seconds"
