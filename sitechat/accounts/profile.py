"""The caller's own account: read, update, delete, change the password."""

from __future__ import annotations

import asyncio
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.accounts import repository
from sitechat.accounts.errors import EmailTaken, SoleOwner, WeakPassword, WrongPassword
from sitechat.accounts.registration import flush_unless_email_taken
from sitechat.accounts.tokens import IssuedTokens, TokenIssuer
from sitechat.audit.service import record_audit_event
from sitechat.auth import repository as credentials
from sitechat.auth.revocation import announce_revocation
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound
from sitechat.core.passwords import password_weakness
from sitechat.core.security import hash_password, verify_password
from sitechat.models.accounts import User
from sitechat.workspaces import repository as workspace_repository

log = structlog.get_logger()


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
    await flush_unless_email_taken(session)
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
    await announce_revocation(session)  # its access tokens and its workspaces' keys
    log.info("user.deleted", user_id=str(user_id), workspaces_deleted=len(doomed))


async def set_password(session: AsyncSession, user: User, new_password: str) -> None:
    """A new password (change or reset): checked for strength; every refresh family revoked."""
    weakness = password_weakness(new_password, user.email)
    if weakness:
        raise WeakPassword(weakness)
    user.password_hash = await asyncio.to_thread(hash_password, new_password)
    user.updated_at = utcnow()
    await repository.revoke_user_refresh_tokens(session, user.id, utcnow())
    await announce_revocation(session)


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
    await set_password(session, user, new_password)
    record_audit_event(
        session,
        action="user.password_changed",
        workspace_id=user.personal_workspace_id,
        actor_user_id=user.id,
        ip=ip,
    )
    log.info("user.password_changed", user_id=str(user.id))
    return issuer.issue(session, user.id, utcnow())
