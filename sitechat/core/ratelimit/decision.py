"""What a check decided, and the two ways a request is refused."""

from __future__ import annotations

from dataclasses import dataclass

from sitechat.core.ratelimit.policy import LimitSpec
from sitechat.core.ratelimit.window import WindowState


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    # RateLimit-Reset: while units remain, until the current window ends (at most one
    # window); once none remain, until the next request would fit, as Retry-After says.
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


def decision_of(spec: LimitSpec, allowed: bool, state: WindowState, cost: int) -> RateLimitDecision:
    """A check's decision, with the headers' numbers read off the window it left."""
    limit = spec.item.amount
    remaining = max(0, limit - state.weighted_count())
    retry_after = 0.0 if allowed else state.seconds_until_fits(limit, cost)
    if not allowed:
        reset_after = retry_after
    elif remaining == 0:
        reset_after = state.seconds_until_fits(limit, 1)
    else:
        reset_after = state.seconds_until_window_ends()
    return RateLimitDecision(
        allowed=allowed,
        limit=limit,
        remaining=0 if not allowed else remaining,
        reset_after_seconds=reset_after,
        policy_header_value=spec.policy_header_value,
        retry_after_seconds=retry_after,
    )


def unenforced(spec: LimitSpec) -> RateLimitDecision:
    """The storage was unreachable and the class fails open: allowed, nothing counted."""
    return RateLimitDecision(
        allowed=True,
        limit=spec.item.amount,
        remaining=spec.item.amount,
        reset_after_seconds=0.0,
        policy_header_value=spec.policy_header_value,
        enforced=False,
    )


def more_restrictive(a: RateLimitDecision, b: RateLimitDecision) -> RateLimitDecision:
    if a.allowed != b.allowed:
        return b if a.allowed else a
    if not a.allowed:  # both denied: the caller must wait for the later one
        return a if a.retry_after_seconds >= b.retry_after_seconds else b
    if a.enforced != b.enforced:
        return a if a.enforced else b
    return a if a.remaining <= b.remaining else b
