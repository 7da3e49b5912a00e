"""Hand-off to a person: a conversation marked `handoff_requested` is answered by people.

A visitor (widget) or a member (API) asks for it; from then on the chatbot stores each
question and says its fixed hand-off message instead of answering (`answering.py`), and the
workspace's people reply with role `agent`, which the visitor's history shows. Handing back
lets the chatbot answer again: a member does it, or the visitor ("Back to the assistant").

Visitors may ask only when the chatbot's `handoff_enabled` is on (ADR 0033); going back is
always allowed, so no visitor is left waiting for a person after the setting is turned off.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from typing import Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.chat.answerer import (
    AnswerEvent,
    AnswerMeta,
    AnswerSettings,
    CitationsReady,
    TextDelta,
    Turn,
    Usage,
)
from sitechat.chat.errors import ConversationNotHandedOff, HandoffDisabled
from sitechat.core.clock import utcnow
from sitechat.knowledge.passages import Passage
from sitechat.models.base import new_id
from sitechat.models.chat import (
    Conversation,
    ConversationStatus,
    Message,
    MessageRole,
    MessageStatus,
)
from sitechat.models.chatbots import Chatbot
from sitechat.webhooks.service import emit as emit_webhook
from sitechat.worker.buffer import JobBuffer

log = structlog.get_logger()


class HandoffNotice:
    """The answerer of a handed-off conversation: the chatbot's fixed message, nothing else."""

    def __init__(self, message: str) -> None:
        self.message = message

    async def aclose(self) -> None:
        """Nothing to release."""

    async def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        settings: AnswerSettings,
    ) -> AsyncGenerator[AnswerEvent]:
        yield TextDelta(self.message)
        yield CitationsReady([])
        yield AnswerMeta(fallback=False)
        yield Usage()


RequestedBy = Literal["visitor", "api"]
EndedBy = RequestedBy


async def request_handoff_as_visitor(
    session: AsyncSession,
    conversation: Conversation,
    chatbot: Chatbot,
    *,
    reason: str | None,
    jobs: JobBuffer,
) -> Conversation:
    """A visitor's request, refused (nothing changed) when the chatbot has hand-off off."""
    if not chatbot.handoff_enabled:
        raise HandoffDisabled()
    return await request_handoff(
        session, conversation, requested_by="visitor", reason=reason, jobs=jobs
    )


def _about(conversation: Conversation) -> dict[str, str]:
    """What every hand-off webhook event says of its conversation."""
    return {
        "conversation_id": str(conversation.id),
        "chatbot_id": str(conversation.chatbot_id),
        "channel": conversation.channel.value,
    }


async def request_handoff(
    session: AsyncSession,
    conversation: Conversation,
    *,
    requested_by: RequestedBy,
    reason: str | None,
    jobs: JobBuffer,
) -> Conversation:
    """Mark the conversation for a person; asking again changes nothing and sends no event."""
    if conversation.status is ConversationStatus.handoff_requested:
        return conversation
    conversation.status = ConversationStatus.handoff_requested
    conversation.handoff_requested_at = utcnow()
    conversation.handoff_reason = reason or None
    await session.flush()
    event = {
        **_about(conversation),
        "requested_by": requested_by,
        "reason": conversation.handoff_reason,
        "title": conversation.title,
    }
    await emit_webhook(session, conversation.workspace_id, "handoff.requested", event, jobs)
    log.info(
        "chat.handoff_requested", conversation_id=str(conversation.id), requested_by=requested_by
    )
    return conversation


async def hand_back(
    session: AsyncSession, conversation: Conversation, *, ended_by: EndedBy, jobs: JobBuffer
) -> Conversation:
    """The chatbot answers again, and `handoff.ended` tells the people who were to reply (a
    conversation that was not handed off stays as it is and sends no event)."""
    if conversation.status is ConversationStatus.active:
        return conversation
    requested_at = conversation.handoff_requested_at
    conversation.status = ConversationStatus.active
    conversation.handoff_requested_at = None
    conversation.handoff_reason = None
    await session.flush()
    event = {
        **_about(conversation),
        "ended_by": ended_by,
        "requested_at": requested_at.isoformat() if requested_at is not None else None,
    }
    await emit_webhook(session, conversation.workspace_id, "handoff.ended", event, jobs)
    log.info("chat.handed_back", conversation_id=str(conversation.id), ended_by=ended_by)
    return conversation


async def add_agent_reply(
    session: AsyncSession,
    conversation: Conversation,
    content: str,
    author_user_id: uuid.UUID | None,
) -> Message:
    """A person's reply in a handed-off conversation (the widget shows it to the visitor)."""
    if conversation.status is not ConversationStatus.handoff_requested:
        raise ConversationNotHandedOff()
    message = Message(
        id=new_id(),
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        chatbot_id=conversation.chatbot_id,
        role=MessageRole.agent,
        content=content,
        status=MessageStatus.complete,
        author_user_id=author_user_id,
    )
    session.add(message)
    await session.flush()
    return message
