"""Conversations with a chatbot, their messages, visitors' feedback and the usage they record."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
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
    agent = "agent"  # a person of the workspace, replying in a handed-off conversation


class ConversationStatus(StrEnum):
    active = "active"  # the chatbot answers
    handoff_requested = "handoff_requested"  # a person answers; the chatbot only says so


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
        Index("ix_conversations_chatbot_created", "chatbot_id", "created_at"),
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
    status: Mapped[ConversationStatus] = mapped_column(
        enum_type(ConversationStatus, "conversation_status"), default=ConversationStatus.active
    )
    handoff_requested_at: Mapped[datetime | None]
    handoff_reason: Mapped[str | None] = mapped_column(Text)


class Message(IdMixin, TimestampMixin, Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation", "conversation_id", "id"),
        # Analytics: a chatbot's messages in a period, counted from the index alone.
        Index(
            "ix_messages_chatbot_created",
            "chatbot_id",
            "created_at",
            postgresql_include=[
                "role",
                "status",
                "fallback",
                "handoff_notice",
                "latency_ms",
                "question_id",
            ],
        ),
        # Analytics: a chatbot's questions in a period, grouped by what they mean.
        Index(
            "ix_messages_chatbot_questions",
            "chatbot_id",
            "created_at",
            postgresql_include=["question_key"],
            postgresql_where=text("role = 'user'"),
        ),
        # Analytics: the questions a chatbot could not answer (few rows: fallbacks only).
        Index(
            "ix_messages_chatbot_unanswered",
            "chatbot_id",
            "created_at",
            postgresql_include=["question_key"],
            postgresql_where=text(
                "role = 'assistant' AND status = 'complete' AND fallback AND NOT handoff_notice"
            ),
        ),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    # The conversation's chatbot, copied here so analytics reads one indexed table.
    chatbot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chatbots.id", ondelete="CASCADE"))
    role: Mapped[MessageRole] = mapped_column(enum_type(MessageRole, "message_role"))
    content: Mapped[str] = mapped_column(Text, default="")
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    status: Mapped[MessageStatus] = mapped_column(enum_type(MessageStatus, "message_status"))
    fallback: Mapped[bool] = mapped_column(default=False)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))
    # Answers: milliseconds from the stored question to the stored answer, and that question.
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    question_id: Mapped[uuid.UUID | None]
    # Questions and answers: the question's stemmed content terms, sorted (ADR "question
    # groups"); analytics groups questions, and the questions of fallback answers, by it.
    question_key: Mapped[str | None] = mapped_column(String(500))
    # True for the chatbot's "a person will reply" notice in a handed-off conversation.
    handoff_notice: Mapped[bool] = mapped_column(default=False)
    # Agent replies: the person who wrote it (None for an API key, or once they are deleted).
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class MessageCitation(Base):
    """One source an answer cited, copied out of `messages.citations` when the answer is
    stored, so analytics counts the most cited pages from an index instead of parsing JSON."""

    __tablename__ = "message_citations"
    __table_args__ = (
        Index(
            "ix_message_citations_chatbot_created",
            "chatbot_id",
            "created_at",
            postgresql_include=["url", "source_id", "page_id"],
        ),
    )

    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    chatbot_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    url: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(String(500))
    # The cited page and its source, which analytics groups by: many cited pages have no URL
    # (text and Q&A sources, a file's pages). No foreign keys: the count outlives the page.
    source_id: Mapped[uuid.UUID | None]
    page_id: Mapped[uuid.UUID | None]


class Feedback(IdMixin, TimestampMixin, Base):
    __tablename__ = "feedback"
    __table_args__ = (
        # Analytics: the ratings given (last set) in a period, from the index alone.
        Index(
            "ix_feedback_chatbot_updated",
            "chatbot_id",
            "updated_at",
            postgresql_include=["rating"],
        ),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    chatbot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chatbots.id", ondelete="CASCADE"))
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
