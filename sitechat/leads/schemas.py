"""Request and response bodies of lead capture."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sitechat.core.fields import Email, FullName


class LeadCreate(BaseModel):
    """What the widget's form sends; which fields are required is the chatbot's
    `lead_capture.fields`. The name is stored as display text, the email normalized."""

    model_config = ConfigDict(extra="forbid")

    name: FullName | None = Field(None, examples=["Ada Lovelace"])
    email: Email | None = None


class LeadAccepted(BaseModel):
    """All a visitor gets back: what they sent is never readable through the widget."""

    captured: bool = True


class LeadRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    chatbot_id: uuid.UUID
    conversation_id: uuid.UUID
    name: str | None
    email: str | None
    created_at: datetime
    updated_at: datetime


class LeadPage(BaseModel):
    items: list[LeadRead]
    next_cursor: str | None = None
