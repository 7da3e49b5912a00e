"""Request rate limits per route class, on the `limits` library's storages.

Strategy: sliding window counter, not the moving window (ADR 0004, ADR 0007).
- Both are atomic in Redis (one Lua script per check-and-consume), so N processes sharing one
  Redis never admit more than the limit together.
- The moving window keeps one list entry per admitted request (600 entries for "600/minute") and
  stamps them with each API host's own clock, so clock skew between hosts bends the window.
  The sliding window counter keeps two integers per key and takes time only from Redis (PTTL):
  O(1) memory and one clock for every process.
- Its price is an approximation at the window edge (the previous window is assumed to have been
  spread evenly); it never admits more than the limit by its own count.

Hot path (`bench/api`: rate limiting may cost at most a tenth of a read's throughput): one
script call per batch of checks in Redis, a dict in memory.

Modules:
- `policy`: route classes, their limits (parsed once) and the fail-open/closed choice.
- `window`: the sliding window rule, written once, and the Redis script generated from it.
- `memory`: the counters in this process (one process, no Redis).
- `redis`: the counters in Redis, checks batched per round trip.
- `storage`: the `limits` storage the limiter and the login throttle share.
- `decision`: what a check decided; `RateLimitExceeded` (429), `RateLimitUnavailable` (503).
- `headers`: `RateLimit-*` and `Retry-After`.
- `identity`: the client address a bucket is keyed by when there is no verified credential.
- `subjects`: a verified caller's buckets and plan factor (`RateLimitSubject`), from the
  resolver the app registers.
- `limiter`: `RateLimiter` (storage outage handling) and `enforce` (caller and IP buckets).
"""

from sitechat.core.ratelimit.decision import (
    RateLimitDecision,
    RateLimitExceeded,
    RateLimitUnavailable,
)
from sitechat.core.ratelimit.headers import rate_limit_headers
from sitechat.core.ratelimit.identity import client_ip, ip_identity
from sitechat.core.ratelimit.limiter import RateLimiter, enforce
from sitechat.core.ratelimit.policy import (
    DEFAULT_LIMITS,
    RateLimitPolicy,
    RouteClass,
    StorageFailurePolicy,
)
from sitechat.core.ratelimit.storage import create_storage, storage_exceptions
from sitechat.core.ratelimit.subjects import RateLimitSubject, RateLimitSubjects

__all__ = [
    "DEFAULT_LIMITS",
    "RateLimitDecision",
    "RateLimitExceeded",
    "RateLimitPolicy",
    "RateLimitSubject",
    "RateLimitSubjects",
    "RateLimitUnavailable",
    "RateLimiter",
    "RouteClass",
    "StorageFailurePolicy",
    "client_ip",
    "create_storage",
    "enforce",
    "ip_identity",
    "rate_limit_headers",
    "storage_exceptions",
]
