"""The WebSocket's units of work.

A socket has no request transaction, so each step here opens its own short one: resolving
the credential and the conversation when the socket opens, and, before each question, resolving
them again and storing the question before its answer runs (`chat/answering.py`) with no
transaction open.
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
from sitechat.models.chat import Conversation


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


@dataclass(frozen=True)
class SocketCredential:
    """What a socket presented when it opened, checked again before each of its questions."""

    auth: AuthState
    auth_settings: AuthSettings
    conversation_id: uuid.UUID
    token: str | None
    workspace_header: str | None
    origin: str | None


class SocketRefused(Exception):
    """The socket's credential no longer reaches its conversation: the socket closes with
    the code of `reason` (`Unauthorized`, `NotFound` or `OriginNotAllowed`)."""

    def __init__(self, reason: Unauthorized | NotFound | OriginNotAllowed) -> None:
        super().__init__(reason.detail)
        self.reason = reason


async def open_socket(
    sessionmaker: async_sessionmaker[AsyncSession], credential: SocketCredential
) -> SocketAccess:
    """What the socket's credential may reach, once the conversation is known to be in it.

    Raises `Unauthorized` for a bad credential, `NotFound` for a conversation out of reach and,
    for a visitor token, `OriginNotAllowed` when a browser opens it from an origin the chatbot
    does not allow (as the widget's HTTP routes do: a token copied to another site is useless).
    """
    async with sessionmaker() as session, session.begin():
        access, _ = await _reach(session, credential)
    return access


async def ask_on_socket(
    runtime: ChatRuntime,
    plans: PlanCatalog,
    dense: DenseRetrieval | None,
    credential: SocketCredential,
    question: str,
) -> AnswerRun:
    """Check the credential again and store the question, in one transaction (committed when
    this returns); the run then produces the answer.

    The credential is resolved from the lookups revocation clears: a key revoked, a member
    removed or a session signed out while the socket is open raises `SocketRefused`, with
    nothing stored. Whatever else refuses the question (a `ProblemError`) leaves the socket open.
    """
    async with runtime.sessionmaker() as session, session.begin():
        try:
            _, conversation = await _reach(session, credential)
        except (Unauthorized, NotFound, OriginNotAllowed) as refused:
            raise SocketRefused(refused) from refused
        return await answering.ask(
            session, conversation, question, runtime, plans=plans, dense=dense
        )


async def _reach(
    session: AsyncSession, credential: SocketCredential
) -> tuple[SocketAccess, Conversation]:
    """The credential's access and the conversation it reaches (see `open_socket`)."""
    access = await _socket_access(session, credential)
    scope = access.scope
    if scope.conversation_id is None:
        conversation = await service.get_conversation(session, scope, credential.conversation_id)
        return access, conversation
    conversation, chatbot = await service.visitor_conversation(
        session, scope, credential.conversation_id
    )
    if credential.origin is not None and credential.origin not in chatbot.allowed_origins:
        raise OriginNotAllowed()
    return access, conversation


async def _socket_access(session: AsyncSession, credential: SocketCredential) -> SocketAccess:
    """What a WebSocket's credential may reach: an API key, a visitor token or an access JWT.

    Raises `Unauthorized` (and `NotFound` for a foreign `X-Workspace-ID`) like `get_caller`,
    whose resolution functions it reuses.
    """
    auth, token = credential.auth, credential.token
    if not token:
        raise Unauthorized()
    now = utcnow()
    if token.startswith(API_KEY_PREFIX):
        caller = await caller_from_api_key(session, auth, token, now)
        return SocketAccess(Scope.workspace(caller.workspace_id), caller)
    visitor = verify_visitor_token(credential.auth_settings, token, now)
    if visitor is not None:
        return SocketAccess(Scope.visitor(visitor.conversation_id), None)
    caller = await caller_from_access_token(session, auth, token, credential.workspace_header, now)
    return SocketAccess(Scope.workspace(caller.workspace_id), caller)
