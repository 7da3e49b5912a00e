"""The route class every API route uses: rate limit first, then the handler, then one commit.

A route's rate-limit class defaults to the router's (`api_router(rate_limit_class=...)`), else
`read` for GET/HEAD and `write` otherwise; a route picks another with
`openapi_extra=rate_limit_class(RouteClass.CHAT)`. Every route publishes its class in the
OpenAPI schema as `x-rate-limit-class`, so clients and tests can see which bucket it draws on.
The buckets are the caller's verified credential's (a user, the workspace of an API key, a
widget visitor; capacity classes also the workspace's), at the configured limits times the
plan's factor, else the client IP's: the app's `rate_limit_subjects` resolver verifies the
credential (with the cached caller lookup the handler then reuses). An unverifiable one
counts as none.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from starlette._utils import get_route_path
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from sitechat.core.db import AutoCommitRoute, close_request_session
from sitechat.core.errors import ProblemError
from sitechat.core.middleware import add_response_headers
from sitechat.core.ratelimit import (
    RateLimitDecision,
    RateLimiter,
    RateLimitSubject,
    RouteClass,
    client_ip,
    enforce,
    ip_identity,
    rate_limit_headers,
)
from sitechat.core.state import app_state

API_PREFIX = "/v1"
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
        # A CORS preflight carries the URL of the request it asks about, query and all.
        preflight = "OPTIONS" in (self.methods or ())
        known_query = None if preflight else frozenset(_query_names(self.dependant))

        async def rate_limited(request: Request) -> Response:
            limiter = app_state(request).rate_limiter
            if limiter is not None:
                try:
                    decision = await _enforce(request, limiter, route_class)
                except BaseException:
                    # Verifying the credential may have opened the request's session; a
                    # refused request never reaches the route class that would close it.
                    await close_request_session(request)
                    raise
                add_response_headers(request, rate_limit_headers(decision).items())
            if known_query is not None:
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
    subject = None
    subjects = app_state(request).rate_limit_subjects
    if subjects is not None:
        subject = await subjects(request, route_class)
    return await charge(request, limiter, route_class, subject)


async def charge(
    connection: HTTPConnection,
    limiter: RateLimiter,
    route_class: RouteClass,
    subject: RateLimitSubject | None,
) -> RateLimitDecision:
    """Charge `subject`'s buckets (None: the client address's) for one unit of `route_class`.
    Also what a WebSocket charges per question, with the subject it verified at connect."""

    def ip_key() -> str:
        return "ip:" + ip_identity(client_ip(connection, app_state(connection).trusted_proxies))

    return await enforce(limiter, route_class, subject, ip_key)


def api_router(
    *, prefix: str = "", rate_limit_class: RouteClass | None = None, **kwargs: Any
) -> APIRouter:
    """The router every API domain uses: its routes live under `API_PREFIX` + `prefix`;
    `rate_limit_class` sets their default class."""
    route_class: type[ApiRoute] = ApiRoute
    if rate_limit_class is not None:
        route_class = type(
            f"{rate_limit_class.name.title()}ApiRoute",
            (ApiRoute,),
            {"router_rate_limit_class": rate_limit_class},
        )
    return APIRouter(prefix=API_PREFIX + prefix, route_class=route_class, **kwargs)


_SELECTED_ROUTE_KEY = "sitechat.route_index.selected"


class RouteIndex(BaseRoute):
    """The app's routes by the first two segments of their path, asked before the route table.

    Starlette finds a request's route by asking each route of the table in turn (a regular
    expression and some bookkeeping each); the index asks only the routes whose path begins
    with the request path's first two segments (`/v1/chatbots`), plus the routes it cannot
    key (a parameter or a mount in those segments), in table order. It answers only a full
    match, which is the route the walk would have chosen: a route keyed otherwise cannot
    match the path. Anything else (no route, a method the path does not take, a redirect to
    the path with or without its trailing slash) falls through to the table behind it, which
    still holds every route (for the OpenAPI schema and `url_path_for` too). A route added
    after the index was built is found by that walk as well.
    """

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        keyed = [(_route_key(route), route) for route in routes]
        self._unkeyed = tuple(route for key, route in keyed if key is None)
        self._by_key = {
            key: tuple(route for other, route in keyed if other in (key, None))
            for key in {key for key, _ in keyed if key is not None}
        }

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        key = _path_key(get_route_path(scope))
        for route in self._by_key.get(key, self._unkeyed):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {**child_scope, _SELECTED_ROUTE_KEY: route}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope.pop(_SELECTED_ROUTE_KEY)
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)  # the routes in the table answer it


def _path_key(path: str) -> tuple[str, str]:
    """`/v1/chatbots/{chatbot_id}/crawls` -> (`v1`, `chatbots`)."""
    first, _, rest = path.lstrip("/").partition("/")
    return first, rest.partition("/")[0]


def _route_key(route: BaseRoute) -> tuple[str, str] | None:
    """The key of every path `route` can match, or None if it has none (a parameter or a mount
    within the first two segments)."""
    if not isinstance(route, Route | WebSocketRoute):
        return None
    key = _path_key(route.path)
    return None if "{" in key[0] or "{" in key[1] else key


def index_routes(app: FastAPI) -> None:
    """Put a `RouteIndex` of the app's routes in front of them; call it once every route is
    added. Routes belong to the app itself, not to included routers: see `sitechat/api.py`."""
    app.router.routes.insert(0, RouteIndex(app.router.routes))
