"""The limiter: a check against the route class's bucket, in Redis or in memory, and what an
unreachable storage does.

Storage failure (Redis down or slow): each route class either fails open (request allowed, a
`ratelimit.storage_unavailable` warning logged, no rate-limit headers) or fails closed
(`RateLimitUnavailable`, rendered as 503). After a failure the storage is not retried for
`storage_retry_after_seconds`, so an outage costs one timeout per interval, not one per request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import cast

import structlog
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from redis.asyncio import Redis

from sitechat.core.ratelimit.decision import (
    RateLimitDecision,
    RateLimitExceeded,
    RateLimitUnavailable,
    decision_of,
    more_restrictive,
    unenforced,
)
from sitechat.core.ratelimit.memory import LocalWindows
from sitechat.core.ratelimit.policy import (
    LimitSpec,
    RateLimitPolicy,
    RouteClass,
    StorageFailurePolicy,
    limit_spec,
    scaled_limit,
)
from sitechat.core.ratelimit.redis import RedisBatches
from sitechat.core.ratelimit.storage import create_storage, storage_exceptions
from sitechat.core.ratelimit.subjects import RateLimitSubject
from sitechat.core.ratelimit.window import HIT_AND_REPORT_LUA, Check

log = structlog.get_logger()


class RateLimiter:
    def __init__(
        self,
        storage_uri: str | None,
        policy: RateLimitPolicy | None = None,
        *,
        key_prefix: str = "sitechat",
        storage_timeout_seconds: float = 0.5,
        storage_retry_after_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` times the in-memory windows (tests move it); Redis keeps its own time."""
        self.policy = policy or RateLimitPolicy()
        self.storage = create_storage(
            storage_uri, key_prefix=key_prefix, timeout_seconds=storage_timeout_seconds
        )
        self._class_specs = {rc: limit_spec(self.policy.limits[rc]) for rc in RouteClass}
        self._retry_after = storage_retry_after_seconds
        self._storage_down_until = 0.0
        self._storage_errors = storage_exceptions(self.storage)
        self._redis: Redis | None = None
        self._redis_batches: RedisBatches | None = None
        self._local = LocalWindows(clock)
        if isinstance(self.storage, RedisStorage):
            # Reuse the redis-py client limits built for this storage: one connection pool.
            self._redis = cast(Redis, cast(RedispyBridge, self.storage.bridge).get_connection())
            self._redis_batches = RedisBatches(
                self._redis.register_script(HIT_AND_REPORT_LUA), self.storage.bridge.key_prefix
            )

    async def hit(
        self,
        route_class: RouteClass,
        key: str,
        cost: int = 1,
        limit_override: str | None = None,
    ) -> RateLimitDecision:
        """Consume `cost` from the bucket of `key` in `route_class`.

        Raises RateLimitUnavailable when the storage is down and the class fails closed.
        """
        spec = limit_spec(limit_override) if limit_override else self._class_specs[route_class]
        check = Check(
            spec.item.key_for(route_class, key), spec.item.amount, spec.window_seconds, cost
        )
        if self._redis_batches is None:
            return decision_of(spec, *self._local.hit(check), cost)
        if time.monotonic() < self._storage_down_until:
            return self._storage_failure(route_class, spec, error=None)
        try:
            allowed, state = await self._redis_batches.hit(check)
        except self._storage_errors as error:
            self._storage_down_until = time.monotonic() + self._retry_after
            return self._storage_failure(route_class, spec, error=error)
        return decision_of(spec, allowed, state, cost)

    def _storage_failure(
        self, route_class: RouteClass, spec: LimitSpec, error: BaseException | None
    ) -> RateLimitDecision:
        policy = self.policy.redis_fail_policy(route_class)
        if error is not None:
            log.warning(
                "ratelimit.storage_unavailable",
                route_class=route_class.value,
                policy=policy.value,
                error=type(error).__name__,
            )
        if policy is StorageFailurePolicy.FAIL_CLOSED:
            raise RateLimitUnavailable(retry_after_seconds=max(1, math.ceil(self._retry_after)))
        return unenforced(spec)

    async def check_storage(self) -> bool:
        """Readiness probe: True when the storage answers."""
        try:
            return await self.storage.check()
        except self._storage_errors:
            return False

    async def close(self) -> None:
        if self._redis_batches is not None:
            await self._redis_batches.close()
        if self._redis is not None:
            await self._redis.aclose()


async def enforce(
    limiter: RateLimiter,
    route_class: RouteClass,
    subject: RateLimitSubject | None,
    ip_key: Callable[[], str],
) -> RateLimitDecision:
    """Charge the request's buckets and return the tightest decision; a denial raises
    `RateLimitExceeded`.

    Without a verified subject: the client IP's bucket, at the configured limit. With one:
    the credential's bucket and, for classes that protect capacity, its workspace's, at the
    configured limit times the plan's factor; classes reachable without an account also
    charge the IP (at the configured limit), so one host cannot mint identities. `ip_key`
    is called only when the IP is needed.
    """
    policy = limiter.policy
    if subject is None:
        decision = await limiter.hit(route_class, ip_key())
    else:
        override = None
        if subject.scale != 1:
            override = scaled_limit(policy.limits[route_class], subject.scale)
        decision = await limiter.hit(route_class, subject.identity, limit_override=override)
        if (
            decision.allowed
            and subject.workspace is not None
            and subject.workspace != subject.identity
            and route_class in policy.per_workspace
        ):
            workspace = await limiter.hit(route_class, subject.workspace, limit_override=override)
            decision = more_restrictive(decision, workspace)
        if decision.allowed and route_class in policy.also_per_ip:
            decision = more_restrictive(decision, await limiter.hit(route_class, ip_key()))
    if not decision.allowed:
        raise RateLimitExceeded(decision)
    return decision
