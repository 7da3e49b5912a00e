"""Chatbots and their knowledge sources (website crawls, raw text, Q&A pairs, files)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import REAL, Float, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sitechat.models.base import Base, IdMixin, TimestampMixin, enum_type

DEFAULT_HANDOFF_MESSAGE = "A person from our team will reply here soon."


class ChatbotStatus(StrEnum):
    draft = "draft"
    training = "training"
    ready = "ready"
    paused = "paused"
    archived = "archived"


class Visibility(StrEnum):
    private = "private"
    public = "public"


class SourceKind(StrEnum):
    website = "website"
    text = "text"
    qa = "qa"
    file = "file"


class SourceStatus(StrEnum):
    """Where a source's content stands. Text and Q&A sources are `ready` when saved; a file
    is `queued`, then `processing`, then `ready` or `failed` (with `error` saying why)."""

    queued = "queued"
    processing = "processing"
    ready = "ready"
    failed = "failed"


class SyncSchedule(StrEnum):
    off = "off"
    daily = "daily"
    weekly = "weekly"


class Chatbot(IdMixin, TimestampMixin, Base):
    __tablename__ = "chatbots"
    __table_args__ = (Index("ix_chatbots_workspace_created", "workspace_id", "id"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str | None] = mapped_column(String(200))
    temperature: Mapped[float] = mapped_column(Float, default=0.2)
    max_answer_chars: Mapped[int] = mapped_column(Integer, default=1200)
    welcome_message: Mapped[str] = mapped_column(Text, default="")
    suggested_questions: Mapped[list[str]] = mapped_column(JSONB, default=list)
    fallback_message: Mapped[str] = mapped_column(Text)
    visibility: Mapped[Visibility] = mapped_column(enum_type(Visibility, "chatbot_visibility"))
    allowed_origins: Mapped[list[str]] = mapped_column(JSONB, default=list)
    language: Mapped[str] = mapped_column(String(32), default="english")
    retrieval: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The widget's look (`chatbots.schemas.WidgetTheme`); keys left out take today's defaults.
    theme: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    status: Mapped[ChatbotStatus] = mapped_column(enum_type(ChatbotStatus, "chatbot_status"))
    # Indexing progress, written by the embedding job: how many chunks had a vector of
    # `embedding_model` at its last step (the chunk count itself is live, in term statistics).
    embedded_chunks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    # The mean of those vectors, the baseline a question's closeness is judged against
    # (`knowledge.vectors.nearest_chunks` reads it in SQL); never loaded with the row.
    embedding_centroid: Mapped[list[float] | None] = mapped_column(ARRAY(REAL), deferred=True)
    # When the widget asks visitors for their contact (`chatbots.schemas.LeadCaptureSettings`).
    lead_capture: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # What the chatbot says, instead of answering, in a conversation handed off to a person.
    handoff_message: Mapped[str] = mapped_column(Text, default=lambda: DEFAULT_HANDOFF_MESSAGE)
    # Whether visitors may ask for a person (the widget's "Talk to a person"). Off for a new
    # chatbot; chatbots that existed before the setting keep it on (ADR 0033).
    handoff_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())


class Source(IdMixin, TimestampMixin, Base):
    __tablename__ = "sources"
    __table_args__ = (
        Index("ix_sources_chatbot", "chatbot_id", "id"),
        # The scheduler's scan: only sources with a schedule are in it.
        Index(
            "ix_sources_next_sync_at",
            "next_sync_at",
            postgresql_where=text("next_sync_at IS NOT NULL"),
        ),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    chatbot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chatbots.id", ondelete="CASCADE"))
    kind: Mapped[SourceKind] = mapped_column(enum_type(SourceKind, "source_kind"))
    title: Mapped[str] = mapped_column(String(500), default="")
    url: Mapped[str | None] = mapped_column(String(2048))
    question: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str | None] = mapped_column(Text)
    status: Mapped[SourceStatus] = mapped_column(
        enum_type(SourceStatus, "source_status"), default=SourceStatus.ready, server_default="ready"
    )
    error: Mapped[str | None] = mapped_column(Text)
    # A file source: the uploaded (or fetched) file as last accepted.
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_type: Mapped[str | None] = mapped_column(String(20))
    file_bytes: Mapped[int | None] = mapped_column(Integer)
    file_hash: Mapped[str | None] = mapped_column(String(64))
    # Re-sync of a website or a file fetched from a URL; `next_sync_at` is null when off.
    sync_schedule: Mapped[SyncSchedule] = mapped_column(
        enum_type(SyncSchedule, "sync_schedule"), default=SyncSchedule.off, server_default="off"
    )
    next_sync_at: Mapped[datetime | None]
    last_synced_at: Mapped[datetime | None]
    # The validators of a file fetched from a URL, sent back as a conditional request.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
