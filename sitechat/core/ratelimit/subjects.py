"""Who a request is charged to: a verified credential's buckets, or else its client address.

Core cannot verify credentials (that is `sitechat/auth`), so the app registers a resolver
(`AppState.rate_limit_subjects`) that turns a request into a `RateLimitSubject`, or None when
it carries no credential or one that does not verify: a made-up `sk_...` key or a bad JWT
is charged to the client's address like no credential at all, so inventing credentials buys
no new buckets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from sitechat.core.ratelimit.policy import RouteClass


@dataclass(frozen=True, slots=True)
class RateLimitSubject:
    """A verified caller's buckets and the factor its plan gives the limits."""

    identity: str
    """The credential's own bucket: `user:<id>`, `ws:<id>` (API keys: the workspace's keys
    share it), `visitor:<conversation id>`."""
    workspace: str | None = None
    """`ws:<id>`: the classes that protect capacity are also charged to the workspace, so
    neither more keys nor more people multiply what one workspace may use."""
    scale: int = 1
    """The plan's factor on the configured limits (`RateLimitPolicy`)."""


RateLimitSubjects = Callable[[Request, RouteClass], Awaitable[RateLimitSubject | None]]
"""The resolver: the request and the route's class (widget routes take visitor tokens)."""
