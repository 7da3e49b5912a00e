"""Request and response bodies of `/v1/webhooks`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import nh3
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from sitechat.models.webhooks import DeliveryStatus

EventType = Literal[
    "crawl.completed",
    "crawl.failed",
    "source.synced",
    "conversation.created",
    "message.answered",
    "feedback.created",
    "lead.captured",
    "handoff.requested",
    "handoff.ended",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]
MAX_ENDPOINTS_PER_WORKSPACE = 20
# How long a rotated-out secret keeps signing beside the new one (docs/decisions/0031).
DEFAULT_OVERLAP_SECONDS = 24 * 3600
MAX_OVERLAP_SECONDS = 7 * 24 * 3600


def _plain_text(value: str) -> str:
    return nh3.clean(value, tags=set()).strip()


WebhookUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2048)]
Description = Annotated[str, StringConstraints(max_length=500), AfterValidator(_plain_text)]
EventTypes = Annotated[list[EventType], Field(max_length=len(EVENT_TYPES))]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/sitechat",
                    "description": "CRM sync",
                    "event_types": ["message.answered", "lead.captured"],
                }
            ]
        },
    )

    url: WebhookUrl = Field(description="Where events are POSTed (https, public address).")
    description: Description = ""
    event_types: EventTypes = Field(
        default_factory=list, description="Events to receive; empty: every event type."
    )
    enabled: bool = True


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": True}]})

    url: WebhookUrl | None = None
    description: Description | None = None
    event_types: EventTypes | None = None
    enabled: bool | None = Field(
        default=None, description="Enabling again clears the reason it was disabled."
    )


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None = Field(
        description="During a rotation's overlap, when the previous secret stops signing "
        "deliveries (each delivery carries both signatures until then); null otherwise."
    )
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead):
    secret: str = Field(
        description="Signing secret (`whsec_...`), shown only now: verify deliveries with it "
        "the Standard Webhooks way."
    )


class SecretRotation(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"overlap_seconds": 86400}]}
    )

    overlap_seconds: int = Field(
        default=DEFAULT_OVERLAP_SECONDS,
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        strict=True,
        description="How long the secret being replaced keeps signing deliveries beside the "
        "new one (default a day, at most a week); 0 stops it at once, for a secret that leaked.",
    )


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    message_id: str = Field(description="The `webhook-id` header; kept by redeliveries.")
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    created_at: datetime
    delivered_at: datetime | None
