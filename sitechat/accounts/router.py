"""HTTP routes of sign-up, sign-in, tokens, the caller's profile and workspace API keys."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from sitechat.accounts import api_keys, password_reset, profile, registration, sessions
from sitechat.accounts.errors import InvalidCredentials, RefreshTokenReused
from sitechat.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRead,
    LoginRequest,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    RegisterRequest,
    RegistrationRead,
    TokenPair,
    UserRead,
    UserUpdate,
)
from sitechat.accounts.sessions import LoginGuard
from sitechat.accounts.tokens import IssuedTokens, TokenIssuer
from sitechat.auth.capabilities import role_can, role_cannot
from sitechat.auth.dependencies import (
    AdminDep,
    ClientIpDep,
    CurrentUserIdDep,
    auth_state,
)
from sitechat.billing.dependencies import PlansDep
from sitechat.core.caching import NO_STORE
from sitechat.core.db import JobBufferDep, SessionDep
from sitechat.core.errors import problem_responses
from sitechat.core.ratelimit import RouteClass
from sitechat.core.routing import api_router
from sitechat.core.state import app_state
from sitechat.workspaces.schemas import WorkspaceRead


async def get_token_issuer(request: Request) -> TokenIssuer:
    settings = app_state(request).settings
    return TokenIssuer(
        signer=auth_state(request).signer,
        refresh_ttl=timedelta(seconds=settings.auth.refresh_token_ttl_seconds),
    )


async def get_login_guard(request: Request) -> LoginGuard | None:
    """The login throttle when one is configured on the app (the rate-limit feature)."""
    return app_state(request).login_guard


TokenIssuerDep = Annotated[TokenIssuer, Depends(get_token_issuer)]
LoginGuardDep = Annotated[LoginGuard | None, Depends(get_login_guard)]


def _token_pair(tokens: IssuedTokens) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


# Sign-in, sign-up, refresh and reset share the strict `auth` limit, per client IP, and fail
# closed when the limit store is down.
auth_router = api_router(prefix="/auth", tags=["auth"], rate_limit_class=RouteClass.AUTH)


@auth_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    summary="Sign up",
    responses=problem_responses(409, 422),
    dependencies=[NO_STORE],
)
async def register(
    body: RegisterRequest, session: SessionDep, issuer: TokenIssuerDep, ip: ClientIpDep
) -> RegistrationRead:
    """Create a user with a personal workspace (the user owns it) and sign them in.

    The email is normalized (Unicode NFKC, lower case) and must be unused: a duplicate answers
    409 `email-taken`. The password needs 12 to 128 characters, must not be a common password
    nor the email.
    """
    signed_up = await registration.register(
        session,
        issuer,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        ip=ip,
    )
    return RegistrationRead(
        user=UserRead.model_validate(signed_up.user),
        workspace=WorkspaceRead.model_validate(signed_up.workspace),
        tokens=_token_pair(signed_up.tokens),
    )


async def _log_in(
    session: AsyncSession,
    issuer: TokenIssuer,
    guard: LoginGuard | None,
    *,
    email: str,
    password: str,
    ip: str,
) -> TokenPair:
    tokens = await sessions.log_in(
        session, issuer, email=email, password=password, ip=ip, guard=guard
    )
    return _token_pair(tokens)


@auth_router.post(
    "/login",
    summary="Sign in",
    responses=problem_responses(401, 422, 429),
    dependencies=[NO_STORE],
)
async def login(
    body: LoginRequest,
    session: SessionDep,
    issuer: TokenIssuerDep,
    guard: LoginGuardDep,
    ip: ClientIpDep,
) -> TokenPair:
    """Exchange an email and password for an access token (a short-lived JWT, sent as
    `Authorization: Bearer ...`) and a refresh token (opaque, single use).

    Wrong email or password: 401 `invalid-credentials`, the same for both.
    """
    return await _log_in(session, issuer, guard, email=body.email, password=body.password, ip=ip)


@auth_router.post(
    "/token",
    summary="Sign in (OAuth2 password form)",
    responses=problem_responses(401, 429),
    dependencies=[NO_STORE],
)
async def login_with_form(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    issuer: TokenIssuerDep,
    guard: LoginGuardDep,
    ip: ClientIpDep,
) -> TokenPair:
    """The OAuth2 password grant (`username` = email), used by the Authorize button of /docs.

    Same answers as `POST /v1/auth/login`.
    """
    if len(form.username) > 320 or len(form.password) > 128:
        raise InvalidCredentials()
    return await _log_in(session, issuer, guard, email=form.username, password=form.password, ip=ip)


@auth_router.post(
    "/refresh",
    summary="Rotate the refresh token",
    responses=problem_responses(401, 422),
    dependencies=[NO_STORE],
)
async def refresh(
    body: RefreshRequest,
    session: SessionDep,
    issuer: TokenIssuerDep,
    ip: ClientIpDep,
    request: Request,
) -> TokenPair:
    """Spend a refresh token for a new token pair. Each refresh token works once.

    Presenting one that was already spent revokes every token of its chain (the session),
    because only a leaked copy can be presented twice; sign in again after a 401.
    """
    try:
        tokens = await sessions.refresh(session, issuer, refresh_token=body.refresh_token, ip=ip)
    except RefreshTokenReused:
        # The whole session was revoked: its access tokens stop working too.
        auth_state(request).membership_cache.clear()
        raise
    return _token_pair(tokens)


@auth_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out",
    responses=problem_responses(422),
)
async def logout(body: RefreshRequest, session: SessionDep, request: Request) -> Response:
    """Sign the session out: its refresh tokens and its access tokens stop working at once.
    Idempotent: always 204."""
    await sessions.log_out(session, refresh_token=body.refresh_token)
    auth_state(request).membership_cache.clear()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask for a password reset mail",
    response_class=Response,  # an empty 202, documented without a JSON body
    responses=problem_responses(422),
)
async def request_password_reset(
    body: PasswordResetRequest, session: SessionDep, jobs: JobBufferDep
) -> Response:
    """Mail a single-use reset token when the email has an account.

    Always 202, whether or not the account exists, in the same time: the mail is made and
    sent by a job after this request commits.
    """
    password_reset.request_password_reset(jobs, email=body.email)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@auth_router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a new password with a reset token",
    responses=problem_responses(400, 422),
)
async def confirm_password_reset(
    body: PasswordResetConfirm,
    session: SessionDep,
    guard: LoginGuardDep,
    ip: ClientIpDep,
    request: Request,
) -> Response:
    """Set the new password and sign out every session of the account (their refresh and
    access tokens stop working).

    An unknown, expired or already used token: 400 `invalid-token`.
    """
    await password_reset.confirm_password_reset(
        session, token=body.token, new_password=body.new_password, guard=guard, ip=ip
    )
    auth_state(request).membership_cache.clear()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


users_router = api_router(prefix="/users/me", tags=["users"])


@users_router.get("", summary="Your profile", responses=problem_responses(401, 403))
async def get_me(user_id: CurrentUserIdDep, session: SessionDep) -> UserRead:
    """The signed-in user. Needs a user's access token (API keys get 403)."""
    return UserRead.model_validate(await profile.get_user(session, user_id))


@users_router.patch(
    "", summary="Update your profile", responses=problem_responses(401, 403, 409, 422)
)
async def update_me(body: UserUpdate, user_id: CurrentUserIdDep, session: SessionDep) -> UserRead:
    """Change the full name and/or the email; an email in use answers 409 `email-taken`."""
    user = await profile.update_user(session, user_id, full_name=body.full_name, email=body.email)
    return UserRead.model_validate(user)


@users_router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete your account",
    responses=problem_responses(401, 403, 409),
)
async def delete_me(user_id: CurrentUserIdDep, session: SessionDep, request: Request) -> Response:
    """Delete the account, its personal workspace and everything in it.

    Refused with 409 `sole-owner` while you are the only owner of a shared workspace that
    has other members.
    """
    await profile.delete_user(session, user_id)
    state = auth_state(request)
    state.membership_cache.clear()
    state.key_cache.clear()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users_router.post(
    "/password",
    summary="Change your password",
    responses=problem_responses(401, 403, 422),
    dependencies=[NO_STORE],
)
async def change_password(
    body: PasswordChange,
    user_id: CurrentUserIdDep,
    session: SessionDep,
    issuer: TokenIssuerDep,
    ip: ClientIpDep,
    request: Request,
) -> TokenPair:
    """Needs the current password (403 `wrong-password` otherwise).

    Signs out every session (their refresh and access tokens stop working, this request's
    too) and answers a fresh token pair to continue with.
    """
    tokens = await profile.change_password(
        session,
        issuer,
        user_id,
        current_password=body.current_password,
        new_password=body.new_password,
        ip=ip,
    )
    auth_state(request).membership_cache.clear()
    return _token_pair(tokens)


api_keys_router = api_router(prefix="/api-keys", tags=["api-keys"])


@api_keys_router.get("", summary="List API keys", responses=problem_responses(401, 403))
async def list_api_keys(caller: AdminDep, session: SessionDep) -> ApiKeyList:
    """The workspace's API keys, newest first, without their secrets. Needs admin."""
    keys = await api_keys.list_api_keys(session, caller)
    return ApiKeyList(items=[ApiKeyRead.model_validate(key) for key in keys])


@api_keys_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key",
    responses=problem_responses(401, 403, 422),
    dependencies=[NO_STORE],
)
async def create_api_key(
    body: ApiKeyCreate,
    caller: AdminDep,
    session: SessionDep,
    plans: PlansDep,
    request: Request,
    ip: ClientIpDep,
) -> ApiKeyCreated:
    """A key for the current workspace, usable as `Authorization: Bearer sk_...`.

    The full key is in this response only. Its role is at most yours (403 `role-too-high`);
    `expires_at` must be in the future. Needs admin. The default role, `member`, reads and
    chats but cannot create chatbots or start crawls; `can` and `cannot` in the response say
    what the key's role allows.
    """
    api_key, plaintext = await api_keys.create_api_key(
        session,
        plans,
        auth_state(request).api_keys,
        caller,
        name=body.name,
        role=body.role,
        expires_at=body.expires_at,
        ip=ip,
    )
    return ApiKeyCreated(
        **ApiKeyRead.model_validate(api_key).model_dump(),
        key=plaintext,
        can=role_can(api_key.role),
        cannot=role_cannot(api_key.role),
    )


@api_keys_router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key",
    responses=problem_responses(401, 403, 404),
)
async def revoke_api_key(
    key_id: uuid.UUID, caller: AdminDep, session: SessionDep, request: Request, ip: ClientIpDep
) -> Response:
    """The key stops working at once. Idempotent. Needs admin."""
    await api_keys.revoke_api_key(session, caller, key_id, ip=ip)
    auth_state(request).key_cache.clear()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
