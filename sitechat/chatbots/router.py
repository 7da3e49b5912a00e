"""Chatbots and their knowledge sources: `/v1/chatbots`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, status

from sitechat.auth.dependencies import AdminDep, CallerDep
from sitechat.billing.dependencies import PlansDep
from sitechat.chatbots import service
from sitechat.chatbots.schemas import (
    ChatbotCreate,
    ChatbotRead,
    ChatbotUpdate,
    SourceRead,
)
from sitechat.core.db import SessionDep
from sitechat.core.pagination import DEFAULT_LIMIT, CursorPage, CursorParam, LimitParam
from sitechat.core.routing import api_router
from sitechat.knowledge.dependencies import DenseDep
from sitechat.models.chatbots import ChatbotStatus, SourceKind

router = api_router(prefix="/chatbots", tags=["chatbots"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such chatbot in this workspace."}
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ChatbotRead)
async def create_chatbot(
    session: SessionDep, plans: PlansDep, caller: AdminDep, body: ChatbotCreate
) -> object:
    """Create a chatbot in `draft`. Text fields are stored with all HTML markup removed.
    Needs the admin role."""
    return await service.create_chatbot(session, plans, caller, body)


@router.get("", response_model=CursorPage[ChatbotRead])
async def list_chatbots(
    session: SessionDep,
    caller: CallerDep,
    status_filter: Annotated[ChatbotStatus | None, Query(alias="status")] = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> object:
    """The workspace's chatbots, newest first, optionally only those in one `status`."""
    items, next_cursor = await service.list_chatbots(
        session, caller, status=status_filter, cursor=cursor, limit=limit
    )
    return CursorPage[ChatbotRead](
        items=[ChatbotRead.model_validate(item) for item in items], next_cursor=next_cursor
    )


@router.get("/{chatbot_id}", response_model=ChatbotRead, responses=NOT_FOUND)
async def get_chatbot(
    session: SessionDep, caller: CallerDep, dense: DenseDep, chatbot_id: uuid.UUID
) -> object:
    """One chatbot with its whole configuration."""
    return await service.read_chatbot(session, caller, chatbot_id, dense)


@router.patch(
    "/{chatbot_id}",
    response_model=ChatbotRead,
    responses={**NOT_FOUND, 409: {"description": "`invalid-state-transition`."}},
)
async def update_chatbot(
    session: SessionDep, caller: AdminDep, chatbot_id: uuid.UUID, body: ChatbotUpdate
) -> object:
    """Change the fields sent. `status` takes the moves users make: `paused` (a ready
    chatbot), `ready` (resume a paused one) and `archived` (final; it also stops a running
    crawl). Other moves happen on their own as crawls run and end. Needs the admin role."""
    return await service.update_chatbot(session, caller, chatbot_id, body)


@router.delete("/{chatbot_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_chatbot(session: SessionDep, caller: AdminDep, chatbot_id: uuid.UUID) -> None:
    """Delete the chatbot with its sources, crawls, pages and chunks. Needs the admin role."""
    await service.delete_chatbot(session, caller, chatbot_id)


@router.get("/{chatbot_id}/sources", response_model=CursorPage[SourceRead], responses=NOT_FOUND)
async def list_sources(
    session: SessionDep,
    caller: CallerDep,
    chatbot_id: uuid.UUID,
    kind: SourceKind | None = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> object:
    """The chatbot's knowledge sources, newest first: websites (made by crawls), texts and
    Q&A pairs."""
    items, next_cursor = await service.list_sources(
        session, caller, chatbot_id, kind=kind, cursor=cursor, limit=limit
    )
    return CursorPage[SourceRead](items=items, next_cursor=next_cursor)


@router.delete(
    "/{chatbot_id}/sources/{source_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        404: {"description": "No such chatbot or source in this workspace."},
        409: {"description": "`crawl-in-progress`: the website source is being crawled."},
    },
)
async def delete_source(
    session: SessionDep, caller: AdminDep, chatbot_id: uuid.UUID, source_id: uuid.UUID
) -> None:
    """Remove a source with its pages and chunks; answers stop finding it at once.
    Needs the admin role."""
    await service.delete_source(session, caller, chatbot_id, source_id)
