"""Lead capture: a visitor leaves a name and/or email in a widget conversation; the
workspace lists and exports them, and `lead.captured` goes to its webhooks.

Visitors can only write a lead (one per conversation, sent again at most
`MAX_SUBMISSIONS_PER_CONVERSATION` times); nothing a visitor can call reads one back.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sitechat.auth.caller import Caller
from sitechat.chatbots.schemas import LeadCaptureSettings
from sitechat.chatbots.service import get_chatbot
from sitechat.core.clock import utcnow
from sitechat.core.pagination import decode_cursor, next_cursor_of
from sitechat.leads import repository
from sitechat.leads.errors import LeadCaptureDisabled, LeadFieldsMissing, TooManyLeadSubmissions
from sitechat.leads.schemas import LeadCreate
from sitechat.models.chat import Conversation
from sitechat.models.chatbots import Chatbot
from sitechat.models.leads import Lead
from sitechat.webhooks.service import emit as emit_webhook
from sitechat.worker.buffer import JobBuffer

log = structlog.get_logger()

MAX_SUBMISSIONS_PER_CONVERSATION = 5
EXPORT_BATCH = 1_000
EXPORT_HEADER = ("lead_id", "conversation_id", "name", "email", "created_at", "updated_at")
EXPORT_EXAMPLE = (
    ",".join(EXPORT_HEADER) + "\r\n"
    "0193f4c2-...,0193f4c1-...,Ada Lovelace,ada@example.com,"
    "2026-12-01T10:02:00+00:00,2026-12-01T10:02:00+00:00\r\n"
)


async def capture_lead(
    session: AsyncSession,
    conversation: Conversation,
    chatbot: Chatbot,
    body: LeadCreate,
    jobs: JobBuffer,
) -> Lead:
    settings = LeadCaptureSettings.model_validate(chatbot.lead_capture or {})
    if not settings.enabled:
        raise LeadCaptureDisabled()
    sent = {"name": body.name, "email": body.email}
    missing = [field for field in settings.fields if not sent[field]]
    if missing:
        raise LeadFieldsMissing(missing)
    lead = await repository.save_lead(
        session,
        workspace_id=conversation.workspace_id,
        chatbot_id=conversation.chatbot_id,
        conversation_id=conversation.id,
        # Only the fields the chatbot asks for are kept.
        name=body.name if "name" in settings.fields else None,
        email=body.email if "email" in settings.fields else None,
        now=utcnow(),
        max_submissions=MAX_SUBMISSIONS_PER_CONVERSATION,
    )
    if lead is None:
        raise TooManyLeadSubmissions(MAX_SUBMISSIONS_PER_CONVERSATION)
    event = {
        "lead_id": str(lead.id),
        "chatbot_id": str(lead.chatbot_id),
        "conversation_id": str(lead.conversation_id),
        "name": lead.name,
        "email": lead.email,
    }
    await emit_webhook(session, lead.workspace_id, "lead.captured", event, jobs)
    log.info("leads.captured", lead_id=str(lead.id), chatbot_id=str(lead.chatbot_id))
    return lead


async def list_leads(
    session: AsyncSession,
    caller: Caller,
    chatbot_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> tuple[list[Lead], str | None]:
    chatbot = await get_chatbot(session, caller, chatbot_id)
    rows = await repository.list_leads(
        session, chatbot.workspace_id, chatbot.id, decode_cursor(cursor), limit
    )
    return list(rows[:limit]), next_cursor_of([row.id for row in rows], limit)


async def export_batches(
    sessionmaker: async_sessionmaker[AsyncSession], workspace_id: uuid.UUID, chatbot_id: uuid.UUID
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Every lead of the chatbot, newest first, a short transaction per batch (no transaction
    stays open while the client reads)."""
    before: uuid.UUID | None = None
    while True:
        async with sessionmaker() as session:
            rows = await repository.list_leads(
                session, workspace_id, chatbot_id, before, EXPORT_BATCH - 1
            )
        yield [
            (lead.id, lead.conversation_id, lead.name, lead.email, lead.created_at, lead.updated_at)
            for lead in rows
        ]
        if len(rows) < EXPORT_BATCH:
            return
        before = rows[-1].id
