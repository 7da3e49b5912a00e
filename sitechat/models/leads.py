"""Contacts visitors leave in a widget conversation (lead capture)."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sitechat.models.base import Base, IdMixin, TimestampMixin


class Lead(IdMixin, TimestampMixin, Base):
    """One per conversation: a visitor who sends the form again updates it."""

    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_chatbot", "chatbot_id", "id"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    chatbot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chatbots.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    name: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(320))
    # How many times the visitor sent the form in this conversation (capped: a flood guard).
    submissions: Mapped[int] = mapped_column(Integer, default=1)
