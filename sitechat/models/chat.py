"""Conversations with a chatbot, their messages, visitors' feedback and the usage they record."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sitechat.core.clock import utcnow
from sitechat.models.base import Base, IdMixin, TimestampMixin, enum_type


class ConversationChannel(StrEnum):
    """Where a conversation was started; `widget` ones are reachable with a visitor token."""

    api = "api"
    widget = "widget"
    openai = "openai"


class MessageRole(StrEnum):
    user = "user"
    assistant = "assistant"


class MessageStatus(StrEnum):
    complete = "complete"
    partial = "partial"  # the answer is being written, or its client left mid-stream
    failed = "failed"


class FeedbackRating(StrEnum):
    up = "up"
    down = "down"


class Conversation(IdMixin, TimestampMixin, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_chatbot", "chatbot_id", "id"),
        Index("ix_conversations_workspace", "workspace_id", "id"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    chatbot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chatbots.id", ondelete="CASCADE"))
    channel: Mapped[ConversationChannel] = mapped_column(
        enum_type(ConversationChannel, "conversation_channel")
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class Message(IdMixin, TimestampMixin, Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation", "conversation_id", "id"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    role: Mapped[MessageRole] = mapped_column(enum_type(MessageRole, "message_role"))
    content: Mapped[str] = mapped_column(Text, default="")
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    status: Mapped[MessageStatus] = mapped_column(enum_type(MessageStatus, "message_status"))
    fallback: Mapped[bool] = mapped_column(default=False)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))


class Feedback(IdMixin, TimestampMixin, Base):
    __tablename__ = "feedback"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    rating: Mapped[FeedbackRating] = mapped_column(enum_type(FeedbackRating, "feedback_rating"))
    comment: Mapped[str | None] = mapped_column(Text)


class UsageEvent(IdMixin, Base):
    """One billable thing that happened; `event_key` makes recording it idempotent."""

    __tablename__ = "usage_events"
    __table_args__ = (Index("ix_usage_events_workspace_occurred", "workspace_id", "occurred_at"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    event_key: Mapped[str] = mapped_column(String(200), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    chatbot_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("chatbots.id", ondelete="SET NULL")
    )
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
