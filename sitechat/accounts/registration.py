"""Sign-up: a user, their personal workspace and their owner membership.

Password hashing (Argon2id, tens of milliseconds of CPU) runs in a worker thread so it does not
stall the event loop for everyone else.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.accounts import repository
from sitechat.accounts.errors import EmailTaken
from sitechat.accounts.tokens import IssuedTokens, TokenIssuer
from sitechat.audit.service import record_audit_event
from sitechat.core.clock import utcnow
from sitechat.core.security import hash_password
from sitechat.models.accounts import Membership, Role, User, Workspace

log = structlog.get_logger()

WORKSPACE_NAME_MAX = 200
EMAIL_CONSTRAINT = "uq_users_email"


@dataclass(frozen=True)
class Registration:
    user: User
    workspace: Workspace
    tokens: IssuedTokens


def _personal_workspace_name(full_name: str) -> str:
    suffix = "'s workspace"
    return full_name[: WORKSPACE_NAME_MAX - len(suffix)] + suffix


async def flush_unless_email_taken(session: AsyncSession) -> None:
    """Flush; a unique-email violation (sign-up or profile change) becomes `EmailTaken`."""
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
    await flush_unless_email_taken(session)
    session.add(Membership(workspace_id=workspace.id, user_id=user.id, role=Role.owner))
    tokens = issuer.issue(session, user.id, now)
    record_audit_event(
        session, action="user.registered", workspace_id=workspace.id, actor_user_id=user.id, ip=ip
    )
    await session.flush()
    log.info("user.registered", user_id=str(user.id), workspace_id=str(workspace.id))
    return Registration(user=user, workspace=workspace, tokens=tokens)
