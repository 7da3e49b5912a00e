"""Request and response bodies of the chat API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sitechat.core.fields import ShortText, Title
from sitechat.models.chat import (
    Conversation,
    ConversationChannel,
    FeedbackRating,
    Message,
    MessageRole,
    MessageStatus,
)

MAX_QUESTION_CHARS = 4_000
MAX_TITLE_CHARS = 200
MAX_COMMENT_CHARS = 2_000


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title = Field("", examples=["Pricing questions"])


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = Field(None, examples=["Refunds"])


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    chatbot_id: uuid.UUID
    title: str
    channel: ConversationChannel
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationRead:
        return cls.model_validate(conversation)


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(
        min_length=1, max_length=MAX_QUESTION_CHARS, examples=["How do I reset my password?"]
    )
    stream: bool = Field(False, description="Stream the answer as server-sent events.")

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is blank")
        return value


class CitationRead(BaseModel):
    """One cited source, the same on every channel (JSON, SSE, WebSocket, history, OpenAI)."""

    number: int = Field(description="The `[n]` marker that cites this source in the answer.")
    url: str | None = Field(
        description="The cited section: the page URL with `#anchor` of the nearest heading "
        "when the page gives headings ids; null for text sources."
    )
    title: str
    heading: str
    snippet: str


class UsageRead(BaseModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None

    @classmethod
    def of(cls, prompt_tokens: int | None, completion_tokens: int | None) -> UsageRead:
        total = (
            None
            if prompt_tokens is None and completion_tokens is None
            else (prompt_tokens or 0) + (completion_tokens or 0)
        )
        return cls(
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, total_tokens=total
        )


class MessageRead(BaseModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    role: MessageRole
    content: str
    citations: list[CitationRead]
    status: MessageStatus = Field(
        description="`partial` when the client left mid-stream; `failed` with `error_code`."
    )
    fallback: bool = Field(description="True when the chatbot answered with its fallback.")
    usage: UsageRead | None
    error_code: str | None
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> MessageRead:
        return cls(**message_fields(message))


class AnswerRead(MessageRead):
    """The assistant's answer, with the id under which the question was stored."""

    user_message_id: uuid.UUID


def public_citation(stored: dict[str, Any]) -> dict[str, Any]:
    return {key: stored.get(key) for key in ("number", "url", "title", "heading", "snippet")}


def message_fields(message: Message) -> dict[str, Any]:
    is_answer = message.role is MessageRole.assistant
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "role": message.role,
        "content": message.content,
        "citations": [public_citation(citation) for citation in message.citations],
        "status": message.status,
        "fallback": message.fallback,
        "usage": UsageRead.of(message.prompt_tokens, message.completion_tokens)
        if is_answer
        else None,
        "error_code": message.error_code,
        "created_at": message.created_at,
    }


class MessagePage(BaseModel):
    items: list[MessageRead]
    next_cursor: str | None = None


class ConversationPage(BaseModel):
    items: list[ConversationRead]
    next_cursor: str | None = None


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: FeedbackRating
    comment: ShortText | None = Field(None, max_length=MAX_COMMENT_CHARS)


class FeedbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: uuid.UUID
    rating: FeedbackRating
    comment: str | None
    updated_at: datetime


MessageOrder = Literal["asc", "desc"]
