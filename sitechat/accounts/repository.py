"""All SQL about users, credentials and memberships."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.accounts import (
    ApiKey,
    PasswordResetToken,
    RefreshToken,
    User,
)


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
