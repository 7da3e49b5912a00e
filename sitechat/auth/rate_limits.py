"""The rate limiter's view of a request (`core/ratelimit/subjects.py`): which buckets its
verified credential is charged to, and its plan's factor on the limits.

- API key: its workspace's bucket (all the workspace's keys share it).
- Access token: the user's bucket, and for the classes that protect capacity (chat, crawl
  starts) the workspace's too.
- Visitor token on a widget route: the visitor's bucket (and the client IP's, by policy).
- Nothing, or a credential that does not verify (a made-up `sk_...` key, a bad or expired
  JWT, a workspace the user is not in): None, so the client IP's bucket.

The credential is verified with the same cached lookup the route then uses (`get_caller`
leaves the caller on the request for `CallerDep`), so this costs a read no extra query.
The plan id comes with the cached caller; the factor per plan is in the catalog
(`rate_limit_scale`, docs/decisions "per-plan rate limits").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi import Request

from sitechat.auth.caller import Caller
from sitechat.auth.dependencies import WORKSPACE_HEADER, get_caller
from sitechat.core.db import request_session
from sitechat.core.errors import ProblemError
from sitechat.core.ratelimit import RateLimitSubject, RouteClass
from sitechat.core.security import API_KEY_PREFIX, bearer_token


class CallerRateLimitSubjects:
    def __init__(
        self,
        *,
        visitor_conversation: Callable[[Request], uuid.UUID | None],
        plan_scale: Callable[[str | None], int],
    ) -> None:
        self._visitor_conversation = visitor_conversation
        self._plan_scale = plan_scale

    async def __call__(self, request: Request, route_class: RouteClass) -> RateLimitSubject | None:
        token = bearer_token(request)
        if not token:
            return None
        if route_class is RouteClass.PUBLIC_WIDGET and not token.startswith(API_KEY_PREFIX):
            conversation_id = self._visitor_conversation(request)
            if conversation_id is not None:
                return self.for_visitor(conversation_id)
        try:
            caller = await get_caller(
                request, request_session(request), token, request.headers.get(WORKSPACE_HEADER)
            )
        except ProblemError:
            return None  # not verified: the route answers 401/404 itself, after the IP's bucket
        return self.for_caller(caller)

    def for_caller(self, caller: Caller) -> RateLimitSubject:
        """A verified caller's buckets (also what a WebSocket charges once it has one)."""
        workspace = f"ws:{caller.workspace_id}"
        scale = self._plan_scale(caller.plan_id)
        if caller.user_id is None:
            return RateLimitSubject(identity=workspace, workspace=workspace, scale=scale)
        return RateLimitSubject(identity=f"user:{caller.user_id}", workspace=workspace, scale=scale)

    @staticmethod
    def for_visitor(conversation_id: uuid.UUID) -> RateLimitSubject:
        return RateLimitSubject(identity=f"visitor:{conversation_id}")
