"""Conversations and messages: REST, server-sent events and a WebSocket.

Asking a question never holds a transaction open while the answer is produced: the route
stores the question (`chat/answering.py: ask`), returns a response that runs the answer when
it is sent, after the route's commit (`chat/responses.py`), and the answer is stored in a
short transaction of its own.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Body, Query, Request, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, Response

from sitechat.auth.dependencies import WORKSPACE_HEADER, AuthState, CallerDep
from sitechat.auth.rate_limits import CallerRateLimitSubjects
from sitechat.billing.dependencies import PlansDep
from sitechat.billing.plans import PlanCatalog
from sitechat.chat import answering, handoff, service
from sitechat.chat.answering import ChatRuntime
from sitechat.chat.dependencies import ChatRuntimeDep
from sitechat.chat.errors import OriginNotAllowed
from sitechat.chat.responses import answer_response, wants_stream
from sitechat.chat.schemas import (
    AnswerRead,
    ConversationCreate,
    ConversationPage,
    ConversationRead,
    ConversationUpdate,
    FeedbackCreate,
    FeedbackRead,
    HandoffCreate,
    MemberMessageCreate,
    MessageOrder,
    MessagePage,
    MessageRead,
    Question,
)
from sitechat.chat.service import Scope
from sitechat.chat.socket import (
    SocketAccess,
    SocketCredential,
    SocketRefused,
    ask_on_socket,
    open_socket,
    parse_conversation_id,
)
from sitechat.chat.streaming import (
    ws_message,
)
from sitechat.core.db import JobBufferDep, SessionDep
from sitechat.core.errors import (
    NotFound,
    ProblemError,
    Unauthorized,
)
from sitechat.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam
from sitechat.core.ratelimit import (
    RateLimitExceeded,
    RateLimitSubject,
    RateLimitUnavailable,
    RouteClass,
    rate_limit_headers,
)
from sitechat.core.routing import api_router, charge, rate_limit_class
from sitechat.core.security import bearer_token
from sitechat.core.state import app_state
from sitechat.knowledge.dense import DenseSetup
from sitechat.knowledge.dependencies import DenseDep
from sitechat.models.chat import ConversationChannel, ConversationStatus

log = structlog.get_logger()

router = api_router(tags=["chat"])

WS_UNAUTHORIZED = 4401
WS_ORIGIN_NOT_ALLOWED = 4403
WS_NOT_FOUND = 4404
WS_RATE_LIMITED = 4429

_SSE_DOC = {
    "description": "With `stream: true` or `Accept: text/event-stream`: server-sent events "
    "`message_start`, `delta` (repeated), `citations`, then `done` (or `error`); "
    "`: ping` comments keep the connection alive.",
    "content": {"text/event-stream": {}},
}


# --- conversations -----------------------------------------------------------------------------


@router.post(
    "/chatbots/{chatbot_id}/conversations",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationRead,
)
async def create_conversation(
    chatbot_id: uuid.UUID,
    body: ConversationCreate,
    caller: CallerDep,
    session: SessionDep,
    jobs: JobBufferDep,
) -> ConversationRead:
    """Start a conversation with one of the workspace's chatbots."""
    chatbot = await service.get_chatbot(session, Scope.workspace(caller.workspace_id), chatbot_id)
    conversation = await service.start_conversation(
        session,
        chatbot,
        channel=ConversationChannel.api,
        title=body.title,
        user_id=caller.user_id,
        jobs=jobs,
    )
    return ConversationRead.of(conversation)


@router.get("/chatbots/{chatbot_id}/conversations", response_model=ConversationPage)
async def list_conversations(
    chatbot_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
    status_filter: Annotated[
        ConversationStatus | None,
        Query(
            alias="status",
            description="`handoff_requested`: the conversations waiting for a person.",
        ),
    ] = None,
) -> ConversationPage:
    """The chatbot's conversations, newest first (widget and API ones alike)."""
    rows, next_cursor = await service.list_conversations(
        session, Scope.workspace(caller.workspace_id), chatbot_id, cursor, limit, status_filter
    )
    return ConversationPage(
        items=[ConversationRead.of(row) for row in rows], next_cursor=next_cursor
    )


@router.get("/conversations/{conversation_id}", response_model=ConversationRead)
async def get_conversation(
    conversation_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> ConversationRead:
    """One conversation."""
    conversation = await service.get_conversation(
        session, Scope.workspace(caller.workspace_id), conversation_id
    )
    return ConversationRead.of(conversation)


@router.patch("/conversations/{conversation_id}", response_model=ConversationRead)
async def update_conversation(
    conversation_id: uuid.UUID, body: ConversationUpdate, caller: CallerDep, session: SessionDep
) -> ConversationRead:
    """Rename a conversation."""
    changes = body.model_dump(exclude_unset=True)
    conversation = await service.rename_conversation(
        session, Scope.workspace(caller.workspace_id), conversation_id, changes.get("title")
    )
    return ConversationRead.of(conversation)


@router.delete("/conversations/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(
    conversation_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> None:
    """Delete a conversation with its messages and their feedback."""
    await service.delete_conversation(
        session, Scope.workspace(caller.workspace_id), conversation_id
    )


# --- messages ----------------------------------------------------------------------------------


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    # An answer to a question; the stored reply itself for an agent's message.
    response_model=AnswerRead | MessageRead,
    responses={
        200: _SSE_DOC,
        409: {
            "description": "The chatbot is not `ready` (a question), or the conversation is "
            "not handed off (an agent reply)."
        },
    },
    openapi_extra=rate_limit_class(RouteClass.CHAT),
)
async def ask_question(
    conversation_id: uuid.UUID,
    body: Annotated[
        MemberMessageCreate,
        Body(
            openapi_examples={
                "question": {
                    "summary": "Ask the chatbot",
                    "value": {"content": "How do I reset my password?"},
                },
                "agent_reply": {
                    "summary": "A person replies in a handed-off conversation",
                    "value": {"role": "agent", "content": "Hi, I'm Sam. Let me check that."},
                },
            }
        ),
    ],
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    runtime: ChatRuntimeDep,
    plans: PlansDep,
    dense: DenseDep,
) -> Response:
    """Ask a question; the answer comes back with numbered citations (URL, title, snippet).

    Only a `ready` chatbot answers (409 `chatbot-not-ready` otherwise). A failing model answers
    with a 502/503/504 problem whose type names the failure (`llm-timeout`, ...). In a
    conversation handed off to a person the chatbot does not answer: the reply is its fixed
    `handoff_message`, with `handoff_notice: true`.

    With `"role": "agent"`, a person of the workspace replies in a handed-off conversation
    (409 `invalid-state-transition` otherwise); the reply is stored as display text and comes
    back as the stored message (no `user_message_id`); the visitor's history shows it.
    """
    conversation = await service.get_conversation(
        session, Scope.workspace(caller.workspace_id), conversation_id
    )
    if body.role == "agent":
        reply = await handoff.add_agent_reply(session, conversation, body.content, caller.user_id)
        return JSONResponse(
            MessageRead.of(reply).model_dump(mode="json"), status_code=status.HTTP_201_CREATED
        )
    run = await answering.ask(
        session, conversation, body.content, runtime, plans=plans, dense=dense
    )
    return answer_response(request, run, stream=wants_stream(request, body))


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    conversation_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
    order: Annotated[MessageOrder, Query(description="`asc`: oldest first.")] = "desc",
) -> MessagePage:
    """The conversation's messages, newest first by default."""
    rows, next_cursor = await service.list_messages(
        session,
        Scope.workspace(caller.workspace_id),
        conversation_id,
        cursor=cursor,
        order=order,
        limit=limit,
    )
    return MessagePage(items=[MessageRead.of(row) for row in rows], next_cursor=next_cursor)


@router.post("/messages/{message_id}/feedback", response_model=FeedbackRead)
async def give_feedback(
    message_id: uuid.UUID,
    body: FeedbackCreate,
    caller: CallerDep,
    session: SessionDep,
    jobs: JobBufferDep,
) -> FeedbackRead:
    """Rate an answer up or down (again to change the rating), with an optional comment."""
    feedback = await service.give_feedback(
        session, caller.workspace_id, message_id, body.rating, body.comment, jobs
    )
    return FeedbackRead.model_validate(feedback)


# --- hand-off ----------------------------------------------------------------------------------


@router.post("/conversations/{conversation_id}/handoff", response_model=ConversationRead)
async def request_handoff(
    conversation_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    jobs: JobBufferDep,
    body: HandoffCreate | None = None,
) -> ConversationRead:
    """Hand the conversation to a person: the chatbot stops answering in it (it says its
    `handoff_message` instead) and `handoff.requested` is sent to webhooks. Asking again
    changes nothing. People reply with `POST .../messages` and `"role": "agent"`."""
    conversation = await service.get_conversation(
        session, Scope.workspace(caller.workspace_id), conversation_id
    )
    reason = body.reason if body is not None else None
    conversation = await handoff.request_handoff(
        session, conversation, requested_by="api", reason=reason, jobs=jobs
    )
    return ConversationRead.of(conversation)


@router.post("/conversations/{conversation_id}/handback", response_model=ConversationRead)
async def hand_back(
    conversation_id: uuid.UUID, caller: CallerDep, session: SessionDep, jobs: JobBufferDep
) -> ConversationRead:
    """Give the conversation back to the chatbot, which answers its next questions again;
    `handoff.ended` is sent to webhooks (`ended_by: api`). Handing back an active
    conversation changes nothing."""
    conversation = await service.get_conversation(
        session, Scope.workspace(caller.workspace_id), conversation_id
    )
    conversation = await handoff.hand_back(session, conversation, ended_by="api", jobs=jobs)
    return ConversationRead.of(conversation)


# --- WebSocket ---------------------------------------------------------------------------------


class SocketQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern="^question$")
    content: Question


def _bearer(websocket: WebSocket) -> str | None:
    return websocket.query_params.get("token") or bearer_token(websocket)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def _rate_limited(exceeded: RateLimitExceeded) -> dict[str, Any]:
    retry_after = int(rate_limit_headers(exceeded.decision).get("Retry-After", "1"))
    return _error("rate-limited", f"Too many questions; retry after {retry_after} seconds.") | {
        "retry_after": retry_after
    }


@dataclass(frozen=True)
class SocketLimits:
    route_class: RouteClass
    subject: RateLimitSubject | None


def _socket_limits(websocket: WebSocket, access: SocketAccess) -> SocketLimits:
    """The buckets a socket's questions draw on: a visitor's as the widget's routes
    (`public_widget`, per token and per address), a member's or key's as the chat route."""
    visitor_conversation = access.scope.conversation_id
    if visitor_conversation is not None:
        visitor = CallerRateLimitSubjects.for_visitor(visitor_conversation)
        return SocketLimits(RouteClass.PUBLIC_WIDGET, visitor)
    if access.caller is None:
        return SocketLimits(RouteClass.CHAT, None)
    subjects = app_state(websocket).component(CallerRateLimitSubjects)
    return SocketLimits(RouteClass.CHAT, subjects.for_caller(access.caller))


async def _charge(websocket: WebSocket, limits: SocketLimits) -> None:
    """Charge one question (or the connection) like the HTTP route that asks it; nothing
    when limits are off. Raises `RateLimitExceeded` or `RateLimitUnavailable`."""
    limiter = app_state(websocket).rate_limiter
    if limiter is not None:
        await charge(websocket, limiter, limits.route_class, limits.subject)


@router.websocket("/conversations/{conversation_id}/ws")
async def conversation_socket(websocket: WebSocket, conversation_id: str) -> None:
    """Send `{"type": "question", "content": "..."}`; receive the answer's typed events.

    Authenticate with `?token=` or an `Authorization: Bearer` header (access token, API key, or
    the conversation's visitor token). Closes with 4401 on bad credentials, 4404 when the
    conversation is not reachable with them, 4403 when a visitor token comes from an origin
    its chatbot does not allow, 4429 when the caller is over its rate limit. The credential is
    checked again before every question: once revoked or expired, the socket closes (4401).
    Opening the socket and each question are rate limited like the HTTP route that asks it; a
    question over the limit gets an `error` frame with `code: "rate-limited"` and
    `retry_after` (seconds), and the socket stays open.
    """
    await websocket.accept()
    state = app_state(websocket)
    runtime = state.component(ChatRuntime)
    plans = state.component(PlanCatalog)
    dense = state.component(DenseSetup).dense

    try:
        parsed_id = parse_conversation_id(conversation_id)
        credential = SocketCredential(
            state.component(AuthState),
            state.settings.auth,
            parsed_id,
            _bearer(websocket),
            websocket.headers.get(WORKSPACE_HEADER),
            websocket.headers.get("origin"),
        )
        access = await open_socket(runtime.sessionmaker, credential)
        limits = _socket_limits(websocket, access)
        await _charge(websocket, limits)
    except (
        Unauthorized,
        NotFound,
        OriginNotAllowed,
        RateLimitExceeded,
        RateLimitUnavailable,
    ) as refused:
        await websocket.close(code=_close_code(refused))
        return
    try:
        while True:
            raw = await websocket.receive_text()
            try:
                question = SocketQuestion.model_validate_json(raw)
            except ValidationError as error:
                await websocket.send_json(
                    _error("validation-error", _socket_question_problem(error))
                )
                continue
            try:
                await _charge(websocket, limits)
            except RateLimitExceeded as exceeded:
                await websocket.send_json(_rate_limited(exceeded))
                continue
            except RateLimitUnavailable as unavailable:
                await websocket.send_json(
                    _error("rate-limit-unavailable", "Please retry shortly.")
                    | {"retry_after": unavailable.retry_after_seconds}
                )
                continue
            try:
                run = await ask_on_socket(runtime, plans, dense, credential, question.content)
            except SocketRefused as refused:  # revoked or expired while the socket was open
                await websocket.close(code=_close_code(refused.reason))
                return
            except ProblemError as error:
                await websocket.send_json(_error(error.slug, error.detail))
                continue
            events = run.events()
            async with contextlib.aclosing(events):
                async for event in events:
                    await websocket.send_json(ws_message(event))
    except WebSocketDisconnect:
        log.info("chat.socket_closed", conversation_id=str(parsed_id))
    except Exception:
        # Whatever went wrong, the client gets a close frame that says so, not a dropped
        # connection.
        log.exception("chat.socket_failed", conversation_id=str(parsed_id))
        with contextlib.suppress(Exception):
            await websocket.close(code=WS_INTERNAL_ERROR)


WS_INTERNAL_ERROR = 1011


def _close_code(refusal: Exception) -> int:
    if isinstance(refusal, Unauthorized):
        return WS_UNAUTHORIZED
    if isinstance(refusal, OriginNotAllowed):
        return WS_ORIGIN_NOT_ALLOWED
    if isinstance(refusal, RateLimitExceeded | RateLimitUnavailable):
        return WS_RATE_LIMITED
    return WS_NOT_FOUND


def _socket_question_problem(error: ValidationError) -> str:
    """What was wrong with a frame: its content's problem, or the shape expected."""
    for item in error.errors():
        if tuple(item["loc"]) == ("content",) and item["type"] == "value_error":
            return f"The question {str(item['msg']).removeprefix('Value error, ')}."
    return 'Send {"type": "question", "content": "..."}.'
