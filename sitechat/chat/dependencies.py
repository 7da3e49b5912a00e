"""Which answerer answers, and how answers stream: built once per app, swappable in tests.

The app keeps the answerer on `app.state.answerer`; it is created from `settings.llm` on first
use when nothing put one there (tests put stand-ins there).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import State

from sitechat.auth.dependencies import (
    AuthState,
    caller_from_access_token,
    caller_from_api_key,
)
from sitechat.chat.answerer import Answerer
from sitechat.chat.extractive import ExtractiveAnswerer
from sitechat.chat.service import Scope
from sitechat.chat.streaming import StreamConfig
from sitechat.chat.visitor_tokens import verify_visitor_token
from sitechat.config import LLMSettings
from sitechat.core.clock import utcnow
from sitechat.core.errors import Unauthorized
from sitechat.core.security import API_KEY_PREFIX


def build_answerer(settings: LLMSettings) -> Answerer:
    if settings.answerer == "openai":
        # The openai SDK takes half a second to import; only deployments using it pay that.
        from sitechat.chat.llm import LLMConfig, OpenAIAnswerer

        return OpenAIAnswerer(
            LLMConfig(
                model=settings.model,
                base_url=settings.base_url,
                api_key=settings.api_key.get_secret_value(),
                timeout_seconds=settings.timeout_seconds,
                max_retries=settings.max_retries,
                max_context_tokens=settings.max_context_tokens,
            )
        )
    if settings.answerer == "extractive":
        return ExtractiveAnswerer()
    raise ValueError(f"unknown answerer {settings.answerer!r}; use 'extractive' or 'openai'")


def answerer_of(state: State) -> Answerer:
    answerer: Answerer | None = getattr(state, "answerer", None)
    if answerer is None:
        answerer = state.answerer = build_answerer(state.settings.llm)
    return answerer


def stream_config_of(state: State) -> StreamConfig:
    config: StreamConfig | None = getattr(state, "chat_stream_config", None)
    return config or StreamConfig()


async def get_answerer(request: Request) -> Answerer:
    return answerer_of(request.app.state)


async def get_stream_config(request: Request) -> StreamConfig:
    return stream_config_of(request.app.state)


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """For the short transaction that stores an answer after the request's own has ended."""
    return request.app.state.sessionmaker  # type: ignore[no-any-return]


AnswererDep = Annotated[Answerer, Depends(get_answerer)]
StreamConfigDep = Annotated[StreamConfig, Depends(get_stream_config)]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


async def socket_scope(
    session: AsyncSession, state: State, token: str | None, workspace_header: str | None
) -> Scope:
    """What a WebSocket's credential may reach: an API key, a visitor token or an access JWT.

    Raises `Unauthorized` (and `NotFound` for a foreign `X-Workspace-ID`) like `get_caller`,
    whose resolution functions it reuses.
    """
    if not token:
        raise Unauthorized()
    auth: AuthState = state.auth
    now = utcnow()
    if token.startswith(API_KEY_PREFIX):
        caller = await caller_from_api_key(session, auth, token, now)
        return Scope.workspace(caller.workspace_id)
    visitor = verify_visitor_token(state.settings.auth, token, now)
    if visitor is not None:
        return Scope.visitor(visitor.conversation_id)
    caller = await caller_from_access_token(session, auth, token, workspace_header, now)
    return Scope.workspace(caller.workspace_id)
