"""The IETF draft `RateLimit-*` headers and `Retry-After`, from a decision.

The three agree: a denial says `RateLimit-Remaining: 0` and the same number of seconds in
`RateLimit-Reset` and `Retry-After`, the first whole second after which the request fits
(`window.WindowState.seconds_until_fits`), so a client that waits exactly that long gets
through. While units remain, `RateLimit-Reset` is the time until the current window ends,
never more than one window.
"""

from __future__ import annotations

import math

from sitechat.core.ratelimit.decision import RateLimitDecision

# Float noise must not turn "fits after 17 s" into "17 s" when 17 s is the exact edge.
_EDGE_SECONDS = 1e-6


def whole_seconds_after(seconds: float) -> int:
    """The first whole second strictly after `seconds` (at least 1): the rule admits a request
    only once the fading count has dropped below the limit, not at the edge itself."""
    return max(1, math.floor(max(seconds, 0.0) + _EDGE_SECONDS) + 1)


def rate_limit_headers(decision: RateLimitDecision) -> dict[str, str]:
    """IETF draft RateLimit headers for a response; `Retry-After` on denials."""
    if not decision.enforced:
        return {}
    if decision.remaining == 0:
        reset = whole_seconds_after(decision.reset_after_seconds)
    else:
        reset = max(0, math.ceil(decision.reset_after_seconds))
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": decision.policy_header_value,
    }
    if not decision.allowed:
        headers["Retry-After"] = str(reset)
    return headers
