"""All SQL about conversations, messages, feedback and usage events.

Tenant reads take the caller's `workspace_id` and put it in the statement, so a foreign id
finds nothing, exactly like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.base import new_id
from sitechat.models.chat import (
    Conversation,
    ConversationStatus,
    Feedback,
    Message,
    MessageCitation,
    MessageStatus,
    UsageEvent,
)

SortOrder = Literal["asc", "desc"]
USAGE_KIND_MESSAGE = "message"


async def get_conversation(
    session: AsyncSession, workspace_id: uuid.UUID, conversation_id: uuid.UUID
) -> Conversation | None:
    statement = select(Conversation).where(
        Conversation.id == conversation_id, Conversation.workspace_id == workspace_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_conversation_unscoped(
    session: AsyncSession, conversation_id: uuid.UUID
) -> Conversation | None:
    """For visitor tokens, which name the conversation itself rather than a workspace."""
    return await session.get(Conversation, conversation_id)


async def list_conversations(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    before: uuid.UUID | None,
    limit: int,
    status: ConversationStatus | None = None,
) -> Sequence[Conversation]:
    """Newest first; fetches `limit + 1` rows so the caller can tell whether more exist."""
    statement = select(Conversation).where(
        Conversation.workspace_id == workspace_id, Conversation.chatbot_id == chatbot_id
    )
    if status is not None:
        statement = statement.where(Conversation.status == status)
    if before is not None:
        statement = statement.where(Conversation.id < before)
    statement = statement.order_by(Conversation.id.desc()).limit(limit + 1)
    return (await session.execute(statement)).scalars().all()


async def delete_conversation(session: AsyncSession, conversation_id: uuid.UUID) -> None:
    await session.execute(delete(Conversation).where(Conversation.id == conversation_id))


async def get_message(
    session: AsyncSession, workspace_id: uuid.UUID, message_id: uuid.UUID
) -> Message | None:
    statement = select(Message).where(
        Message.id == message_id, Message.workspace_id == workspace_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def list_messages(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    after: uuid.UUID | None,
    order: SortOrder,
    limit: int,
) -> Sequence[Message]:
    """One page in id order (`after` is the previous page's last id); `limit + 1` rows."""
    statement = select(Message).where(Message.conversation_id == conversation_id)
    if order == "asc":
        if after is not None:
            statement = statement.where(Message.id > after)
        statement = statement.order_by(Message.id.asc())
    else:
        if after is not None:
            statement = statement.where(Message.id < after)
        statement = statement.order_by(Message.id.desc())
    return (await session.execute(statement.limit(limit + 1))).scalars().all()


async def recent_messages(
    session: AsyncSession, conversation_id: uuid.UUID, limit: int
) -> list[Message]:
    """The last `limit` finished messages, oldest first: the history an answer may use."""
    statement = (
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.status != MessageStatus.failed,
            Message.content != "",
        )
        .order_by(Message.id.desc())
        .limit(limit)
    )
    rows = list((await session.execute(statement)).scalars().all())
    rows.reverse()
    return rows


async def save_answer(
    session: AsyncSession, message_id: uuid.UUID, values: dict[str, Any]
) -> Message:
    statement = update(Message).where(Message.id == message_id).values(**values).returning(Message)
    return (await session.execute(statement)).scalar_one()


async def save_citations(session: AsyncSession, answer: Message) -> None:
    """Copy an answer's citations into `message_citations` (what analytics counts)."""
    rows = [
        {
            "message_id": answer.id,
            "number": int(citation["number"]),
            "chatbot_id": answer.chatbot_id,
            "created_at": answer.created_at,
            "url": citation.get("url"),
            "title": str(citation.get("title") or "")[:500],
            "source_id": _uuid_or_none(citation.get("source_id")),
            "page_id": _uuid_or_none(citation.get("page_id")),
        }
        for citation in answer.citations
    ]
    if rows:
        await session.execute(insert(MessageCitation).on_conflict_do_nothing(), rows)


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


async def upsert_feedback(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    message_id: uuid.UUID,
    rating: str,
    comment: str | None,
    now: datetime,
) -> Feedback:
    statement = (
        insert(Feedback)
        .values(
            id=new_id(),
            workspace_id=workspace_id,
            chatbot_id=chatbot_id,
            message_id=message_id,
            rating=rating,
            comment=comment,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_update(
            index_elements=[Feedback.message_id],
            set_={"rating": rating, "comment": comment, "updated_at": now},
        )
        .returning(Feedback)
    )
    return (await session.execute(statement)).scalar_one()


async def record_message_usage(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    event_key: str,
    occurred_at: datetime,
    prompt_tokens: int | None,
    completion_tokens: int | None,
) -> bool:
    """Record one answered message unless `event_key` was recorded before; True when new."""
    statement = (
        insert(UsageEvent)
        .values(
            id=new_id(),
            workspace_id=workspace_id,
            kind=USAGE_KIND_MESSAGE,
            quantity=1,
            event_key=event_key,
            occurred_at=occurred_at,
            chatbot_id=chatbot_id,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        .on_conflict_do_nothing(index_elements=[UsageEvent.event_key])
        .returning(UsageEvent.id)
    )
    return (await session.execute(statement)).first() is not None


async def settle_message_usage(
    session: AsyncSession,
    event_key: str,
    *,
    prompt_tokens: int | None,
    completion_tokens: int | None,
) -> None:
    """Attach the token counts the model reported to the message's reserved usage event."""
    await session.execute(
        update(UsageEvent)
        .where(UsageEvent.event_key == event_key)
        .values(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    )


async def release_message_usage(session: AsyncSession, event_key: str) -> None:
    """A failed answer is not a message: give its reserved slot back."""
    await session.execute(delete(UsageEvent).where(UsageEvent.event_key == event_key))
