"""Request and response bodies for chatbots and their text / Q&A sources."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from sitechat.core.fields import (
    ChatbotName,
    ModelName,
    QaQuestion,
    Sanitized,
    ShortText,
    SourceTitle,
    SuggestedQuestion,
    refuse_control_characters,
)
from sitechat.knowledge.indexing import SEARCH_LANGUAGES
from sitechat.models.chatbots import (
    DEFAULT_HANDOFF_MESSAGE,
    ChatbotStatus,
    Source,
    SourceKind,
    SourceStatus,
    SyncSchedule,
    Visibility,
)

DEFAULT_FALLBACK_MESSAGE = "I'm sorry, I couldn't find that on this site."
MAX_ALLOWED_ORIGINS = 20
MAX_SUGGESTED_QUESTIONS = 10
MAX_TEXT_SOURCE_CHARS = 200_000
MAX_AVATAR_URL_CHARS = 2_048
MAX_LAUNCHER_TEXT_CHARS = 40
DEFAULT_PRIMARY_COLOR = "#2563eb"
DEFAULT_LAUNCHER_TEXT = "Ask a question"


def _check_origin(value: str) -> str:
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number between 0 and 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an origin is scheme://host[:port] with scheme http or https")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("an origin has no path, query, fragment or credentials")
    origin = f"{parts.scheme}://{parts.hostname}"
    return f"{origin}:{port}" if port is not None else origin


def _check_avatar_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("the avatar is an https:// URL")
    if parts.username or parts.password:
        raise ValueError("the avatar URL has no credentials")
    return value


def _check_language(value: str) -> str:
    if value not in SEARCH_LANGUAGES:
        raise ValueError(f"unsupported language; one of: {', '.join(sorted(SEARCH_LANGUAGES))}")
    return value


# Every text users store for visitors to read follows core.fields' one display-text rule.
Name = ChatbotName
Question = SuggestedQuestion
Origin = Annotated[str, StringConstraints(max_length=300), AfterValidator(_check_origin)]
Language = Annotated[str, StringConstraints(max_length=32), AfterValidator(_check_language)]
Instructions = Annotated[str, StringConstraints(max_length=20_000)]
# `#rrggbb`, stored in lower case so the widget and comparisons see one spelling.
Color = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^#[0-9a-fA-F]{6}$"),
    Field(examples=["#2563eb"]),
]
AvatarUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_AVATAR_URL_CHARS),
    AfterValidator(_check_avatar_url),
]
LauncherText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_LAUNCHER_TEXT_CHARS),
    AfterValidator(refuse_control_characters),
    AfterValidator(Sanitized(MAX_LAUNCHER_TEXT_CHARS)),
]
WidgetPosition = Literal["left", "right"]
Temperature = Annotated[float, Field(ge=0.0, le=2.0)]
MaxAnswerChars = Annotated[int, Field(ge=50, le=20_000)]


class RetrievalSettings(BaseModel):
    """How answers find passages."""

    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(default=5, ge=1, le=20, description="Passages given to the answerer.")


class WidgetTheme(BaseModel):
    """How the embedded widget looks on the customer's site."""

    model_config = ConfigDict(extra="forbid")

    primary_color: Color = Field(
        default=DEFAULT_PRIMARY_COLOR, description="Launcher, header and your messages."
    )
    position: WidgetPosition = Field(default="right", description="Bottom corner of the page.")
    launcher_text: LauncherText = Field(
        default=DEFAULT_LAUNCHER_TEXT, description="Text of the launcher button; empty: icon only."
    )
    avatar_url: AvatarUrl | None = Field(default=None, description="An https:// image URL.")


class WidgetThemeUpdate(BaseModel):
    """Only the theme fields sent change; `avatar_url: null` removes the avatar."""

    model_config = ConfigDict(extra="forbid")

    primary_color: Color | None = None
    position: WidgetPosition | None = None
    launcher_text: LauncherText | None = None
    avatar_url: AvatarUrl | None = None

    @model_validator(mode="after")
    def _no_null_but_avatar(self) -> WidgetThemeUpdate:
        nulled = sorted(
            name
            for name in self.model_fields_set
            if name != "avatar_url" and getattr(self, name) is None
        )
        if nulled:
            raise ValueError(f"these theme fields cannot be null: {', '.join(nulled)}")
        return self


class WidgetThemeRead(BaseModel):
    """The stored theme (already validated; missing keys take today's defaults)."""

    primary_color: str = DEFAULT_PRIMARY_COLOR
    position: WidgetPosition = "right"
    launcher_text: str = DEFAULT_LAUNCHER_TEXT
    avatar_url: str | None = None


LeadField = Literal["name", "email"]


class LeadCaptureSettings(BaseModel):
    """When the widget asks visitors for their contact (`POST /v1/public/conversations/{id}/lead`).

    `when`: `start` (before the first question), `after_messages` (once the visitor has asked
    `after_messages` questions) or `on_fallback` (when the chatbot could not answer). The
    fields listed are required in a submitted lead.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "enabled": True,
                    "fields": ["name", "email"],
                    "when": "on_fallback",
                    "prompt": "Leave your email and we will get back to you.",
                }
            ]
        },
    )

    enabled: bool = False
    fields: list[LeadField] = Field(
        default_factory=lambda: list[LeadField](["email"]), min_length=1, max_length=2
    )
    when: Literal["start", "after_messages", "on_fallback"] = "on_fallback"
    after_messages: int | None = Field(
        default=None, ge=1, le=100, description="Questions first, with `when: after_messages`."
    )
    prompt: ShortText = Field(
        default="Leave your contact and we will get back to you.",
        description="What the form says to the visitor.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> LeadCaptureSettings:
        if len(set(self.fields)) != len(self.fields):
            raise ValueError("each field at most once")
        if self.when == "after_messages" and self.after_messages is None:
            raise ValueError("`after_messages` is required with `when: after_messages`")
        if self.when != "after_messages" and self.after_messages is not None:
            raise ValueError("`after_messages` goes with `when: after_messages` only")
        return self


class LeadCaptureRead(BaseModel):
    """The stored lead-capture settings as read back: validated and sanitized when written, so
    a read only fills missing keys with the defaults (no sanitizer on the read path)."""

    enabled: bool = LeadCaptureSettings.model_fields["enabled"].default
    fields: list[LeadField] = Field(default_factory=lambda: list[LeadField](["email"]))
    when: Literal["start", "after_messages", "on_fallback"] = "on_fallback"
    after_messages: int | None = None
    prompt: str = LeadCaptureSettings.model_fields["prompt"].default


class ChatbotCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Docs helper",
                    "instructions": "Answer briefly, citing the docs.",
                    "welcome_message": "Hi! Ask me about our product.",
                    "allowed_origins": ["https://www.example.com"],
                }
            ]
        },
    )

    name: Name
    description: ShortText = ""
    instructions: Instructions = Field(default="", description="The system prompt.")
    model: ModelName | None = Field(
        default=None, description="LLM model name; the server default when null."
    )
    temperature: Temperature = 0.2
    max_answer_chars: MaxAnswerChars = 1200
    welcome_message: ShortText = ""
    suggested_questions: list[Question] = Field(
        default_factory=list, max_length=MAX_SUGGESTED_QUESTIONS
    )
    fallback_message: ShortText = DEFAULT_FALLBACK_MESSAGE
    visibility: Visibility = Visibility.private
    allowed_origins: list[Origin] = Field(
        default_factory=list,
        max_length=MAX_ALLOWED_ORIGINS,
        description="Origins (scheme://host[:port]) where the public widget may run.",
    )
    language: Language = Field(default="english", description="Text-search language.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    theme: WidgetTheme = Field(default_factory=WidgetTheme)
    lead_capture: LeadCaptureSettings = Field(default_factory=LeadCaptureSettings)
    handoff_enabled: bool = Field(
        default=False,
        description='Whether visitors may ask for a person (the widget\'s "Talk to a person"). '
        "Turn it on only when someone answers: `handoff.requested` webhooks or the "
        "`status=handoff_requested` conversation list.",
    )
    handoff_message: ShortText = Field(
        default=DEFAULT_HANDOFF_MESSAGE,
        description="What the chatbot says instead of answering once a person took over.",
    )


class ChatbotUpdate(BaseModel):
    """Every field is optional; only the fields sent change. `status` accepts the moves users
    make: `paused` (from ready), `ready` (resume a paused chatbot) and `archived`."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"status": "paused"}]}
    )

    name: Name | None = None
    description: ShortText | None = None
    instructions: Instructions | None = None
    model: ModelName | None = None
    temperature: Temperature | None = None
    max_answer_chars: MaxAnswerChars | None = None
    welcome_message: ShortText | None = None
    suggested_questions: list[Question] | None = Field(
        default=None, max_length=MAX_SUGGESTED_QUESTIONS
    )
    fallback_message: ShortText | None = None
    visibility: Visibility | None = None
    allowed_origins: list[Origin] | None = Field(default=None, max_length=MAX_ALLOWED_ORIGINS)
    language: Language | None = None
    retrieval: RetrievalSettings | None = None
    theme: WidgetThemeUpdate | None = None
    lead_capture: LeadCaptureSettings | None = None
    handoff_enabled: bool | None = None
    handoff_message: ShortText | None = None
    status: ChatbotStatus | None = None

    @model_validator(mode="after")
    def _no_null_for_required_fields(self) -> ChatbotUpdate:
        nulled = sorted(
            name
            for name in self.model_fields_set
            if name != "model" and getattr(self, name) is None
        )
        if nulled:
            raise ValueError(f"these fields cannot be null: {', '.join(nulled)}")
        return self


class IndexingRead(BaseModel):
    """How far the chatbot's knowledge is indexed for semantic search.

    `chunks` is live; `embedded` counts the chunks that had a vector of the current embedding
    model at the embedding job's last step (it runs after each batch of crawled pages and after
    each source). `state`: `lexical_only` (this deployment has no semantic search: no pgvector
    or no embedder), `embedding` (some chunks lack vectors; until they have them, answers come
    from full-text search alone for those chunks) or `complete`.
    """

    chunks: int = Field(examples=[5214])
    embedded: int = Field(examples=[3900])
    state: Literal["lexical_only", "embedding", "complete"] = Field(examples=["embedding"])


class ChatbotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    description: str
    instructions: str
    model: str | None
    temperature: float
    max_answer_chars: int
    welcome_message: str
    suggested_questions: list[str]
    fallback_message: str
    visibility: Visibility
    allowed_origins: list[str]
    language: str
    retrieval: dict[str, Any]
    theme: WidgetThemeRead
    lead_capture: LeadCaptureRead
    handoff_enabled: bool
    handoff_message: str
    status: ChatbotStatus
    created_at: datetime
    updated_at: datetime
    # Shown by `GET /v1/chatbots/{id}`; null in lists and in write responses.
    indexing: IndexingRead | None = None


TextContent = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_SOURCE_CHARS)]
QaAnswer = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class TextSourceCreate(BaseModel):
    """Raw text (Markdown headings help citations); searchable as soon as it is saved."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["text"]
    title: SourceTitle
    content: TextContent


class QaSourceCreate(BaseModel):
    """A question and its answer; found when visitors ask something close to the question."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["qa"]
    question: QaQuestion
    answer: QaAnswer


SourceCreate = Annotated[TextSourceCreate | QaSourceCreate, Field(discriminator="kind")]

CONTENT_PREVIEW_CHARS = 300


class SourceRead(BaseModel):
    id: uuid.UUID
    chatbot_id: uuid.UUID
    kind: SourceKind
    title: str
    url: str | None = Field(description="Start URL of a website source.")
    question: str | None = Field(description="The question of a Q&A source.")
    content_preview: str | None = Field(
        description=f"First {CONTENT_PREVIEW_CHARS} characters of a text source or Q&A answer."
    )
    content_chars: int
    status: SourceStatus = Field(
        description="`ready` once searchable; a file (each version) and a website (each crawl) "
        "go `queued`, `processing`, then `ready` or `failed` (see `error`). A failed run or "
        "crawl leaves a source that still has pages `ready` on them, with `error` saying why."
    )
    error: str | None = Field(
        default=None,
        description="Why the last file run or crawl failed (null once one succeeds).",
    )
    file_name: str | None = Field(default=None, description="The file of a file source.")
    sync_schedule: SyncSchedule = SyncSchedule.off
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, source: Source, preview: str | None, content_chars: int, **fields: Any) -> Self:
        """`source` as the API shows it. The preview and the length come from the caller (a
        list reads them in its query, not the whole text); `fields` are a subclass's own."""
        return cls(
            id=source.id,
            chatbot_id=source.chatbot_id,
            kind=source.kind,
            title=source.title,
            url=source.url,
            question=source.question,
            content_preview=preview,
            content_chars=content_chars,
            status=source.status,
            error=source.error,
            file_name=source.file_name,
            sync_schedule=source.sync_schedule,
            created_at=source.created_at,
            updated_at=source.updated_at,
            **fields,
        )
