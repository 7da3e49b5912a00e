"""The embeddable widget's routes: no account, a per-chatbot origin check, visitor tokens.

A `public` chatbot hands a visitor from one of its allowed origins a conversation and a token
for that conversation only. Private chatbots answer 404 here. CORS is answered per chatbot
(the global CORS middleware only knows the API's own origins): `Access-Control-Allow-Origin`
is sent back only to an allowed origin, and preflights are answered by the routes below.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from sitechat.billing.dependencies import PlansDep
from sitechat.chat import answering, handoff, service
from sitechat.chat.dependencies import ChatRuntimeDep
from sitechat.chat.errors import OriginNotAllowed
from sitechat.chat.responses import answer_response, wants_stream
from sitechat.chat.schemas import (
    HandoffCreate,
    MessageCreate,
    MessageOrder,
    MessagePage,
    MessageRead,
)
from sitechat.chat.service import Scope
from sitechat.chat.small_talk import GREETING_REPLY
from sitechat.chat.visitor_tokens import VisitorClaims, issue_visitor_token, verify_visitor_token
from sitechat.chatbots.schemas import LeadCaptureRead, WidgetThemeRead
from sitechat.core.clock import utcnow
from sitechat.core.db import JobBufferDep, SessionDep
from sitechat.core.errors import Unauthorized
from sitechat.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam
from sitechat.core.ratelimit import RouteClass
from sitechat.core.routing import API_PREFIX, ApiRoute
from sitechat.core.security import bearer_token
from sitechat.core.state import app_state
from sitechat.knowledge.dependencies import DenseDep
from sitechat.models.chat import Conversation, ConversationChannel, ConversationStatus
from sitechat.models.chatbots import Chatbot

_CORS_ORIGIN_KEY = "widget_cors_origin"
_VISITOR_KEY = "widget_visitor"
PREFLIGHT_MAX_AGE_SECONDS = 600
PUBLIC_CHATBOT_MAX_AGE_SECONDS = 60
ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Accept, X-Request-ID"
# A browser script reads only the safelisted response headers unless they are exposed; the
# widget needs Retry-After to say how long to wait after a 429.
EXPOSED_HEADERS = (
    "X-Request-ID, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
    "RateLimit-Policy"
)


def _cors_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSED_HEADERS}


def verified_visitor(request: Request) -> VisitorClaims | None:
    """The request's visitor token, verified once per request (the rate limiter and the
    route both need it); None when there is none or it is invalid or expired."""
    state = request.scope.setdefault("state", {})
    if _VISITOR_KEY not in state:
        token = bearer_token(request)
        state[_VISITOR_KEY] = (
            None
            if token is None
            else verify_visitor_token(app_state(request).settings.auth, token, utcnow())
        )
    visitor: VisitorClaims | None = state[_VISITOR_KEY]
    return visitor


async def _error_response(request: Request, error: Exception) -> Response:
    """The app's own rendering of `error` (its exception handler), so a refusal raised before
    or inside the handler leaves here as the same problem it would be anywhere else."""
    for error_class in type(error).__mro__:
        app_handler = request.app.exception_handlers.get(error_class)
        if app_handler is not None:
            rendered = app_handler(request, error)
            response: Response = await rendered if inspect.isawaitable(rendered) else rendered
            return response
    raise error


class WidgetRoute(ApiRoute):
    """Adds CORS headers to every response, so the widget can read a refusal as well as an
    answer:
    - a success carries `Access-Control-Allow-Origin` only for one of the chatbot's allowed
      origins (whatever it holds is the chatbot's);
    - an error (problem+json) carries it for the request's origin, whatever it is. Many are
      decided before the chatbot is known (a 429, an expired visitor token, a malformed body)
      and none holds anything of the chatbot, while a widget that cannot read them could only
      say "network error" instead of "wait 20 seconds" or start a new conversation.

    Rate limited as `public_widget`, per visitor token and per client address both."""

    router_rate_limit_class = RouteClass.PUBLIC_WIDGET

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_cors(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as error:
                response = await _error_response(request, error)
            response.headers["Vary"] = "Origin"
            origin = request.scope.get("state", {}).get(_CORS_ORIGIN_KEY)
            if (
                origin is None
                and response.status_code >= status.HTTP_400_BAD_REQUEST
                and request.method != "OPTIONS"  # a browser never shows a failed preflight
            ):
                origin = request.headers.get("origin")
            if origin:
                response.headers.update(_cors_headers(origin))
            return response

        return with_cors


router = APIRouter(prefix=f"{API_PREFIX}/public", tags=["public widget"], route_class=WidgetRoute)

OriginHeader = Annotated[str | None, Header(alias="Origin", include_in_schema=False)]


def allow_origin(request: Request, chatbot: Chatbot, origin: str | None, *, required: bool) -> None:
    """Refuse an origin the chatbot does not allow; remember an allowed one for CORS."""
    if origin is None:
        if required:
            raise OriginNotAllowed()
        return
    if origin not in chatbot.allowed_origins:
        raise OriginNotAllowed()
    request.scope.setdefault("state", {})[_CORS_ORIGIN_KEY] = origin


async def get_visitor(request: Request) -> VisitorClaims:
    visitor = verified_visitor(request)
    if visitor is None:
        raise Unauthorized("A valid visitor token is required.")
    return visitor


VisitorDep = Annotated[VisitorClaims, Depends(get_visitor)]


async def checked_visitor_conversation(
    request: Request,
    session: AsyncSession,
    visitor: VisitorClaims,
    conversation_id: uuid.UUID,
    origin: str | None,
) -> tuple[Conversation, Chatbot]:
    """The visitor token's own conversation (404 for any other) and its public chatbot, once
    the request's origin is one the chatbot allows (`allow_origin`)."""
    conversation, chatbot = await service.visitor_conversation(
        session, Scope.visitor(visitor.conversation_id), conversation_id
    )
    allow_origin(request, chatbot, origin, required=False)
    return conversation, chatbot


class PublicChatbotRead(BaseModel):
    """What the widget shows before the first question. Texts are stored HTML-escaped (the
    display-text rule): put them into a page as text after decoding the entities, or as HTML."""

    id: uuid.UUID
    name: str
    welcome_message: str
    suggested_questions: list[str]
    theme: WidgetThemeRead
    lead_capture: LeadCaptureRead = Field(
        description="When the widget asks for the visitor's contact, and nothing else of it."
    )
    handoff_enabled: bool = Field(
        description='Whether the widget offers "Talk to a person" (the hand-off route '
        "refuses with 409 `handoff-disabled` otherwise)."
    )

    @classmethod
    def of(cls, chatbot: Chatbot) -> PublicChatbotRead:
        return cls(
            id=chatbot.id,
            name=chatbot.name,
            # A new chatbot's widget greets as its chat does, not with an empty panel.
            welcome_message=chatbot.welcome_message or GREETING_REPLY,
            suggested_questions=list(chatbot.suggested_questions),
            theme=WidgetThemeRead.model_validate(chatbot.theme),
            lead_capture=LeadCaptureRead.model_validate(chatbot.lead_capture or {}),
            handoff_enabled=chatbot.handoff_enabled,
        )


class VisitorConversationRead(BaseModel):
    conversation_id: uuid.UUID
    visitor_token: str = Field(description="Bearer token for this conversation's routes only.")
    token_type: str = "bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int = Field(description="Seconds until the visitor token expires.")


@router.get("/chatbots/{chatbot_id}", response_model=PublicChatbotRead)
async def read_public_chatbot(
    chatbot_id: uuid.UUID,
    request: Request,
    response: Response,
    session: SessionDep,
    origin: OriginHeader = None,
) -> PublicChatbotRead:
    """The widget's display settings: name, welcome message, suggested questions, theme,
    when to ask for the visitor's contact (`lead_capture`) and whether a person can be asked
    for (`handoff_enabled`).

    Public chatbots only (another chatbot is 404); a browser's `Origin` must be one of the
    chatbot's allowed origins (403 otherwise). A request without `Origin` is answered without
    CORS headers: browsers send none only to the API's own origin (the development demo page).
    """
    chatbot = await service.public_chatbot(session, chatbot_id)
    allow_origin(request, chatbot, origin, required=False)
    # Short: a theme change shows within a minute, and every page view need not ask.
    response.headers["Cache-Control"] = f"private, max-age={PUBLIC_CHATBOT_MAX_AGE_SECONDS}"
    return PublicChatbotRead.of(chatbot)


@router.post(
    "/chatbots/{chatbot_id}/conversations",
    status_code=status.HTTP_201_CREATED,
    response_model=VisitorConversationRead,
)
async def start_visitor_conversation(
    chatbot_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    jobs: JobBufferDep,
    plans: PlansDep,
    origin: OriginHeader = None,
) -> VisitorConversationRead:
    """Start a widget conversation (no account needed; the page's origin must be allowed)."""
    chatbot = await service.widget_chatbot(session, plans, chatbot_id)
    allow_origin(request, chatbot, origin, required=True)
    conversation = await service.start_conversation(
        session, chatbot, channel=ConversationChannel.widget, jobs=jobs
    )
    token, expires_in = issue_visitor_token(
        app_state(request).settings.auth, conversation.id, chatbot.id, utcnow()
    )
    return VisitorConversationRead(
        conversation_id=conversation.id, visitor_token=token, expires_in=expires_in
    )


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageRead,
)
async def ask_as_visitor(
    conversation_id: uuid.UUID,
    body: MessageCreate,
    request: Request,
    visitor: VisitorDep,
    session: SessionDep,
    runtime: ChatRuntimeDep,
    plans: PlansDep,
    dense: DenseDep,
    origin: OriginHeader = None,
) -> Response:
    """Ask in the visitor's conversation; streams like the member route."""
    conversation, _ = await checked_visitor_conversation(
        request, session, visitor, conversation_id, origin
    )
    run = await answering.ask(
        session, conversation, body.content, runtime, plans=plans, dense=dense
    )
    return answer_response(request, run, stream=wants_stream(request, body))


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def list_visitor_messages(
    conversation_id: uuid.UUID,
    request: Request,
    visitor: VisitorDep,
    session: SessionDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
    order: Annotated[MessageOrder, Query()] = "asc",
    origin: OriginHeader = None,
) -> MessagePage:
    """The visitor's conversation, oldest first by default (how a chat window shows it)."""
    await checked_visitor_conversation(request, session, visitor, conversation_id, origin)
    rows, next_cursor = await service.list_messages(
        session,
        Scope.visitor(visitor.conversation_id),
        conversation_id,
        cursor=cursor,
        order=order,
        limit=limit,
    )
    return MessagePage(items=[MessageRead.of(row) for row in rows], next_cursor=next_cursor)


class VisitorHandoffRead(BaseModel):
    conversation_id: uuid.UUID
    status: ConversationStatus
    handoff_requested_at: datetime | None
    message: str = Field(description="The chatbot's hand-off message, for the widget to show.")


@router.post(
    "/conversations/{conversation_id}/handoff",
    response_model=VisitorHandoffRead,
    responses={
        401: {"description": "No valid visitor token."},
        409: {"description": "`handoff-disabled`: the chatbot does not hand off to people."},
    },
)
async def request_handoff_as_visitor(
    conversation_id: uuid.UUID,
    request: Request,
    visitor: VisitorDep,
    session: SessionDep,
    jobs: JobBufferDep,
    body: Annotated[
        HandoffCreate | None,
        Body(
            openapi_examples={
                "with_reason": {"value": {"reason": "I'd like to talk to someone about billing."}},
                "without": {"value": {}},
            }
        ),
    ] = None,
    origin: OriginHeader = None,
) -> VisitorHandoffRead:
    """Ask for a person: the chatbot stops answering in this conversation (it replies with its
    hand-off message), the workspace's webhooks get `handoff.requested`, and people's replies
    (role `agent`) appear in the conversation's messages. 409 `handoff-disabled` (nothing
    changes) when the chatbot's `handoff_enabled` is off."""
    conversation, chatbot = await checked_visitor_conversation(
        request, session, visitor, conversation_id, origin
    )
    conversation = await handoff.request_handoff_as_visitor(
        session,
        conversation,
        chatbot,
        reason=body.reason if body is not None else None,
        jobs=jobs,
    )
    return VisitorHandoffRead(
        conversation_id=conversation.id,
        status=conversation.status,
        handoff_requested_at=conversation.handoff_requested_at,
        message=chatbot.handoff_message,
    )


class VisitorHandbackRead(BaseModel):
    conversation_id: uuid.UUID
    status: ConversationStatus = Field(description="`active`: the chatbot answers again.")


@router.post(
    "/conversations/{conversation_id}/handback",
    response_model=VisitorHandbackRead,
    responses={401: {"description": "No valid visitor token."}},
)
async def hand_back_as_visitor(
    conversation_id: uuid.UUID,
    request: Request,
    visitor: VisitorDep,
    session: SessionDep,
    jobs: JobBufferDep,
    origin: OriginHeader = None,
) -> VisitorHandbackRead:
    """Back to the assistant: the visitor ends the hand-off, the chatbot answers the next
    questions again and the workspace's webhooks get `handoff.ended` (`ended_by: visitor`).
    Allowed whether or not the chatbot's hand-off is still on; in a conversation not handed
    off it changes nothing. No body."""
    conversation, _ = await checked_visitor_conversation(
        request, session, visitor, conversation_id, origin
    )
    conversation = await handoff.hand_back(session, conversation, ended_by="visitor", jobs=jobs)
    return VisitorHandbackRead(conversation_id=conversation.id, status=conversation.status)


def _preflight(request: Request, chatbot: Chatbot, origin: str | None) -> Response:
    allow_origin(request, chatbot, origin, required=True)
    return Response(
        status_code=status.HTTP_204_NO_CONTENT,
        headers={
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        },
    )


@router.options("/chatbots/{chatbot_id}/conversations", include_in_schema=False)
async def preflight_start(
    chatbot_id: uuid.UUID, request: Request, session: SessionDep, origin: OriginHeader = None
) -> Response:
    return _preflight(request, await service.public_chatbot(session, chatbot_id), origin)


@router.options("/conversations/{conversation_id}/messages", include_in_schema=False)
@router.options("/conversations/{conversation_id}/handoff", include_in_schema=False)
@router.options("/conversations/{conversation_id}/handback", include_in_schema=False)
@router.options("/conversations/{conversation_id}/lead", include_in_schema=False)
async def preflight_messages(
    conversation_id: uuid.UUID, request: Request, session: SessionDep, origin: OriginHeader = None
) -> Response:
    # A preflight carries no credentials, so the conversation is looked up by id alone.
    conversation = await service.get_conversation(
        session, Scope.visitor(conversation_id), conversation_id
    )
    return _preflight(
        request, await service.public_chatbot(session, conversation.chatbot_id), origin
    )
