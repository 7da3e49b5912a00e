"""The IETF draft `RateLimit-*` headers and `Retry-After`, from a decision.

`RateLimit-Reset` is the time until the bucket is empty again (with a sliding window counter,
up to two windows after a burst); `Retry-After` is the time until the denied request would fit,
computed from the same window state (`window.WindowState.seconds_until_fits`).
"""

from __future__ import annotations

import math

from sitechat.core.ratelimit.decision import RateLimitDecision


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
