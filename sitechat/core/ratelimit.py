"""Request rate limits per route class, on the `limits` library's async API.

Storage: `limits.aio.storage.RedisStorage` with the redis-py client (`implementation="redispy"`;
measured about 30% cheaper per call than the coredis client on this stack) when Redis is
configured, else this process's memory (one process only). The login throttle
(`core/login_throttle.py`) keeps its counters in the same `limits` storage.

Strategy: sliding window counter (`SlidingWindowCounterRateLimiter`), not the moving window.
- Both are atomic in Redis (one Lua script per check-and-consume), so N processes sharing one
  Redis never admit more than the limit together.
- The moving window keeps one list entry per admitted request (600 entries for "600/minute") and
  stamps them with each API host's own clock, so clock skew between hosts bends the window.
  The sliding window counter keeps two integers per key and takes time only from Redis (PTTL):
  O(1) memory and one clock for every process.
- Its price is an approximation at the window edge (the previous window is assumed to have been
  spread evenly); it never admits more than the limit by its own count.

Hot path (`bench/api`: rate limiting may cost at most a tenth of a read's throughput):
- Redis: `limits` needs two round trips per check (`hit`, then `get_window_stats` for the
  headers), and redis-py's command path costs about 90-140 us of CPU per call here. Our own Lua
  script consumes and reports in one call, with the same keys and admission rule as limits'
  sliding window counter (so limits' own `get_window_stats` reads the same state), and the
  checks that arrive while a call is in flight go together in the next call (`_RedisBatches`):
  one call per batch instead of one per request. Each check is still decided inside Redis,
  one after the other, so processes sharing the Redis never admit more than the limit together.
- Memory (one process, no Redis): the same rule on a dict (`_LocalWindows`), about 2 us a
  check, where limits' `MemoryStorage` took two calls through its locks and expiry bookkeeping.

Headers: `RateLimit-Reset` is the time until the bucket is empty again (with a sliding window
counter, up to two windows after a burst); `Retry-After` is the time until the denied request
would fit, computed from the same window state.

Storage failure (Redis down or slow): each route class either fails open (request allowed, a
`ratelimit.storage_unavailable` warning logged, no rate-limit headers) or fails closed
(`RateLimitUnavailable`, rendered as 503). After a failure the storage is not retried for
`storage_retry_after_seconds`, so an outage costs one timeout per interval, not one per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Final, cast

import structlog
from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.errors import StorageError
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

log = structlog.get_logger()


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

    def redis_fail_policy(self, route_class: RouteClass) -> StorageFailurePolicy:
        if route_class in self.fail_closed:
            return StorageFailurePolicy.FAIL_CLOSED
        return StorageFailurePolicy.FAIL_OPEN


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    # Until the bucket is empty again (RateLimit-Reset); with a sliding window counter this can
    # be up to two windows after a burst.
    reset_after_seconds: float
    policy_header_value: str
    # Until the denied request would fit (Retry-After); 0 when allowed.
    retry_after_seconds: float = 0.0
    # False when the storage was unreachable and the class fails open: nothing was counted.
    enforced: bool = True


class RateLimitExceeded(Exception):
    """The caller used up its quota; rendered as 429 `rate-limited` with `Retry-After`."""

    def __init__(self, decision: RateLimitDecision) -> None:
        super().__init__("rate limit exceeded")
        self.decision = decision


class RateLimitUnavailable(Exception):
    """The limit store is unreachable and this route fails closed; rendered as 503."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("rate limit storage unavailable")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class _LimitSpec:
    item: RateLimitItem
    window_seconds: int
    policy_header_value: str


@lru_cache(maxsize=512)
def _limit_spec(limit_string: str) -> _LimitSpec:
    item = parse(limit_string)
    window = item.get_expiry()
    return _LimitSpec(
        item=item, window_seconds=window, policy_header_value=f"{item.amount};w={window}"
    )


# Consume `cost` from sliding window counters and report each window, for a batch of checks in
# one round trip. Per check: KEYS previous "{k}/-1" and current "{k}" (limits' layout), ARGV
# limit, window seconds and cost; checked in order, so a bucket twice in a batch counts twice.
# Same admission rule as limits' sliding window counter script. Reply: one string, per check
# "allowed previous previous_ttl_ms current current_ttl_ms", checks separated by ",".
_HIT_AND_REPORT_LUA: Final = """
local replies = {}
for check = 1, #KEYS / 2 do
    local previous_key, current_key = KEYS[2 * check - 1], KEYS[2 * check]
    local limit = tonumber(ARGV[3 * check - 2])
    local window_ms = tonumber(ARGV[3 * check - 1]) * 1000
    local cost = tonumber(ARGV[3 * check])

    local current_ttl = redis.call('pttl', current_key)
    if current_ttl > 0 and current_ttl < window_ms then
        -- the current window is over: it becomes the previous one
        redis.call('rename', current_key, previous_key)
        redis.call('set', current_key, 0, 'PX', current_ttl + window_ms)
    end

    local previous_count = tonumber(redis.call('get', previous_key)) or 0
    local previous_ttl = math.max(redis.call('pttl', previous_key), 0)
    local current_count = tonumber(redis.call('get', current_key)) or 0
    current_ttl = math.max(redis.call('pttl', current_key), 0)
    local weighted = math.floor(previous_count * previous_ttl / window_ms) + current_count

    local allowed = 0
    if cost <= limit and weighted + cost <= limit then
        allowed = 1
        if redis.call('exists', current_key) == 1 then
            current_count = redis.call('incrby', current_key, cost)
        else
            redis.call('set', current_key, cost, 'PX', window_ms * 2)
            current_count = cost
            current_ttl = window_ms * 2
        end
    end
    replies[check] = table.concat(
        {allowed, previous_count, previous_ttl, current_count, current_ttl}, ' ')
end
return table.concat(replies, ',')
"""
# Checks per script call; more wait for the next call.
_MAX_BATCH = 256


def create_storage(
    storage_uri: str | None,
    *,
    key_prefix: str = "sitechat",
    timeout_seconds: float = 0.5,
) -> Storage:
    """Memory storage for None, else Redis; accepts `redis://` as well as `async+redis://`."""
    if storage_uri is None or storage_uri.startswith(("memory://", "async+memory://")):
        return MemoryStorage()
    if storage_uri.startswith(("redis://", "rediss://")):
        storage_uri = "async+" + storage_uri
    if not storage_uri.startswith(("async+redis://", "async+rediss://")):
        raise ValueError("rate limit storage must be a redis:// URI or None for memory")
    return RedisStorage(
        storage_uri,
        implementation="redispy",
        key_prefix=key_prefix,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
    )


def storage_exceptions(storage: Storage) -> tuple[type[BaseException], ...]:
    """What a storage raises when its backend is unreachable or too slow."""
    if isinstance(storage, MemoryStorage):
        return (StorageError,)  # in-process; anything else it raises is a bug, not an outage
    base = storage.base_exceptions
    return (StorageError, OSError, *(base if isinstance(base, tuple) else (base,)))


@dataclass(frozen=True, slots=True)
class _WindowState:
    """A sliding window counter as both storages report it (TTLs in seconds).

    The current window ends `current_ttl - window` seconds from now; from then on its count
    becomes the previous window's, whose weight fades linearly to zero over one window.
    """

    window: int
    previous: int
    previous_ttl: float
    current: int
    current_ttl: float

    def weighted_count(self) -> float:
        return self.previous * self.previous_ttl / self.window + self.current

    def seconds_until_empty(self) -> float:
        if self.current:
            return max(self.current_ttl, 0.0)
        return self.previous_ttl if self.previous else 0.0

    def seconds_until_fits(self, limit: int, cost: int) -> float:
        """When `cost` more units fit (`floor(weighted) + cost <= limit`), with no other hits."""
        budget = limit - cost + 1  # the weighted count must fall below this
        if budget <= 0:
            return float(2 * self.window)
        current_ends = max(self.current_ttl - self.window, 0.0)
        if self.current < budget:
            if not self.previous:
                return 0.0
            fading_done = self.previous_ttl - (budget - self.current) * self.window / self.previous
            if fading_done < current_ends:
                return max(fading_done, 0.0)
        if not self.current:
            return current_ends
        return max(current_ends, current_ends + self.window * (1 - budget / self.current))


@dataclass(frozen=True, slots=True)
class _Check:
    """One check of a bucket, as the Lua script and `_LocalWindows` take it."""

    key: str
    limit: int
    window: int
    cost: int


def _state_of(check: _Check, reply: bytes) -> tuple[bool, _WindowState]:
    """A check's part of the Lua script's reply."""
    allowed, previous, previous_ttl_ms, current, current_ttl_ms = reply.split()
    return allowed == b"1", _WindowState(
        window=check.window,
        previous=int(previous),
        previous_ttl=int(previous_ttl_ms) / 1000,
        current=int(current),
        current_ttl=int(current_ttl_ms) / 1000,
    )


class _RedisBatches:
    """Sends checks to Redis in batches: whatever arrived while a call was in flight goes in
    the next call, so under load one call serves many requests, and an idle server sends each
    check at once. A failed call fails each check in it with the call's error."""

    def __init__(self, script: AsyncScript, key_prefix: str) -> None:
        self._script = script
        self._key_prefix = key_prefix
        self._waiting: list[tuple[_Check, asyncio.Future[bytes]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def hit(self, check: _Check) -> tuple[bool, _WindowState]:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting.append((check, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send(), name="ratelimit-redis")
        return _state_of(check, await future)

    async def _send(self) -> None:
        batch: list[tuple[_Check, asyncio.Future[bytes]]] = []
        try:
            while self._waiting:
                batch = self._waiting[:_MAX_BATCH]
                del self._waiting[:_MAX_BATCH]
                try:
                    replies = await self._call(batch)
                except Exception as error:  # each waiter handles it (fail open or closed)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), reply in replies:
                    if not future.done():  # a waiter whose request was cancelled is gone
                        future.set_result(reply)
        finally:
            # Only if this task itself was cancelled (`close`): no waiter is left hanging.
            self._sender = None
            for _, future in (*batch, *self._waiting):
                future.cancel()
            self._waiting.clear()

    async def _call(
        self, batch: list[tuple[_Check, asyncio.Future[bytes]]]
    ) -> list[tuple[tuple[_Check, asyncio.Future[bytes]], bytes]]:
        keys: list[str] = []
        args: list[int] = []
        for check, _ in batch:
            key = f"{self._key_prefix}:{{{check.key}}}"
            keys += (f"{key}/-1", key)
            args += (check.limit, check.window, check.cost)
        reply: bytes = await self._script(keys=keys, args=args)
        return list(zip(batch, reply.split(b","), strict=True))

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender


class _LocalWindows:
    """Sliding window counters in this process's memory, by the Lua script's rule.

    A window begins at the first hit of a bucket and the next one right after it; a bucket is
    forgotten two windows after its last window began, by a sweep every `SWEEP_SECONDS`.
    """

    SWEEP_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # key -> [start of the current window, previous count, current count, window]
        self._windows: dict[str, list[float]] = {}
        self._next_sweep = clock() + self.SWEEP_SECONDS

    def hit(self, check: _Check) -> tuple[bool, _WindowState]:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        window = check.window
        entry = self._windows.get(check.key)
        if entry is None or now >= entry[0] + 2 * window:
            start, previous, current = now, 0, 0
        elif now >= entry[0] + window:  # the current window is over: it becomes the previous
            start, previous, current = entry[0] + window, int(entry[2]), 0
        else:
            start, previous, current = entry[0], int(entry[1]), int(entry[2])
        previous_ttl = max(start + window - now, 0.0)
        weighted = math.floor(previous * previous_ttl / window) + current
        allowed = check.cost <= check.limit and weighted + check.cost <= check.limit
        if allowed:
            current += check.cost
        if allowed or entry is not None:
            self._windows[check.key] = [start, previous, current, window]
            current_ttl = start + 2 * window - now
        else:
            current_ttl = 0.0
        return allowed, _WindowState(window, previous, previous_ttl, current, current_ttl)

    def _sweep(self, now: float) -> None:
        expired = [key for key, entry in self._windows.items() if now >= entry[0] + 2 * entry[3]]
        for key in expired:
            del self._windows[key]
        self._next_sweep = now + self.SWEEP_SECONDS


class RateLimiter:
    def __init__(
        self,
        storage_uri: str | None,
        policy: RateLimitPolicy | None = None,
        *,
        key_prefix: str = "sitechat",
        storage_timeout_seconds: float = 0.5,
        storage_retry_after_seconds: float = 1.0,
    ) -> None:
        self.policy = policy or RateLimitPolicy()
        self.storage = create_storage(
            storage_uri, key_prefix=key_prefix, timeout_seconds=storage_timeout_seconds
        )
        self._class_specs = {rc: _limit_spec(self.policy.limits[rc]) for rc in RouteClass}
        self._retry_after = storage_retry_after_seconds
        self._storage_down_until = 0.0
        self._storage_errors = storage_exceptions(self.storage)
        self._redis: Redis | None = None
        self._redis_batches: _RedisBatches | None = None
        self._local = _LocalWindows()
        if isinstance(self.storage, RedisStorage):
            # Reuse the redis-py client limits built for this storage: one connection pool.
            self._redis = cast(Redis, cast(RedispyBridge, self.storage.bridge).get_connection())
            self._redis_batches = _RedisBatches(
                self._redis.register_script(_HIT_AND_REPORT_LUA), self.storage.bridge.key_prefix
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
        spec = _limit_spec(limit_override) if limit_override else self._class_specs[route_class]
        check = _Check(
            spec.item.key_for(route_class, key), spec.item.amount, spec.window_seconds, cost
        )
        if self._redis_batches is None:
            return _decision(spec, *self._local.hit(check), cost)
        if time.monotonic() < self._storage_down_until:
            return self._storage_failure(route_class, spec, error=None)
        try:
            allowed, state = await self._redis_batches.hit(check)
        except self._storage_errors as error:
            self._storage_down_until = time.monotonic() + self._retry_after
            return self._storage_failure(route_class, spec, error=error)
        return _decision(spec, allowed, state, cost)

    def _storage_failure(
        self, route_class: RouteClass, spec: _LimitSpec, error: BaseException | None
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
        return RateLimitDecision(
            allowed=True,
            limit=spec.item.amount,
            remaining=spec.item.amount,
            reset_after_seconds=0.0,
            policy_header_value=spec.policy_header_value,
            enforced=False,
        )

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


def _decision(spec: _LimitSpec, allowed: bool, state: _WindowState, cost: int) -> RateLimitDecision:
    limit = spec.item.amount
    return RateLimitDecision(
        allowed=allowed,
        limit=limit,
        remaining=max(0, limit - math.floor(state.weighted_count())),
        reset_after_seconds=state.seconds_until_empty(),
        policy_header_value=spec.policy_header_value,
        retry_after_seconds=0.0 if allowed else state.seconds_until_fits(limit, cost),
    )


def rate_limit_headers(decision: RateLimitDecision) -> dict[str, str]:
    """IETF draft RateLimit headers for a response; `Retry-After` on denials."""
    if not decision.enforced:
        return {}
    reset = max(0, math.ceil(decision.reset_after_seconds))
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": decision.policy_header_value,
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after_seconds)))
    return headers


def _more_restrictive(a: RateLimitDecision, b: RateLimitDecision) -> RateLimitDecision:
    if a.allowed != b.allowed:
        return b if a.allowed else a
    if not a.allowed:  # both denied: the caller must wait for the later one
        return a if a.reset_after_seconds >= b.reset_after_seconds else b
    if a.enforced != b.enforced:
        return a if a.enforced else b
    return a if a.remaining <= b.remaining else b


def ip_identity(address: str) -> str:
    """IPv4 per address; IPv6 per /64, since one host usually owns the whole /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def client_ip(request: Request, trusted_proxies: frozenset[str]) -> str:
    """The caller's address: the right-most X-Forwarded-For hop not added by a trusted proxy.

    X-Forwarded-For is read only when the direct peer is a trusted proxy; anyone else could
    write any address into it.
    """
    peer = request.client.host if request.client else "unknown"
    if peer not in trusted_proxies:
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
    ]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                # A trusted proxy appends the peer it saw; garbage here means a
                # misconfigured chain, so keep the address we can vouch for.
                return peer
    return peer


async def enforce(
    limiter: RateLimiter,
    route_class: RouteClass,
    identity: str | None,
    ip_key: Callable[[], str],
) -> RateLimitDecision:
    """Charge the caller's bucket (`identity`: "key:...", "user:..."; else the client IP) and,
    for classes limited per IP too, the IP's bucket; the tighter decision is returned, and a
    denial raises `RateLimitExceeded`. `ip_key` is called only when the IP is needed, since
    most requests carry a credential."""
    if identity is None:
        decision = await limiter.hit(route_class, ip_key())
    else:
        decision = await limiter.hit(route_class, identity)
        if decision.allowed and route_class in limiter.policy.also_per_ip:
            decision = _more_restrictive(decision, await limiter.hit(route_class, ip_key()))
    if not decision.allowed:
        raise RateLimitExceeded(decision)
    return decision
