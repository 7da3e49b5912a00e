"""Jobs of the workspaces domain: invitation mails, sent after the invitation commits."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sitechat.config import Settings
from sitechat.core.mail import build_mailer
from sitechat.worker.context import task_context, task_session
from sitechat.worker.queue import queue
from sitechat.workspaces import service


def invitation_policy(settings: Settings) -> service.InvitationPolicy:
    return service.InvitationPolicy(
        ttl=timedelta(seconds=settings.auth.invitation_ttl_seconds),
        public_base_url=settings.http.public_base_url,
        token_secret=settings.auth.api_key_pepper.get_secret_value(),
    )


@queue.task(name=service.INVITATION_MAIL_TASK, pass_context=False)
async def send_invitation_task(invitation_id: str) -> None:
    """Mail an open invitation its link (the token is derived again from the id)."""
    settings = task_context().settings
    async with task_session() as session:
        message = await service.invitation_mail(
            session, invitation_policy(settings), uuid.UUID(invitation_id)
        )
    if message is not None:
        await build_mailer(settings.mail).send(message)
