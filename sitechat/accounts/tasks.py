"""Periodic housekeeping of credentials."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.accounts import housekeeping
from sitechat.worker.context import task_session
from sitechat.worker.queue import queue


async def purge_expired_tokens(session: AsyncSession) -> tuple[int, int]:
    """Delete refresh and reset tokens expired or spent over a day ago: (refresh, reset)."""
    return await housekeeping.purge_spent_tokens(session)


@queue.periodic(cron="23 * * * *", periodic_id="purge-expired-tokens")
@queue.task(name="accounts.purge_expired_tokens", queueing_lock="accounts.purge_expired_tokens")
async def purge_expired_tokens_task(timestamp: int) -> None:
    async with task_session() as session:
        await purge_expired_tokens(session)
