"""The WebSocket's units of work.

A socket has no request transaction, so each step here opens its own short one: resolving
the credential and the conversation when the socket opens, and storing each question before
its answer runs (`chat/answering.py`) with no transaction open.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sitechat.auth.caller import Caller
from sitechat.auth.dependencies import AuthState, caller_from_access_token, caller_from_api_key
from sitechat.billing.plans import PlanCatalog
from sitechat.chat import answering, service
from sitechat.chat.answering import AnswerRun, ChatRuntime
from sitechat.chat.errors import OriginNotAllowed
from sitechat.chat.service import Scope
from sitechat.chat.visitor_tokens import verify_visitor_token
from sitechat.config import AuthSettings
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound, Unauthorized
from sitechat.core.security import API_KEY_PREFIX
from sitechat.knowledge.dense import DenseRetrieval


def parse_conversation_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("Conversation") from None


@dataclass(frozen=True)
class SocketAccess:
    """A socket's verified credential: what it may reach, and the member or API key behind
    it (None for a widget visitor)."""

    scope: Scope
    caller: Caller | None


async def open_socket(
    sessionmaker: async_sessionmaker[AsyncSession],
    auth: AuthState,
    auth_settings: AuthSettings,
    conversation_id: uuid.UUID,
    token: str | None,
    workspace_header: str | None,
    origin: str | None,
) -> SocketAccess:
    """What the socket's credential may reach, once the conversation is known to be in it.

    Raises `Unauthorized` for a bad credential, `NotFound` for a conversation out of reach and,
    for a visitor token, `OriginNotAllowed` when a browser opens it from an origin the chatbot
    does not allow (as the widget's HTTP routes do: a token copied to another site is useless).
    """
    async with sessionmaker() as session, session.begin():
        access = await _socket_access(session, auth, auth_settings, token, workspace_header)
        scope = access.scope
        if scope.conversation_id is None:
            await service.get_conversation(session, scope, conversation_id)
        else:
            _, chatbot = await service.visitor_conversation(session, scope, conversation_id)
            if origin is not None and origin not in chatbot.allowed_origins:
                raise OriginNotAllowed()
    return access


async def ask_on_socket(
    runtime: ChatRuntime,
    plans: PlanCatalog,
    dense: DenseRetrieval | None,
    scope: Scope,
    conversation_id: uuid.UUID,
    question: str,
) -> AnswerRun:
    """Store the question (committed when this returns); the run then produces the answer."""
    async with runtime.sessionmaker() as session, session.begin():
        conversation = await service.get_conversation(session, scope, conversation_id)
        return await answering.ask(
            session, conversation, question, runtime, plans=plans, dense=dense
        )


async def _socket_access(
    session: AsyncSession,
    auth: AuthState,
    auth_settings: AuthSettings,
    token: str | None,
    workspace_header: str | None,
) -> SocketAccess:
    """What a WebSocket's credential may reach: an API key, a visitor token or an access JWT.

    Raises `Unauthorized` (and `NotFound` for a foreign `X-Workspace-ID`) like `get_caller`,
    whose resolution functions it reuses.
    """
    if not token:
        raise Unauthorized()
    now = utcnow()
    if token.startswith(API_KEY_PREFIX):
        caller = await caller_from_api_key(session, auth, token, now)
        return SocketAccess(Scope.workspace(caller.workspace_id), caller)
    visitor = verify_visitor_token(auth_settings, token, now)
    if visitor is not None:
        return SocketAccess(Scope.visitor(visitor.conversation_id), None)
    caller = await caller_from_access_token(session, auth, token, workspace_header, now)
    return SocketAccess(Scope.workspace(caller.workspace_id), caller)
