"""Who is calling, on which workspace, with which role: one `Caller` per request.

A bearer token is either an access JWT (a user; the workspace comes from `X-Workspace-ID`, or
is the user's personal workspace) or an API key `sk_...` (bound to one workspace). Lookups on
this hot path are cached for a few seconds per process (see `sitechat.core.cache`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.auth import repository
from sitechat.auth.caller import Caller
from sitechat.config import Settings
from sitechat.core.cache import TTLCache
from sitechat.core.clock import utcnow
from sitechat.core.db import request_session
from sitechat.core.errors import Forbidden, NotFound, Unauthorized
from sitechat.core.ratelimit import client_ip
from sitechat.core.security import (
    ApiKeyHasher,
    InvalidToken,
    TokenSigner,
    bearer_token,
    split_api_key,
)
from sitechat.core.state import app_state
from sitechat.models.accounts import Role

WORKSPACE_HEADER = "X-Workspace-ID"
SIGNED_OUT = "The access token's session was signed out; sign in again."
CREDENTIAL_CACHE_SECONDS = 10.0
LAST_USED_RESOLUTION = timedelta(minutes=1)
RESOLVED_CALLER = "sitechat.caller"
"""Request-state key of the caller `get_caller` resolved (for the rate limiter, then reused)."""

TOKEN_URL = "/v1/auth/token"  # noqa: S105 (a route, not a secret)
bearer_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


@dataclass
class AuthState:
    """Per-app credential machinery, built once in create_app."""

    signer: TokenSigner
    api_keys: ApiKeyHasher
    key_cache: TTLCache[str, repository.ApiKeyRecord]
    membership_cache: TTLCache[
        tuple[uuid.UUID, uuid.UUID | None, uuid.UUID], repository.MembershipRecord
    ]
    key_last_used: dict[uuid.UUID, datetime]


def build_auth_state(settings: Settings) -> AuthState:
    return AuthState(
        signer=TokenSigner(settings.auth),
        api_keys=ApiKeyHasher(settings.auth.api_key_pepper.get_secret_value()),
        key_cache=TTLCache(CREDENTIAL_CACHE_SECONDS),
        membership_cache=TTLCache(CREDENTIAL_CACHE_SECONDS),
        key_last_used={},
    )


def auth_state(request: Request) -> AuthState:
    return app_state(request).component(AuthState)


def _parse_workspace_header(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("Workspace") from None


async def caller_from_api_key(
    session: AsyncSession, state: AuthState, token: str, now: datetime
) -> Caller:
    parts = split_api_key(token)
    if parts is None:
        raise Unauthorized("The API key is malformed.")
    prefix, secret = parts
    record = state.key_cache.get(prefix)
    if record is None:
        record = await repository.find_api_key(session, prefix)
        if record is None:
            raise Unauthorized("The API key is invalid or revoked.")
        state.key_cache.put(prefix, record)
    if not state.api_keys.matches(secret, record.key_hash) or not record.usable_at(now):
        raise Unauthorized("The API key is invalid or revoked.")
    last_used = state.key_last_used.get(record.id)
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        # Recorded at minute resolution so a busy key costs no write per request.
        state.key_last_used[record.id] = now
        await repository.touch_api_key(session, record.id, now)
    return Caller(
        workspace_id=record.workspace_id,
        role=record.role,
        api_key_id=record.id,
        plan_id=record.plan_id,
    )


async def caller_from_access_token(
    session: AsyncSession,
    state: AuthState,
    token: str,
    workspace_header: str | None,
    now: datetime,
) -> Caller:
    try:
        claims = state.signer.verify_access_token(token, now)
    except InvalidToken:
        raise Unauthorized("The access token is invalid or expired.") from None
    requested = _parse_workspace_header(workspace_header)
    cache_key = (claims.user_id, requested, claims.session_id)
    membership = state.membership_cache.get(cache_key)
    if membership is None:
        membership = await repository.find_membership(
            session, claims.user_id, requested, claims.session_id
        )
        if membership is None:
            if not await repository.session_is_live(session, claims.user_id, claims.session_id):
                raise Unauthorized(SIGNED_OUT)
            if requested is not None and await repository.user_is_active(session, claims.user_id):
                raise NotFound("Workspace")
            raise Unauthorized("The access token's user no longer exists.")
        if not membership.session_live:
            raise Unauthorized(SIGNED_OUT)
        state.membership_cache.put(cache_key, membership)
    return Caller(
        workspace_id=membership.workspace_id,
        role=membership.role,
        user_id=claims.user_id,
        plan_id=membership.plan_id,
    )


WORKSPACE_HEADER_PARAMETER = {
    "name": WORKSPACE_HEADER,
    "in": "header",
    "required": False,
    "description": "Workspace to act on; defaults to the caller's personal workspace.",
    "schema": {"type": "string", "format": "uuid", "title": "X-Workspace-Id"},
}


class CallerScheme(OAuth2PasswordBearer):
    """`CallerDep`: the bearer scheme that resolves its token to a `Caller` itself.

    One dependency with nothing for FastAPI to extract (it reads `Authorization` and
    `X-Workspace-ID` from the request) instead of three nested ones (the caller, the bearer
    scheme, the header): FastAPI's dependency solving was the largest single cost of a read
    (about 18 % of a `GET /v1/chatbots/{id}` under load). The OpenAPI schema keeps what
    clients rely on: this is the `OAuth2PasswordBearer` security scheme, and `ApiRoute`
    documents the header on every route that depends on it (`WORKSPACE_HEADER_PARAMETER`).

    It takes the request's session only when a lookup misses the credential caches (see
    `request_session`), rather than depending on `SessionDep`.
    """

    openapi_parameters = (WORKSPACE_HEADER_PARAMETER,)

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        resolved: Caller | None = request.scope["state"].get(RESOLVED_CALLER)
        if resolved is not None:  # the rate limiter already verified this request's credential
            return resolved
        return await get_caller(
            request,
            request_session(request),
            bearer_token(request),
            request.headers.get(WORKSPACE_HEADER),
        )


caller_scheme = CallerScheme(
    tokenUrl=TOKEN_URL,
    scheme_name=bearer_scheme.scheme_name,
    auto_error=False,
)


async def get_caller(
    request: Request,
    session: AsyncSession,
    token: str | None,
    workspace_header: str | None = None,
) -> Caller:
    """The caller of `token`, for code that resolves it outside `CallerDep`."""
    if not token:
        raise Unauthorized()
    state = auth_state(request)
    now = utcnow()
    if token.startswith("sk_"):
        caller = await caller_from_api_key(session, state, token, now)
    else:
        caller = await caller_from_access_token(session, state, token, workspace_header, now)
    request_state = request.scope["state"]
    request_state[RESOLVED_CALLER] = caller
    request_state["log_workspace_id"] = str(caller.workspace_id)
    request_state["log_user_id"] = str(caller.user_id) if caller.user_id else None
    request_state["log_api_key_id"] = str(caller.api_key_id) if caller.api_key_id else None
    return caller


CallerDep = Annotated[Caller, Depends(caller_scheme)]


def require_role(role: Role) -> object:
    async def caller_with_role(caller: CallerDep) -> Caller:
        if not caller.can(role):
            raise Forbidden(f"This action needs the {role.value} role in the workspace.")
        return caller

    return Depends(caller_with_role)


MemberDep = CallerDep
AdminDep = Annotated[Caller, require_role(Role.admin)]
OwnerDep = Annotated[Caller, require_role(Role.owner)]


async def get_current_user_id(caller: CallerDep) -> uuid.UUID:
    """Routes about the person (profile, password) refuse API keys."""
    if caller.user_id is None:
        raise Forbidden("This route needs a user's access token, not an API key.")
    return caller.user_id


CurrentUserIdDep = Annotated[uuid.UUID, Depends(get_current_user_id)]


async def get_client_ip(request: Request) -> str:
    """The caller's address as the rate limiter sees it (X-Forwarded-For only from proxies)."""
    return client_ip(request, app_state(request).trusted_proxies)


ClientIpDep = Annotated[str, Depends(get_client_ip)]
