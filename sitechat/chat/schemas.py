"""Request and response bodies of the chat API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from sitechat.core.fields import (
    ShortText,
    Title,
    refuse_control_characters_but_line_breaks,
    sanitize_display_text,
)
from sitechat.models.chat import (
    Conversation,
    ConversationChannel,
    ConversationStatus,
    FeedbackRating,
    Message,
    MessageRole,
    MessageStatus,
)

MAX_QUESTION_CHARS = 4_000
MAX_TITLE_CHARS = 200
MAX_COMMENT_CHARS = 2_000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("the question is blank")
    return value


Question = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_QUESTION_CHARS),
    # A NUL (or another control character) cannot be stored as text: refused here as a
    # validation error rather than by the database in the middle of an answer.
    AfterValidator(refuse_control_characters_but_line_breaks),
    AfterValidator(_not_blank),
]
"""A visitor's or user's question, on every chat route (JSON, SSE and the WebSocket)."""


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
    status: ConversationStatus = Field(
        description="`handoff_requested`: a person answers; the chatbot only says so."
    )
    handoff_requested_at: datetime | None
    handoff_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationRead:
        return cls.model_validate(conversation)


class MessageCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"content": "How long do refunds take?", "stream": False}]},
    )

    content: Question = Field(examples=["How do I reset my password?"])
    stream: StrictBool = Field(False, description="Stream the answer as server-sent events.")


class MemberMessageCreate(MessageCreate):
    """A question (role `user`, answered by the chatbot) or a person's reply (role `agent`, in
    a conversation handed off to people; stored as display text and shown to the visitor)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"content": "How do I reset my password?"},
                {"role": "agent", "content": "Hi, I'm Sam from support. Let me check that."},
            ]
        },
    )

    role: Literal["user", "agent"] = Field("user", description="`agent`: a person replies.")

    @model_validator(mode="after")
    def _agent_reply_is_display_text(self) -> MemberMessageCreate:
        if self.role == "agent":
            refuse_control_characters_but_line_breaks(self.content)
            self.content = sanitize_display_text(self.content)
            if not self.content:
                raise ValueError("nothing is left of the reply once the markup is removed")
            if self.stream:
                raise ValueError("an agent reply is stored, not streamed")
        return self


class HandoffCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "I want to talk to sales."}]}
    )

    reason: ShortText | None = Field(None, description="Why a person is wanted (optional).")


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
    handoff_notice: bool = Field(
        False,
        description="True for the chatbot's fixed hand-off message (the conversation is with "
        "a person; nothing was looked up).",
    )
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
        "handoff_notice": message.handoff_notice,
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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"rating": "down", "comment": "It cited the old page."}]},
    )

    rating: FeedbackRating
    comment: ShortText | None = Field(None, max_length=MAX_COMMENT_CHARS)


class FeedbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: uuid.UUID
    rating: FeedbackRating
    comment: str | None
    updated_at: datetime


MessageOrder = Literal["asc", "desc"]
