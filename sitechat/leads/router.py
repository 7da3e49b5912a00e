"""Lead capture: the widget's `POST /v1/public/conversations/{id}/lead`, and the workspace's
`/v1/chatbots/{id}/leads` list and CSV export (admins only: they hold visitors' contacts)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Request, status
from fastapi.responses import StreamingResponse

from sitechat.auth.dependencies import AdminDep
from sitechat.chat.public import (
    OriginHeader,
    VisitorDep,
    WidgetRoute,
    checked_visitor_conversation,
)
from sitechat.chatbots.service import get_chatbot
from sitechat.core.csv_export import attachment, csv_stream
from sitechat.core.db import JobBufferDep, SessionDep
from sitechat.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam
from sitechat.core.routing import API_PREFIX, api_router
from sitechat.core.state import app_state
from sitechat.leads import service
from sitechat.leads.schemas import LeadAccepted, LeadCreate, LeadPage, LeadRead

router = api_router(prefix="/chatbots", tags=["leads"])
public_router = APIRouter(
    prefix=f"{API_PREFIX}/public", tags=["public widget"], route_class=WidgetRoute
)


@public_router.post(
    "/conversations/{conversation_id}/lead",
    status_code=status.HTTP_201_CREATED,
    response_model=LeadAccepted,
    responses={
        409: {"description": "The chatbot does not collect contacts (`lead-capture-disabled`)."},
        429: {"description": "Sent too often in this conversation."},
    },
)
async def capture_lead(
    conversation_id: uuid.UUID,
    body: Annotated[
        LeadCreate,
        Body(
            openapi_examples={
                "name_and_email": {
                    "summary": "The widget's form",
                    "value": {"name": "Ada Lovelace", "email": "ada@example.com"},
                },
                "email_only": {"value": {"email": "ada@example.com"}},
            }
        ),
    ],
    request: Request,
    visitor: VisitorDep,
    session: SessionDep,
    jobs: JobBufferDep,
    origin: OriginHeader = None,
) -> LeadAccepted:
    """Leave the visitor's contact in their conversation (the visitor token's own), as the
    chatbot's `lead_capture` asks: the fields it lists are required (422
    `lead-fields-missing`). Sending again updates it (at most 5 times per conversation); the
    workspace's webhooks get `lead.captured`. Nothing here reads a lead back."""
    conversation, chatbot = await checked_visitor_conversation(
        request, session, visitor, conversation_id, origin
    )
    await service.capture_lead(session, conversation, chatbot, body, jobs)
    return LeadAccepted()


@router.get("/{chatbot_id}/leads", response_model=LeadPage)
async def list_leads(
    chatbot_id: uuid.UUID,
    caller: AdminDep,
    session: SessionDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> LeadPage:
    """The contacts visitors left with this chatbot, newest first. Needs the admin role."""
    rows, next_cursor = await service.list_leads(session, caller, chatbot_id, cursor, limit)
    return LeadPage(items=[LeadRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/{chatbot_id}/leads/export.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"example": service.EXPORT_EXAMPLE}},
            "description": "One line per lead, newest first; UTF-8 with a byte-order mark.",
        }
    },
)
async def export_leads(
    chatbot_id: uuid.UUID, request: Request, caller: AdminDep, session: SessionDep
) -> StreamingResponse:
    """Every lead of the chatbot as CSV. Needs the admin role."""
    await get_chatbot(session, caller, chatbot_id)  # 404 before the stream starts
    batches = service.export_batches(
        app_state(request).sessionmaker, caller.workspace_id, chatbot_id
    )
    return StreamingResponse(
        csv_stream(service.EXPORT_HEADER, batches),
        media_type="text/csv; charset=utf-8",
        headers=attachment(f"leads-{chatbot_id}.csv"),
    )
