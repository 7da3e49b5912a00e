"""Jobs of the workspaces domain: invitation mails, sent after the invitation commits."""

from __future__ import annotations

import uuid
from datetime import timedelta

from procrastinate import JobContext

from sitechat.config import Settings
from sitechat.core.state import task_context
from sitechat.worker.queue import queue
from sitechat.workspaces import service


def invitation_policy(settings: Settings) -> service.InvitationPolicy:
    return service.InvitationPolicy(
        ttl=timedelta(seconds=settings.auth.invitation_ttl_seconds),
        public_base_url=settings.http.public_base_url,
        token_secret=settings.auth.api_key_pepper.get_secret_value(),
    )


@queue.task(name=service.INVITATION_MAIL_TASK, pass_context=True)
async def send_invitation_task(job: JobContext, invitation_id: str) -> None:
    """Mail an open invitation its link (the token is derived again from the id)."""
    context = task_context(job)
    async with context.session() as session:
        message = await service.invitation_mail(
            session, invitation_policy(context.settings), uuid.UUID(invitation_id)
        )
    if message is not None:
        await context.mailer.send(message)
