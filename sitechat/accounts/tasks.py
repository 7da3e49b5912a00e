"""Jobs of the accounts domain: password-reset mails, and housekeeping of credentials."""

from __future__ import annotations

from datetime import timedelta

from procrastinate import JobContext
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.accounts import housekeeping, password_reset
from sitechat.config import Settings
from sitechat.core.state import task_context
from sitechat.worker.queue import queue


def reset_policy(settings: Settings) -> password_reset.ResetPolicy:
    return password_reset.ResetPolicy(
        token_ttl=timedelta(seconds=settings.auth.password_reset_ttl_seconds),
        public_base_url=settings.http.public_base_url,
    )


@queue.task(name=password_reset.PASSWORD_RESET_TASK, pass_context=True)
async def send_password_reset_task(job: JobContext, email: str) -> None:
    """Make a reset token for the account of `email` (if any) and mail it. The token is
    committed before the mail leaves, so the link in a delivered mail always works."""
    context = task_context(job)
    async with context.session() as session:
        message = await password_reset.prepare_password_reset(
            session, reset_policy(context.settings), email=email
        )
    if message is not None:
        await context.mailer.send(message)


async def purge_expired_tokens(session: AsyncSession) -> tuple[int, int]:
    """Delete refresh and reset tokens expired or spent over a day ago: (refresh, reset)."""
    return await housekeeping.purge_spent_tokens(session)


@queue.periodic(cron="23 * * * *", periodic_id="purge-expired-tokens")
@queue.task(
    name="accounts.purge_expired_tokens",
    queueing_lock="accounts.purge_expired_tokens",
    pass_context=True,
)
async def purge_expired_tokens_task(job: JobContext, timestamp: int) -> None:
    async with task_context(job).session() as session:
        await purge_expired_tokens(session)
