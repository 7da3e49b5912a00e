"""All SQL about users, credentials and memberships."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.accounts import (
    ApiKey,
    Membership,
    PasswordResetToken,
    RefreshToken,
    Role,
    User,
)


@dataclass(frozen=True)
class ApiKeyRecord:
    id: uuid.UUID
    workspace_id: uuid.UUID
    role: Role
    key_hash: str
    expires_at: datetime | None
    revoked_at: datetime | None

    def usable_at(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class MembershipRecord:
    workspace_id: uuid.UUID
    role: Role


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
            ).where(ApiKey.prefix == prefix)
        )
    ).first()
    return ApiKeyRecord(*row) if row else None


async def touch_api_key(session: AsyncSession, key_id: uuid.UUID, now: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


async def find_membership(
    session: AsyncSession, user_id: uuid.UUID, workspace_id: uuid.UUID | None
) -> MembershipRecord | None:
    """The user's membership in `workspace_id`, or in their personal workspace when None."""
    target = (
        workspace_id
        if workspace_id is not None
        else select(User.personal_workspace_id).where(User.id == user_id).scalar_subquery()
    )
    row = (
        await session.execute(
            select(Membership.workspace_id, Membership.role)
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


# Users


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    """`email` must already be normalized (they are stored normalized)."""
    return await session.scalar(select(User).where(User.email == email))


async def email_in_use(
    session: AsyncSession, email: str, *, except_user_id: uuid.UUID | None = None
) -> bool:
    statement = select(func.count()).where(User.email == email)
    if except_user_id is not None:
        statement = statement.where(User.id != except_user_id)
    return bool(await session.scalar(statement))


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(User).where(User.id == user_id))


# Refresh tokens


async def find_refresh_token_for_update(
    session: AsyncSession, token_hash: str
) -> RefreshToken | None:
    """Locked, so two concurrent refreshes with one token cannot both succeed."""
    return await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    )


async def find_refresh_token(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


async def revoke_refresh_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> int:
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def revoke_user_refresh_tokens(
    session: AsyncSession, user_id: uuid.UUID, now: datetime
) -> int:
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# Password reset tokens


async def find_reset_token_for_update(
    session: AsyncSession, token_hash: str
) -> PasswordResetToken | None:
    return await session.scalar(
        select(PasswordResetToken)
        .where(PasswordResetToken.token_hash == token_hash)
        .with_for_update()
    )


async def spend_user_reset_tokens(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )


async def delete_spent_tokens(session: AsyncSession, cutoff: datetime) -> tuple[int, int]:
    """Delete refresh and reset tokens expired, used or revoked before `cutoff`."""
    refresh = await session.execute(
        delete(RefreshToken).where(
            or_(
                RefreshToken.expires_at < cutoff,
                RefreshToken.used_at < cutoff,
                RefreshToken.revoked_at < cutoff,
            )
        )
    )
    reset = await session.execute(
        delete(PasswordResetToken).where(
            or_(PasswordResetToken.expires_at < cutoff, PasswordResetToken.used_at < cutoff)
        )
    )
    return int(refresh.rowcount), int(reset.rowcount)  # type: ignore[attr-defined]


# API keys


async def list_api_keys(session: AsyncSession, workspace_id: uuid.UUID) -> list[ApiKey]:
    return list(
        (
            await session.scalars(
                select(ApiKey)
                .where(ApiKey.workspace_id == workspace_id)
                .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
            )
        ).all()
    )


async def get_api_key(
    session: AsyncSession, workspace_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.workspace_id == workspace_id)
    )
