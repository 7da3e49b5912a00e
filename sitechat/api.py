"""Every versioned router. Add a domain's router to `V1_ROUTERS` and nowhere else; its paths
begin with `/v1` (`api_router`'s `API_PREFIX`).

The routers' routes are added to the app's own route table rather than included as routers:
FastAPI matches a request against an included router through per-route scope bookkeeping,
once to choose the router and again to handle the request (measured: 23 us to find
`GET /v1/chatbots/{id}`, the seventh router, with a path filter in front of each). Routes of
the app's own table are plain regular-expression matches, and `RouteIndex` narrows them to the
few that share the path's first two segments. The paths, tags and OpenAPI schema are the same.
A router's own settings (prefix, tags, dependencies, responses) are applied by its decorators
when each route is created, so nothing of them is lost; inclusion-time settings are not used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI

from sitechat.accounts.router import api_keys_router, auth_router, users_router
from sitechat.analytics.router import router as analytics_router
from sitechat.billing.router import router as billing_router
from sitechat.chat.openai_compat import router as openai_router
from sitechat.chat.public import router as public_chat_router
from sitechat.chat.router import router as chat_router
from sitechat.chatbots.router import router as chatbots_router
from sitechat.crawling.router import router as crawling_router
from sitechat.knowledge.router import router as knowledge_router
from sitechat.leads.router import public_router as public_leads_router
from sitechat.leads.router import router as leads_router
from sitechat.sources.router import router as sources_router
from sitechat.webhooks.router import router as webhooks_router
from sitechat.workspaces.router import invitations_router
from sitechat.workspaces.router import router as workspaces_router

# In table order (no two routes serve the same path and method: tests/test_api_routes.py).
V1_ROUTERS: tuple[APIRouter, ...] = (
    auth_router,
    users_router,
    api_keys_router,
    workspaces_router,
    invitations_router,
    chatbots_router,
    sources_router,
    crawling_router,
    knowledge_router,
    billing_router,
    chat_router,
    public_chat_router,
    analytics_router,
    leads_router,
    public_leads_router,
    openai_router,
    webhooks_router,
)


class RefusedOverrides(dict[Callable[..., Any], Callable[..., Any]]):
    """`app.dependency_overrides` for an app whose routes are not included routers.

    FastAPI reads overrides through the router that included a route; these routes were never
    included, so an override would silently do nothing. Refuse it loudly instead: tests and
    embedders replace the object the dependency reads (a component of the app's state, see
    `core/state.py`) rather than the dependency itself. An override that got in anyway (the
    attribute replaced by a plain dict) stops the app at start-up (`refuse_dependency_overrides`).
    """

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError(OVERRIDES_REFUSED)

    __setitem__ = _refuse
    update = _refuse
    setdefault = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]


OVERRIDES_REFUSED = (
    "dependency_overrides has no effect on SiteChat's routes (they are added to the app's "
    "table, see sitechat/api.py); provide the object on the app's state instead"
)


def add_v1_routes(app: FastAPI) -> None:
    """Add every versioned route to `app`'s route table (and refuse dependency overrides,
    which such routes would ignore)."""
    for router in V1_ROUTERS:
        app.router.routes.extend(router.routes)
    app.dependency_overrides = RefusedOverrides()


def refuse_dependency_overrides(app: FastAPI) -> None:
    """At start-up: an app with dependency overrides does not start (they would do nothing)."""
    if app.dependency_overrides:
        raise RuntimeError(OVERRIDES_REFUSED)
