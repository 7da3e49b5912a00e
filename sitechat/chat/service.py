"""Conversations, their messages and feedback, as members, API keys and visitors reach them.

Asking a question (storing it, answering, storing the answer) is `chat/answering.py`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.billing.plans import PlanCatalog
from sitechat.billing.usage import ensure_feature
from sitechat.chat import repository
from sitechat.chat.errors import FeedbackNeedsAnswer, ModelNotFound
from sitechat.chatbots import repository as chatbot_repository
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound
from sitechat.core.pagination import decode_cursor, next_cursor_of
from sitechat.models.chat import (
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Feedback,
    FeedbackRating,
    Message,
    MessageRole,
)
from sitechat.models.chatbots import Chatbot, ChatbotStatus, Visibility
from sitechat.webhooks.service import emit as emit_webhook
from sitechat.worker.buffer import JobBuffer

log = structlog.get_logger()


@dataclass(frozen=True)
class Scope:
    """What a caller may reach: a workspace (members, API keys) or one conversation (visitor)."""

    workspace_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None

    @classmethod
    def workspace(cls, workspace_id: uuid.UUID) -> Scope:
        return cls(workspace_id=workspace_id)

    @classmethod
    def visitor(cls, conversation_id: uuid.UUID) -> Scope:
        return cls(conversation_id=conversation_id)


# --- conversations -----------------------------------------------------------------------------


async def get_chatbot(session: AsyncSession, scope: Scope, chatbot_id: uuid.UUID) -> Chatbot:
    chatbot = None
    if scope.workspace_id is not None:
        chatbot = await chatbot_repository.get_chatbot(session, scope.workspace_id, chatbot_id)
    if chatbot is None:
        raise NotFound("Chatbot")
    return chatbot


async def start_conversation(
    session: AsyncSession,
    chatbot: Chatbot,
    *,
    channel: ConversationChannel,
    title: str = "",
    user_id: uuid.UUID | None = None,
    jobs: JobBuffer | None = None,
) -> Conversation:
    conversation = Conversation(
        workspace_id=chatbot.workspace_id,
        chatbot_id=chatbot.id,
        channel=channel,
        title=title.strip(),
        created_by_user_id=user_id,
    )
    session.add(conversation)
    await session.flush()
    event = {
        "conversation_id": str(conversation.id),
        "chatbot_id": str(chatbot.id),
        "channel": channel.value,
    }
    await emit_webhook(session, chatbot.workspace_id, "conversation.created", event, jobs)
    return conversation


async def get_conversation(
    session: AsyncSession, scope: Scope, conversation_id: uuid.UUID
) -> Conversation:
    conversation = None
    if scope.workspace_id is not None:
        conversation = await repository.get_conversation(
            session, scope.workspace_id, conversation_id
        )
    elif scope.conversation_id == conversation_id:
        conversation = await repository.get_conversation_unscoped(session, conversation_id)
    if conversation is None:
        raise NotFound("Conversation")
    return conversation


async def list_chatbots(session: AsyncSession, scope: Scope) -> list[Chatbot]:
    if scope.workspace_id is None:
        return []
    return await chatbot_repository.list_unarchived_chatbots(session, scope.workspace_id)


async def get_model_chatbot(
    session: AsyncSession, scope: Scope, chatbot_id: uuid.UUID, *, archived: bool = False
) -> Chatbot:
    """The scope's chatbot named by an OpenAI-compatible `model`; an archived one only with
    `archived` (the model list leaves them out; a completion says the chatbot is archived)."""
    chatbot = None
    if scope.workspace_id is not None:
        chatbot = await chatbot_repository.get_chatbot(session, scope.workspace_id, chatbot_id)
    if chatbot is None or (chatbot.status is ChatbotStatus.archived and not archived):
        raise ModelNotFound()
    return chatbot


async def public_chatbot(session: AsyncSession, chatbot_id: uuid.UUID) -> Chatbot:
    """A chatbot the widget may reach: private ones answer 404, as if they did not exist."""
    chatbot = await chatbot_repository.get_chatbot_unscoped(session, chatbot_id)
    if chatbot is None or chatbot.visibility is not Visibility.public:
        raise NotFound("Chatbot")
    return chatbot


async def widget_chatbot(
    session: AsyncSession, plans: PlanCatalog, chatbot_id: uuid.UUID
) -> Chatbot:
    """A public chatbot a visitor may start a conversation with: its plan lists the widget
    (402 `quota-exceeded` otherwise)."""
    chatbot = await public_chatbot(session, chatbot_id)
    await ensure_feature(session, plans, chatbot.workspace_id, "widget")
    return chatbot


async def visitor_conversation(
    session: AsyncSession, scope: Scope, conversation_id: uuid.UUID
) -> tuple[Conversation, Chatbot]:
    """The visitor's own conversation, as long as its chatbot is still public."""
    conversation = await get_conversation(session, scope, conversation_id)
    return conversation, await public_chatbot(session, conversation.chatbot_id)


async def list_conversations(
    session: AsyncSession,
    scope: Scope,
    chatbot_id: uuid.UUID,
    cursor: str | None,
    limit: int,
    status: ConversationStatus | None = None,
) -> tuple[list[Conversation], str | None]:
    chatbot = await get_chatbot(session, scope, chatbot_id)
    rows = await repository.list_conversations(
        session, chatbot.workspace_id, chatbot.id, decode_cursor(cursor), limit, status
    )
    return list(rows[:limit]), next_cursor_of([row.id for row in rows], limit)


async def rename_conversation(
    session: AsyncSession, scope: Scope, conversation_id: uuid.UUID, title: str | None
) -> Conversation:
    conversation = await get_conversation(session, scope, conversation_id)
    if title is not None:
        conversation.title = title.strip()
        await session.flush()
    return conversation


async def delete_conversation(
    session: AsyncSession, scope: Scope, conversation_id: uuid.UUID
) -> None:
    conversation = await get_conversation(session, scope, conversation_id)
    await repository.delete_conversation(session, conversation.id)


async def list_messages(
    session: AsyncSession,
    scope: Scope,
    conversation_id: uuid.UUID,
    *,
    cursor: str | None,
    order: repository.SortOrder,
    limit: int,
) -> tuple[list[Message], str | None]:
    conversation = await get_conversation(session, scope, conversation_id)
    rows = await repository.list_messages(
        session, conversation.id, decode_cursor(cursor), order, limit
    )
    return list(rows[:limit]), next_cursor_of([row.id for row in rows], limit)


async def give_feedback(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    message_id: uuid.UUID,
    rating: FeedbackRating,
    comment: str | None,
    jobs: JobBuffer | None = None,
) -> Feedback:
    message = await repository.get_message(session, workspace_id, message_id)
    if message is None:
        raise NotFound("Message")
    if message.role is not MessageRole.assistant:
        raise FeedbackNeedsAnswer()
    feedback = await repository.upsert_feedback(
        session, workspace_id, message.chatbot_id, message.id, rating.value, comment, utcnow()
    )
    event = {
        "message_id": str(message.id),
        "conversation_id": str(message.conversation_id),
        "rating": rating.value,
        "comment": comment,
    }
    await emit_webhook(session, workspace_id, "feedback.created", event, jobs)
    return feedback
