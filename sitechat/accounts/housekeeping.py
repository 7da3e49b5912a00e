"""Removal of credentials nobody can use any more."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.accounts import repository
from sitechat.core.clock import utcnow

log = structlog.get_logger()

SPENT_TOKENS_KEPT = timedelta(days=1)


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
