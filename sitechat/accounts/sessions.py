"""Sign-in, refresh-token rotation and sign-out.

Password verification (Argon2id) runs in a worker thread so it does not stall the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.accounts import repository
from sitechat.accounts.errors import (
    InvalidCredentials,
    InvalidRefreshToken,
    LoginThrottled,
    RefreshTokenReused,
)
from sitechat.accounts.tokens import IssuedTokens, TokenIssuer
from sitechat.audit.service import record_audit_event
from sitechat.auth import repository as credentials
from sitechat.auth.revocation import announce_revocation
from sitechat.core.clock import utcnow
from sitechat.core.security import hash_token, normalize_email, verify_password

log = structlog.get_logger()


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
        await announce_revocation(session)
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
        await announce_revocation(session)
