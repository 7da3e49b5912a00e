"""Login throttling against password guessing: per-account lockout and per-IP failure cap.

Counters live in the same `limits` storage as the request rate limits (memory or Redis), through
its plain `incr`/`get`/`clear` API, so every API process sees the same failures.

Per account (normalized email, stored only as a digest):
- failures are counted for `failure_window_seconds` from the first one (storage TTL);
- the `max_account_failures`-th failure locks the account for `first_lockout_seconds`, and each
  further failure locks it again for twice as long, up to `max_lockout_seconds`;
- a success or a password reset (`unlock`) clears the count.
Per IP: more than `max_ip_failures` failures in a fixed `ip_window_seconds` window block that IP
for every account, which stops one host spraying one password over many accounts.

Lockout deadlines are timestamps from the injectable `clock`, kept in keys of their own (one per
failure number, so concurrent failures never overwrite each other); only key expiry (garbage
collection) uses the storage's wall time. The storage being down fails closed: logins stop
(`RateLimitUnavailable`) rather than become unthrottled guessing.

A locked account must answer exactly like a wrong password; `check` therefore reports only
"allowed or not, and when to retry", never why.
"""

from __future__ import annotations

import hashlib
import math
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from limits.aio.storage import Storage

from sitechat.core.ratelimit import RateLimitUnavailable, ip_identity, storage_exceptions

log = structlog.get_logger()

T = TypeVar("T")


@dataclass(frozen=True)
class LoginThrottlePolicy:
    max_account_failures: int = 5
    failure_window_seconds: int = 3600
    first_lockout_seconds: int = 60
    max_lockout_seconds: int = 900
    max_ip_failures: int = 50
    ip_window_seconds: int = 900
    # Retry-After given to clients while the storage is unreachable.
    unavailable_retry_after_seconds: int = 5


@dataclass(frozen=True, slots=True)
class ThrottleState:
    allowed: bool
    retry_after: int


def normalize_email(email: str) -> str:
    """The identity an email stands for: Unicode-normalized, trimmed, case-folded."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def _account_digest(email: str) -> str:
    # Keys must not spell out customers' email addresses in Redis.
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(
        self,
        storage: Storage,
        policy: LoginThrottlePolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.policy = policy or LoginThrottlePolicy()
        self._clock = clock
        self._storage_errors = storage_exceptions(storage)

    async def check(self, email: str, ip: str) -> ThrottleState:
        """May this IP try a password for this account now?"""
        return await self._guarded(self._check(email, ip))

    async def record_failure(self, email: str, ip: str) -> None:
        await self._guarded(self._record_failure(email, ip))

    async def record_success(self, email: str, ip: str) -> None:
        """A correct password clears the account's failures (not the IP's)."""
        await self._guarded(self.storage.clear(self._failures_key(_account_digest(email))))

    async def is_locked(self, email: str) -> bool:
        """Is this account locked out now (whatever the IP)? For operators, never for a login
        answer, which must not tell a lockout from a wrong password."""
        retry_after = await self._guarded(
            self._account_retry_after(_account_digest(email), self._clock())
        )
        return retry_after > 0

    async def unlock(self, email: str) -> None:
        """Lift a lockout at once, e.g. after a completed password reset."""
        await self._guarded(self.storage.clear(self._failures_key(_account_digest(email))))

    async def _check(self, email: str, ip: str) -> ThrottleState:
        now = self._clock()
        retry_after = max(
            await self._account_retry_after(_account_digest(email), now),
            await self._ip_retry_after(ip, now),
        )
        return ThrottleState(allowed=retry_after == 0, retry_after=retry_after)

    async def _account_retry_after(self, account: str, now: float) -> int:
        failures = await self.storage.get(self._failures_key(account))
        if failures < self.policy.max_account_failures:
            return 0
        locked_until = await self.storage.get(self._lock_key(account, failures))
        if locked_until == 0:
            # The failure that set this count is still writing its deadline.
            return self._lockout_seconds(failures)
        return max(0, math.ceil(locked_until - now))

    async def _ip_retry_after(self, ip: str, now: float) -> int:
        window = self.policy.ip_window_seconds
        if await self.storage.get(self._ip_key(ip, now)) < self.policy.max_ip_failures:
            return 0
        return max(1, math.ceil(window - now % window))

    async def _record_failure(self, email: str, ip: str) -> None:
        now = self._clock()
        account = _account_digest(email)
        await self.storage.incr(self._ip_key(ip, now), self.policy.ip_window_seconds)
        failures = await self.storage.incr(
            self._failures_key(account), self.policy.failure_window_seconds
        )
        if failures < self.policy.max_account_failures:
            return
        lockout = self._lockout_seconds(failures)
        lock_key = self._lock_key(account, failures)
        # incr on a cleared key stores the deadline; the key outlives the failure counter
        # (same TTL, created later), so a live count >= max always has its deadline.
        await self.storage.clear(lock_key)
        await self.storage.incr(
            lock_key, self.policy.failure_window_seconds, amount=math.ceil(now + lockout)
        )
        log.warning(
            "auth.login_locked",
            account=account[:12],
            ip=ip,
            failures=failures,
            lockout_seconds=lockout,
        )

    def _lockout_seconds(self, failures: int) -> int:
        doublings = min(failures - self.policy.max_account_failures, 30)
        lockout: int = self.policy.first_lockout_seconds << doublings
        return min(lockout, self.policy.max_lockout_seconds)

    def _failures_key(self, account: str) -> str:
        return f"login/account/{account}/failures"

    def _lock_key(self, account: str, failures: int) -> str:
        return f"login/account/{account}/locked_until/{failures}"

    def _ip_key(self, ip: str, now: float) -> str:
        return f"login/ip/{ip_identity(ip)}/{int(now // self.policy.ip_window_seconds)}"

    async def _guarded(self, operation: Awaitable[T]) -> T:
        try:
            return await operation
        except self._storage_errors as error:
            log.warning(
                "ratelimit.storage_unavailable",
                route_class="login",
                policy="fail_closed",
                error=type(error).__name__,
            )
            raise RateLimitUnavailable(self.policy.unavailable_retry_after_seconds) from error
