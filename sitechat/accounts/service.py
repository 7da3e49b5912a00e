"""Business rules of sign-up, sign-in, token rotation, profile and password reset.

Functions take the request's session first and never commit; the route class commits once.
Password hashing (Argon2id, tens of milliseconds of CPU) runs in a worker thread so it does not
stall the event loop for everyone else.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.accounts import repository
from sitechat.accounts.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidExpiry,
    InvalidRefreshToken,
    InvalidResetToken,
    LoginThrottled,
    RefreshTokenReused,
    RoleTooHigh,
    SoleOwner,
    WeakPassword,
    WrongPassword,
)
from sitechat.audit.service import record_audit_event
from sitechat.auth import repository as credentials
from sitechat.auth.caller import Caller
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound
from sitechat.core.mail import Mailer, MailMessage
from sitechat.core.passwords import password_weakness
from sitechat.core.security import (
    ApiKeyHasher,
    TokenSigner,
    hash_password,
    hash_token,
    new_opaque_token,
    normalize_email,
    verify_password,
)
from sitechat.models.accounts import (
    ApiKey,
    Membership,
    PasswordResetToken,
    RefreshToken,
    Role,
    User,
    Workspace,
)
from sitechat.workspaces import repository as workspace_repository

log = structlog.get_logger()

WORKSPACE_NAME_MAX = 200
SPENT_TOKENS_KEPT = timedelta(days=1)
EMAIL_CONSTRAINT = "uq_users_email"


class LoginVerdict(Protocol):
    @property
    def allowed(self) -> bool: ...
    @property
    def retry_after(self) -> int: ...


class LoginGuard(Protocol):
    """Throttles password guessing; plugged in as `app.state.login_guard` when configured."""

    async def check(self, email: str, ip: str) -> LoginVerdict: ...
    async def record_failure(self, email: str, ip: str) -> None: ...
    async def record_success(self, email: str, ip: str) -> None: ...
    async def unlock(self, email: str) -> None: ...


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class TokenIssuer:
    """Issues an access JWT plus a refresh token stored (hashed) in a rotation family."""

    signer: TokenSigner
    refresh_ttl: timedelta

    def issue(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        now: datetime,
        family_id: uuid.UUID | None = None,
    ) -> IssuedTokens:
        access_token, expires_in = self.signer.issue_access_token(user_id, now)
        refresh_token = new_opaque_token()
        session.add(
            RefreshToken(
                user_id=user_id,
                family_id=family_id or uuid.uuid4(),
                token_hash=hash_token(refresh_token),
                created_at=now,
                expires_at=now + self.refresh_ttl,
            )
        )
        return IssuedTokens(access_token, refresh_token, expires_in)


@dataclass(frozen=True)
class Registration:
    user: User
    workspace: Workspace
    tokens: IssuedTokens


def _personal_workspace_name(full_name: str) -> str:
    suffix = "'s workspace"
    return full_name[: WORKSPACE_NAME_MAX - len(suffix)] + suffix


async def _flush_unless_email_taken(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as error:
        if EMAIL_CONSTRAINT not in str(error.orig):
            raise
        # A concurrent sign-up or profile change took the email first.
        raise EmailTaken() from error


async def register(
    session: AsyncSession,
    issuer: TokenIssuer,
    *,
    email: str,
    password: str,
    full_name: str,
    ip: str | None,
) -> Registration:
    """A user, their personal workspace and their owner membership, in one transaction."""
    if await repository.email_in_use(session, email):
        raise EmailTaken()
    password_hash = await asyncio.to_thread(hash_password, password)
    now = utcnow()
    # The models declare no relationships, so the unit of work does not order inserts by
    # foreign key: each parent row is flushed before its children are added.
    workspace = Workspace(name=_personal_workspace_name(full_name), is_personal=True)
    session.add(workspace)
    await session.flush()
    user = User(
        email=email,
        full_name=full_name,
        password_hash=password_hash,
        personal_workspace_id=workspace.id,
    )
    session.add(user)
    await _flush_unless_email_taken(session)
    session.add(Membership(workspace_id=workspace.id, user_id=user.id, role=Role.owner))
    tokens = issuer.issue(session, user.id, now)
    record_audit_event(
        session, action="user.registered", workspace_id=workspace.id, actor_user_id=user.id, ip=ip
    )
    await session.flush()
    log.info("user.registered", user_id=str(user.id), workspace_id=str(workspace.id))
    return Registration(user=user, workspace=workspace, tokens=tokens)


async def log_in(
    session: AsyncSession,
    issuer: TokenIssuer,
    *,
    email: str,
    password: str,
    ip: str,
    guard: LoginGuard | None,
) -> IssuedTokens:
    """Token pair for a correct email and password.

    An unknown email still costs one hash verification, so timing does not tell which emails
    have accounts. Raises `InvalidCredentials` after adding a failure audit event that the
    caller must keep (see the router).
    """
    email = normalize_email(email)
    if guard is not None:
        verdict = await guard.check(email, ip)
        if not verdict.allowed:
            await _audit_throttled_login(session, email, ip, verdict.retry_after)
            raise LoginThrottled(verdict.retry_after)
    user = await credentials.get_user_by_email(session, email)
    known = user if user is not None and user.is_active else None
    stored_hash = known.password_hash if known is not None else None
    if not await asyncio.to_thread(verify_password, password, stored_hash):
        if guard is not None:
            await guard.record_failure(email, ip)
        record_audit_event(
            session,
            action="auth.login_failed",
            workspace_id=None,
            actor_user_id=known.id if known is not None else None,
            ip=ip,
        )
        log.info("auth.login_failed", user_id=str(known.id) if known else None, ip=ip)
        raise InvalidCredentials()
    assert known is not None
    if guard is not None:
        await guard.record_success(email, ip)
    tokens = issuer.issue(session, known.id, utcnow())
    record_audit_event(
        session,
        action="auth.login_succeeded",
        workspace_id=known.personal_workspace_id,
        actor_user_id=known.id,
        ip=ip,
    )
    log.info("auth.login_succeeded", user_id=str(known.id))
    return tokens


async def _audit_throttled_login(
    session: AsyncSession, email: str, ip: str, retry_after: int
) -> None:
    """A refused attempt on a locked account (or from a blocked IP) is a security event too."""
    user = await credentials.get_user_by_email(session, email)
    record_audit_event(
        session,
        action="auth.login_throttled",
        workspace_id=None,
        actor_user_id=user.id if user is not None else None,
        details={"retry_after": retry_after},
        ip=ip,
    )
    log.info(
        "auth.login_throttled",
        user_id=str(user.id) if user else None,
        ip=ip,
        retry_after=retry_after,
    )


async def refresh(
    session: AsyncSession, issuer: TokenIssuer, *, refresh_token: str, ip: str | None
) -> IssuedTokens:
    """Spend a refresh token for a new pair in the same family.

    A token that was already spent means it leaked (or a client raced itself): the whole
    family is revoked and `RefreshTokenReused` raised; the caller must keep that revocation.
    """
    now = utcnow()
    stored = await repository.find_refresh_token_for_update(session, hash_token(refresh_token))
    if stored is None or stored.revoked_at is not None:
        raise InvalidRefreshToken()
    if stored.used_at is not None:
        await repository.revoke_refresh_family(session, stored.family_id, now)
        user = await credentials.get_user(session, stored.user_id)
        record_audit_event(
            session,
            action="auth.refresh_reuse_detected",
            workspace_id=user.personal_workspace_id if user else None,
            actor_user_id=stored.user_id,
            details={"family_id": str(stored.family_id)},
            ip=ip,
        )
        log.warning(
            "auth.refresh_reuse_detected",
            security_event=True,
            user_id=str(stored.user_id),
            family_id=str(stored.family_id),
            ip=ip,
        )
        raise RefreshTokenReused()
    if stored.expires_at <= now:
        raise InvalidRefreshToken()
    user = await credentials.get_user(session, stored.user_id)
    if user is None or not user.is_active:
        raise InvalidRefreshToken()
    stored.used_at = now
    return issuer.issue(session, user.id, now, family_id=stored.family_id)


async def log_out(session: AsyncSession, *, refresh_token: str) -> None:
    """Revoke the token's whole family; unknown or already revoked tokens are fine."""
    stored = await repository.find_refresh_token(session, hash_token(refresh_token))
    if stored is not None:
        await repository.revoke_refresh_family(session, stored.family_id, utcnow())


# Profile


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await credentials.get_user(session, user_id)
    if user is None or not user.is_active:
        raise NotFound("User")
    return user


async def update_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    full_name: str | None = None,
    email: str | None = None,
) -> User:
    user = await get_user(session, user_id)
    if full_name is not None:
        user.full_name = full_name
    if email is not None and email != user.email:
        if await repository.email_in_use(session, email, except_user_id=user_id):
            raise EmailTaken()
        user.email = email
    user.updated_at = utcnow()
    await _flush_unless_email_taken(session)
    return user


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Delete the user, their personal workspace and the shared ones they alone belong to."""
    user = await get_user(session, user_id)
    with_others, alone = await workspace_repository.shared_workspaces_solely_owned(session, user_id)
    if with_others:
        raise SoleOwner()
    doomed = [*alone]
    if user.personal_workspace_id is not None:
        doomed.append(user.personal_workspace_id)
    await workspace_repository.delete_workspaces(session, doomed)
    await repository.delete_user(session, user_id)
    log.info("user.deleted", user_id=str(user_id), workspaces_deleted=len(doomed))


async def _set_password(session: AsyncSession, user: User, new_password: str) -> None:
    weakness = password_weakness(new_password, user.email)
    if weakness:
        raise WeakPassword(weakness)
    user.password_hash = await asyncio.to_thread(hash_password, new_password)
    user.updated_at = utcnow()
    await repository.revoke_user_refresh_tokens(session, user.id, utcnow())


async def change_password(
    session: AsyncSession,
    issuer: TokenIssuer,
    user_id: uuid.UUID,
    *,
    current_password: str,
    new_password: str,
    ip: str | None,
) -> IssuedTokens:
    """Every existing session's refresh family is revoked; the caller gets a fresh pair."""
    user = await get_user(session, user_id)
    if not await asyncio.to_thread(verify_password, current_password, user.password_hash):
        raise WrongPassword()
    await _set_password(session, user, new_password)
    record_audit_event(
        session,
        action="user.password_changed",
        workspace_id=user.personal_workspace_id,
        actor_user_id=user.id,
        ip=ip,
    )
    log.info("user.password_changed", user_id=str(user.id))
    return issuer.issue(session, user.id, utcnow())


# Password reset


@dataclass(frozen=True)
class ResetPolicy:
    token_ttl: timedelta
    public_base_url: str


async def request_password_reset(
    session: AsyncSession, mailer: Mailer, policy: ResetPolicy, *, email: str
) -> None:
    """Mail a single-use reset link when the email has an account; silent otherwise."""
    user = await credentials.get_user_by_email(session, email)
    if user is None or not user.is_active:
        return
    now = utcnow()
    token = new_opaque_token()
    session.add(
        PasswordResetToken(
            user_id=user.id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + policy.token_ttl,
        )
    )
    await session.flush()
    link = f"{policy.public_base_url.rstrip('/')}/reset-password?token={token}"
    minutes = int(policy.token_ttl.total_seconds() // 60)
    await mailer.send(
        MailMessage(
            to=user.email,
            subject="Reset your SiteChat password",
            body=(
                f"Someone asked to reset the password of your SiteChat account.\n\n"
                f"Open this link within {minutes} minutes to choose a new one:\n{link}\n\n"
                f"Reset token: {token}\n\nIf it was not you, ignore this message."
            ),
        )
    )


async def confirm_password_reset(
    session: AsyncSession,
    *,
    token: str,
    new_password: str,
    guard: LoginGuard | None,
    ip: str | None,
) -> None:
    now = utcnow()
    stored = await repository.find_reset_token_for_update(session, hash_token(token))
    if stored is None or stored.used_at is not None or stored.expires_at <= now:
        raise InvalidResetToken()
    user = await credentials.get_user(session, stored.user_id)
    if user is None or not user.is_active:
        raise InvalidResetToken()
    await _set_password(session, user, new_password)
    await repository.spend_user_reset_tokens(session, user.id, now)
    record_audit_event(
        session,
        action="user.password_reset",
        workspace_id=user.personal_workspace_id,
        actor_user_id=user.id,
        ip=ip,
    )
    if guard is not None:
        await guard.unlock(user.email)
    log.info("user.password_reset", user_id=str(user.id))


# API keys


async def list_api_keys(session: AsyncSession, caller: Caller) -> list[ApiKey]:
    return await repository.list_api_keys(session, caller.workspace_id)


async def create_api_key(
    session: AsyncSession,
    hasher: ApiKeyHasher,
    caller: Caller,
    *,
    name: str,
    role: Role,
    expires_at: datetime | None,
    ip: str | None,
) -> tuple[ApiKey, str]:
    """A new key for the caller's workspace and its plaintext, which is never stored."""
    now = utcnow()
    if not caller.can(role):
        raise RoleTooHigh()
    if expires_at is not None and expires_at <= now:
        raise InvalidExpiry()
    generated = hasher.generate()
    api_key = ApiKey(
        workspace_id=caller.workspace_id,
        created_by_user_id=caller.user_id,
        name=name,
        prefix=generated.prefix,
        key_hash=generated.key_hash,
        role=role,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(api_key)
    await session.flush()
    record_audit_event(
        session,
        action="api_key.created",
        workspace_id=caller.workspace_id,
        actor_user_id=caller.user_id,
        actor_api_key_id=caller.api_key_id,
        details={"api_key_id": str(api_key.id), "name": name, "role": role.value},
        ip=ip,
    )
    log.info("api_key.created", api_key_id=str(api_key.id), workspace_id=str(caller.workspace_id))
    return api_key, generated.plaintext


async def revoke_api_key(
    session: AsyncSession, caller: Caller, key_id: uuid.UUID, *, ip: str | None
) -> None:
    """Idempotent; a key of another workspace is reported missing."""
    api_key = await repository.get_api_key(session, caller.workspace_id, key_id)
    if api_key is None:
        raise NotFound("API key")
    if api_key.revoked_at is not None:
        return
    api_key.revoked_at = utcnow()
    record_audit_event(
        session,
        action="api_key.revoked",
        workspace_id=caller.workspace_id,
        actor_user_id=caller.user_id,
        actor_api_key_id=caller.api_key_id,
        details={"api_key_id": str(api_key.id), "name": api_key.name},
        ip=ip,
    )
    log.info("api_key.revoked", api_key_id=str(api_key.id), workspace_id=str(caller.workspace_id))


# Housekeeping


async def purge_spent_tokens(session: AsyncSession) -> tuple[int, int]:
    """Delete refresh and reset tokens that expired or were spent more than a day ago."""
    refresh_deleted, reset_deleted = await repository.delete_spent_tokens(
        session, utcnow() - SPENT_TOKENS_KEPT
    )
    log.info(
        "accounts.spent_tokens_purged",
        refresh_tokens=refresh_deleted,
        reset_tokens=reset_deleted,
    )
    return refresh_deleted, reset_deleted
