"""Credential lookups on the hot path: API keys, memberships, users by id or email.

Shared by everything that resolves a caller (`auth.dependencies`) and by the domains that
look a user up (sign-in, invitations); the SQL of managing accounts stays in `accounts/`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Exists, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.accounts import ApiKey, Membership, RefreshToken, Role, User
from sitechat.models.billing import PLAN_IN_FORCE, Subscription


@dataclass(frozen=True)
class ApiKeyRecord:
    id: uuid.UUID
    workspace_id: uuid.UUID
    role: Role
    key_hash: str
    expires_at: datetime | None
    revoked_at: datetime | None
    plan_id: str | None
    """The workspace's paid plan in force; None: the default (free) plan."""

    def usable_at(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class MembershipRecord:
    workspace_id: uuid.UUID
    role: Role
    session_live: bool
    """Whether the access token's session (refresh-token family) is still signed in."""
    plan_id: str | None
    """The workspace's paid plan in force; None: the default (free) plan."""


def _plan_in_force(workspace_id: Any) -> Any:
    """The workspace's subscribed plan while it is in force (as `billing.service.effective_plan`
    reads it), else NULL; for the rate limits of the caller's plan, cached with the caller."""
    return (
        select(Subscription.plan_id)
        .where(
            Subscription.workspace_id == workspace_id,
            Subscription.status.in_(PLAN_IN_FORCE),
        )
        .scalar_subquery()
    )


async def find_api_key(session: AsyncSession, prefix: str) -> ApiKeyRecord | None:
    row = (
        await session.execute(
            select(
                ApiKey.id,
                ApiKey.workspace_id,
                ApiKey.role,
                ApiKey.key_hash,
                ApiKey.expires_at,
                ApiKey.revoked_at,
                _plan_in_force(ApiKey.workspace_id),
            ).where(ApiKey.prefix == prefix)
        )
    ).first()
    return ApiKeyRecord(*row) if row else None


async def touch_api_key(session: AsyncSession, key_id: uuid.UUID, now: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


def _session_live(user_id: uuid.UUID, session_id: uuid.UUID) -> Exists:
    return exists().where(
        RefreshToken.family_id == session_id,
        RefreshToken.user_id == user_id,
        RefreshToken.revoked_at.is_(None),
    )


async def session_is_live(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """True while the sign-in session (refresh-token family) has not been revoked."""
    return bool(await session.scalar(select(_session_live(user_id, session_id))))


async def find_membership(
    session: AsyncSession,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID | None,
    session_id: uuid.UUID,
) -> MembershipRecord | None:
    """The user's membership in `workspace_id` (their personal workspace when None), with
    whether the access token's session is still signed in."""
    target = (
        workspace_id
        if workspace_id is not None
        else select(User.personal_workspace_id).where(User.id == user_id).scalar_subquery()
    )
    row = (
        await session.execute(
            select(
                Membership.workspace_id,
                Membership.role,
                _session_live(user_id, session_id),
                _plan_in_force(Membership.workspace_id),
            )
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.user_id == user_id,
                Membership.workspace_id == target,
                User.is_active.is_(True),
            )
        )
    ).first()
    return MembershipRecord(*row) if row else None


async def user_is_active(session: AsyncSession, user_id: uuid.UUID) -> bool:
    count = await session.scalar(
        select(func.count()).where(User.id == user_id, User.is_active.is_(True))
    )
    return bool(count)


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    """`email` must already be normalized (they are stored normalized)."""
    return await session.scalar(select(User).where(User.email == email))


async def notify(session: AsyncSession, channel: str) -> None:
    """`NOTIFY channel`, delivered to its listeners when this transaction commits."""
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})
