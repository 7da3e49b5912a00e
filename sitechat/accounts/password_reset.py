"""Password reset: a single-use link by mail, then a new password for its token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.accounts import repository
from sitechat.accounts.errors import InvalidResetToken
from sitechat.accounts.profile import set_password
from sitechat.accounts.sessions import LoginGuard
from sitechat.audit.service import record_audit_event
from sitechat.auth import repository as credentials
from sitechat.core.clock import utcnow
from sitechat.core.mail import MailMessage
from sitechat.core.security import hash_token, new_opaque_token
from sitechat.models.accounts import PasswordResetToken
from sitechat.worker.buffer import JobBuffer

log = structlog.get_logger()


@dataclass(frozen=True)
class ResetPolicy:
    token_ttl: timedelta
    public_base_url: str


PASSWORD_RESET_TASK = "accounts.send_password_reset"  # noqa: S105 (a task name)


def request_password_reset(jobs: JobBuffer, *, email: str) -> None:
    """Ask for a reset mail to `email`, whether or not it has an account.

    The request does the same work either way (it queues one job, in its transaction), so its
    answer and its timing say nothing about which emails have accounts. The job looks the
    account up, makes the token and sends the mail (`prepare_password_reset`).
    """
    jobs.defer(PASSWORD_RESET_TASK, email=email)


async def prepare_password_reset(
    session: AsyncSession, policy: ResetPolicy, *, email: str
) -> MailMessage | None:
    """In the job: a single-use reset token for the account of `email` and its mail; None
    (nothing to send) when the email has no active account."""
    user = await credentials.get_user_by_email(session, email)
    if user is None or not user.is_active:
        log.info("auth.password_reset_unknown_email")
        return None
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
    return MailMessage(
        to=user.email,
        subject="Reset your SiteChat password",
        body=(
            f"Someone asked to reset the password of your SiteChat account.\n\n"
            f"Open this link within {minutes} minutes to choose a new one:\n{link}\n\n"
            f"Reset token: {token}\n\nIf it was not you, ignore this message."
        ),
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
    await set_password(session, user, new_password)
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
