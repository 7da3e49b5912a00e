"""The route class every API route uses: rate limit first, then the handler, then one commit.

A route's rate-limit class defaults to the router's (`api_router(rate_limit_class=...)`), else
`read` for GET/HEAD and `write` otherwise; a route picks another with
`openapi_extra=rate_limit_class(RouteClass.CHAT)`. Every route publishes its class in the
OpenAPI schema as `x-rate-limit-class`, so clients and tests can see which bucket it draws on.
The bucket is the caller's verified credential (user, API key or widget visitor), else the
client IP; resolving it costs no database round trip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.dependencies.models import Dependant
from starlette._utils import get_route_path
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from sitechat.core.clock import utcnow
from sitechat.core.db import AutoCommitRoute
from sitechat.core.errors import ProblemError
from sitechat.core.middleware import add_response_headers
from sitechat.core.ratelimit import (
    RateLimitDecision,
    RateLimiter,
    RouteClass,
    client_ip,
    enforce,
    ip_identity,
    rate_limit_headers,
)
from sitechat.core.security import InvalidToken, bearer_token

RATE_LIMIT_CLASS_KEY = "x-rate-limit-class"

VALIDATION_PROBLEM_RESPONSE: dict[str, Any] = {
    "description": "Validation error (RFC 9457 problem, `type` .../validation-error).",
    "content": {
        "application/problem+json": {
            "schema": {
                "type": "object",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "request_id": {"type": ["string", "null"]},
                    "errors": {"type": "array", "items": {"type": "object"}},
                },
            }
        }
    },
}


def rate_limit_class(route_class: RouteClass) -> dict[str, Any]:
    """`openapi_extra` for a route whose rate-limit class is not the method's default."""
    return {RATE_LIMIT_CLASS_KEY: route_class.value}


def _credential_identity(request: Request) -> str | None:
    token = bearer_token(request)
    if token is None:
        return None
    if token.startswith("sk_"):
        # The hash of the whole key: a forged key never lands in the real key's bucket.
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:24]
    try:
        claims = request.app.state.auth.signer.verify_access_token(token, utcnow())
    except InvalidToken:
        return None
    return f"user:{claims.user_id}"


class UnknownQueryParameters(ProblemError):
    status = 422
    slug = "validation-error"
    title = "Validation error"

    def __init__(self, names: list[str]) -> None:
        super().__init__(
            "The request has query parameters this route does not take; see errors.",
            extra={
                "errors": [{"loc": ["query", name], "msg": "unknown parameter"} for name in names]
            },
        )


class ApiRoute(AutoCommitRoute):
    # Set by `api_router(rate_limit_class=...)` on a subclass for every route of one router.
    router_rate_limit_class: RouteClass | None = None

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # Set before APIRoute.__init__, which builds the handler.
        extra = dict(kwargs.get("openapi_extra") or {})
        declared = extra.get(RATE_LIMIT_CLASS_KEY)
        methods = {method.upper() for method in kwargs.get("methods") or ["GET"]}
        if declared is not None:
            self.rate_limit_class = RouteClass(declared)
        elif self.router_rate_limit_class is not None:
            self.rate_limit_class = self.router_rate_limit_class
        elif methods <= {"GET", "HEAD"}:
            self.rate_limit_class = RouteClass.READ
        else:
            self.rate_limit_class = RouteClass.WRITE
        extra[RATE_LIMIT_CLASS_KEY] = self.rate_limit_class.value
        kwargs["openapi_extra"] = extra
        super().__init__(path, endpoint, **kwargs)
        # FastAPI documents request validation failures as its own `application/json` body;
        # ours are problems (core/errors.py), and the schema must say what clients receive.
        # Every route can answer 422: at least for query parameters it does not take.
        if not {422, "422"} & set(self.responses):
            self.responses = {**self.responses, 422: VALIDATION_PROBLEM_RESPONSE}
        parameters = _documented_parameters(self.dependant)
        if parameters:
            extra = self.openapi_extra or {}
            declared = extra.get("parameters", [])
            self.openapi_extra = {**extra, "parameters": [*declared, *parameters]}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        route_class = self.rate_limit_class
        known_query = frozenset(_query_names(self.dependant))

        async def rate_limited(request: Request) -> Response:
            limiter: RateLimiter | None = request.app.state.rate_limiter
            if limiter is not None:
                decision = await _enforce(request, limiter, route_class)
                add_response_headers(request, rate_limit_headers(decision).items())
            _refuse_unknown_query(request, known_query)
            return await handler(request)

        return rate_limited


def _documented_parameters(dependant: Dependant) -> list[dict[str, Any]]:
    """OpenAPI parameters that dependencies read from the request themselves, declared as
    their `openapi_parameters` (e.g. the caller scheme's `X-Workspace-ID`), once each."""
    found: dict[str, dict[str, Any]] = {}
    for sub_dependant in dependant.dependencies:
        for parameter in getattr(sub_dependant.call, "openapi_parameters", ()):
            found.setdefault(parameter["name"], parameter)
        for parameter in _documented_parameters(sub_dependant):
            found.setdefault(parameter["name"], parameter)
    return list(found.values())


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub_dependant in dependant.dependencies:
        names |= _query_names(sub_dependant)
    return names


def _refuse_unknown_query(request: Request, known: frozenset[str]) -> None:
    """A misspelt filter (`?stauts=ready`) would silently return everything: refuse it."""
    if not request.scope.get("query_string"):
        return
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise UnknownQueryParameters(unknown)


async def _enforce(
    request: Request, limiter: RateLimiter, route_class: RouteClass
) -> RateLimitDecision:
    def ip_key() -> str:
        return "ip:" + ip_identity(client_ip(request, request.app.state.trusted_proxies))

    return await enforce(limiter, route_class, _credential_identity(request), ip_key)


class ApiRouter(APIRouter):
    """An APIRouter that refuses, at the cost of a substring test, paths none of its routes
    can match.

    FastAPI matches a request against an included router by trying each of its routes in
    turn, with several calls of bookkeeping per route, and the app tries its included routers
    in turn: a request for the tenth router paid for every route of the nine before it
    (measured: 75 us of routing for `GET /v1/chatbots/{id}`, 150 us deeper in the table).

    A route's path is the inclusion prefix followed by the route's own path, so a request path
    that does not contain the route's static beginning (its path up to the first `{`) cannot
    match it. The test is only a filter: it never refuses a path a route could match, and
    FastAPI's own matching decides among the rest, so precedence and 404/405 are unchanged.
    """

    _static_prefixes: tuple[str, ...] | None = None
    _static_prefixes_for: int = -1

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        prefixes = self._route_static_prefixes()
        if prefixes is not None:
            path = get_route_path(scope)
            if not any(prefix in path for prefix in prefixes):
                return Match.NONE, {}
        return super().matches(scope)

    def _route_static_prefixes(self) -> tuple[str, ...] | None:
        """The distinct static beginnings of the routes; None (no filter) if a route has none.

        Routes are only ever appended (at import, by the decorators), so the count of routes
        tells whether the cached answer is still current.
        """
        if self._static_prefixes_for == len(self.routes):
            return self._static_prefixes
        prefixes: tuple[str, ...] | None = None
        beginnings = {getattr(route, "path", "").partition("{")[0] for route in self.routes}
        if "" not in beginnings:
            # A beginning that contains a shorter one adds nothing to the test.
            prefixes = tuple(
                sorted(b for b in beginnings if not any(o != b and o in b for o in beginnings))
            )
        self._static_prefixes = prefixes
        self._static_prefixes_for = len(self.routes)
        return self._static_prefixes


def api_router(*, rate_limit_class: RouteClass | None = None, **kwargs: Any) -> APIRouter:
    """The router every API domain uses; `rate_limit_class` sets its routes' default class."""
    if rate_limit_class is None:
        return ApiRouter(route_class=ApiRoute, **kwargs)
    route_class = type(
        f"{rate_limit_class.name.title()}ApiRoute",
        (ApiRoute,),
        {"router_rate_limit_class": rate_limit_class},
    )
    return ApiRouter(route_class=route_class, **kwargs)
