"""Conversations, and answering a question in three steps with no transaction held open.

1. `prepare_turn` (inside the request's transaction): check the chatbot can answer, store the
   question and a `partial` placeholder for the answer, retrieve passages, load the history.
   The route's commit makes both messages visible.
2. The answerer runs with no transaction open (`answer_turn` or `stream_turn`).
3. `_store_answer` writes the final answer and its usage event in a new, short transaction.
   A client that leaves mid-stream still gets step 3, with the partial text.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sitechat.billing.usage import ensure_quota
from sitechat.chat import repository
from sitechat.chat.answerer import (
    Answerer,
    AnswerError,
    AnswerEvent,
    AnswerMeta,
    AnswerSettings,
    Citation,
    CitationsReady,
    TextDelta,
    Turn,
    Usage,
    shorten,
)
from sitechat.chat.errors import ChatbotNotReady, FeedbackNeedsAnswer
from sitechat.chat.schemas import UsageRead, public_citation
from sitechat.chat.streaming import PING, ChatEvent, with_keepalive
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound
from sitechat.core.pagination import decode_cursor, next_cursor_of
from sitechat.knowledge.passages import Passage
from sitechat.knowledge.service import retrieve
from sitechat.models.base import new_id
from sitechat.models.chat import (
    Conversation,
    ConversationChannel,
    Feedback,
    FeedbackRating,
    Message,
    MessageRole,
    MessageStatus,
)
from sitechat.models.chatbots import Chatbot, ChatbotStatus, Visibility

log = structlog.get_logger()

HISTORY_MESSAGES = 10
TITLE_FROM_QUESTION_CHARS = 80
INTERNAL_ERROR_CODE = "internal-error"


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
        chatbot = await repository.get_chatbot(session, scope.workspace_id, chatbot_id)
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
    return list(await repository.list_chatbots(session, scope.workspace_id))


async def public_chatbot(session: AsyncSession, chatbot_id: uuid.UUID) -> Chatbot:
    """A chatbot the widget may reach: private ones answer 404, as if they did not exist."""
    chatbot = await repository.get_chatbot_unscoped(session, chatbot_id)
    if chatbot is None or chatbot.visibility is not Visibility.public:
        raise NotFound("Chatbot")
    return chatbot


async def visitor_conversation(
    session: AsyncSession, scope: Scope, conversation_id: uuid.UUID
) -> tuple[Conversation, Chatbot]:
    """The visitor's own conversation, as long as its chatbot is still public."""
    conversation = await get_conversation(session, scope, conversation_id)
    return conversation, await public_chatbot(session, conversation.chatbot_id)


async def list_conversations(
    session: AsyncSession, scope: Scope, chatbot_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[list[Conversation], str | None]:
    chatbot = await get_chatbot(session, scope, chatbot_id)
    rows = await repository.list_conversations(
        session, chatbot.workspace_id, chatbot.id, decode_cursor(cursor), limit
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
) -> Feedback:
    message = await repository.get_message(session, workspace_id, message_id)
    if message is None:
        raise NotFound("Message")
    if message.role is not MessageRole.assistant:
        raise FeedbackNeedsAnswer()
    return await repository.upsert_feedback(
        session, workspace_id, message.id, rating.value, comment, utcnow()
    )


# --- answering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedTurn:
    """Everything the answer needs, gathered (and the question stored) before it runs."""

    workspace_id: uuid.UUID
    chatbot_id: uuid.UUID
    conversation_id: uuid.UUID
    user_message_id: uuid.UUID
    assistant_message_id: uuid.UUID
    question: str
    passages: list[Passage]
    history: list[Turn]
    settings: AnswerSettings


def answer_settings(chatbot: Chatbot) -> AnswerSettings:
    return AnswerSettings(
        instructions=chatbot.instructions,
        fallback_message=chatbot.fallback_message,
        max_answer_chars=chatbot.max_answer_chars,
        temperature=chatbot.temperature,
        model=chatbot.model,
    )


def _id_after(previous: uuid.UUID) -> uuid.UUID:
    """A new id that sorts after `previous` even within the same millisecond (ids are the order
    of a conversation's messages)."""
    candidate = new_id()
    while candidate <= previous:
        candidate = new_id()
    return candidate


def usage_event_key(assistant_message_id: uuid.UUID) -> str:
    return f"message:{assistant_message_id}"


async def prepare_turn(
    session: AsyncSession,
    conversation: Conversation,
    question: str,
    history: Sequence[Turn] | None = None,
) -> PreparedTurn:
    """Store the question and an answer placeholder; `history` replaces the stored history."""
    chatbot = await repository.get_chatbot(
        session, conversation.workspace_id, conversation.chatbot_id
    )
    if chatbot is None:
        raise NotFound("Chatbot")
    if chatbot.status is not ChatbotStatus.ready:
        raise ChatbotNotReady(chatbot.status.value)
    if history is None:
        earlier = await repository.recent_messages(session, conversation.id, HISTORY_MESSAGES)
        history = [Turn(role=message.role.value, content=message.content) for message in earlier]
    if not conversation.title:
        conversation.title = shorten(" ".join(question.split()), TITLE_FROM_QUESTION_CHARS)
    user_message = Message(
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        role=MessageRole.user,
        content=question,
        status=MessageStatus.complete,
    )
    user_message.id = new_id()
    answer = Message(
        id=_id_after(user_message.id),
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        role=MessageRole.assistant,
        content="",
        status=MessageStatus.partial,
    )
    session.add_all([user_message, answer])
    # Retrieval (and the question's embedding) first: the quota lock taken next is held until
    # the request commits, and should not wait on them.
    passages = await retrieve(session, chatbot, question)
    # The message is counted when it is asked, under the workspace's quota lock, so parallel
    # questions cannot overshoot the plan; a failed answer gives its slot back.
    await ensure_quota(session, conversation.workspace_id, "messages")
    await repository.record_message_usage(
        session,
        workspace_id=conversation.workspace_id,
        chatbot_id=chatbot.id,
        event_key=usage_event_key(answer.id),
        occurred_at=utcnow(),
        prompt_tokens=None,
        completion_tokens=None,
    )
    await session.flush()
    return PreparedTurn(
        workspace_id=conversation.workspace_id,
        chatbot_id=chatbot.id,
        conversation_id=conversation.id,
        user_message_id=user_message.id,
        assistant_message_id=answer.id,
        question=question,
        passages=passages,
        history=list(history),
        settings=answer_settings(chatbot),
    )


@dataclass
class AnswerProgress:
    """What an answer has produced so far."""

    parts: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    fallback: bool = False
    usage: Usage = field(default_factory=Usage)

    def add(self, event: AnswerEvent) -> None:
        match event:
            case TextDelta(text=text):
                self.parts.append(text)
            case CitationsReady(citations=citations):
                self.citations = list(citations)
            case AnswerMeta(fallback=fallback):
                self.fallback = fallback
            case Usage():
                self.usage = event

    @property
    def text(self) -> str:
        return "".join(self.parts)


def stored_citation(citation: Citation) -> dict[str, Any]:
    return {
        "number": citation.number,
        "url": citation.url,
        "title": citation.title,
        "heading": citation.heading,
        "snippet": citation.snippet,
        "chunk_id": str(citation.chunk_id),
        "source_id": str(citation.source_id),
    }


async def _store_answer(
    sessionmaker: async_sessionmaker[AsyncSession],
    turn: PreparedTurn,
    progress: AnswerProgress,
    status: MessageStatus,
    error_code: str | None = None,
) -> Message:
    """Write the answer and settle (or, if it failed, release) its usage, in one transaction."""
    values: dict[str, Any] = {
        "content": progress.text,
        "citations": [stored_citation(citation) for citation in progress.citations],
        "status": status,
        "fallback": progress.fallback,
        "prompt_tokens": progress.usage.prompt_tokens,
        "completion_tokens": progress.usage.completion_tokens,
        "error_code": error_code,
        "updated_at": utcnow(),
    }
    async with sessionmaker() as session, session.begin():
        message = await repository.save_answer(session, turn.assistant_message_id, values)
        # A partial answer was produced (and a model paid for) too: it stays counted.
        event_key = usage_event_key(turn.assistant_message_id)
        if status is MessageStatus.failed:
            await repository.release_message_usage(session, event_key)
        else:
            await repository.settle_message_usage(
                session,
                event_key,
                prompt_tokens=progress.usage.prompt_tokens,
                completion_tokens=progress.usage.completion_tokens,
            )
    log.info(
        "chat.answer_stored",
        message_id=str(turn.assistant_message_id),
        chatbot_id=str(turn.chatbot_id),
        status=status.value,
        fallback=progress.fallback,
        retrieved=len(turn.passages),
        error_code=error_code,
    )
    return message


async def answer_turn(
    turn: PreparedTurn, answerer: Answerer, sessionmaker: async_sessionmaker[AsyncSession]
) -> Message:
    """Answer in one piece. An `AnswerError` is stored on the message, then re-raised."""
    progress = AnswerProgress()
    stored = False
    try:
        events = answerer.stream(turn.question, turn.passages, turn.history, turn.settings)
        async for event in events:
            progress.add(event)
        message = await _store_answer(sessionmaker, turn, progress, MessageStatus.complete)
        stored = True
        return message
    except AnswerError as error:
        await _store_answer(sessionmaker, turn, progress, MessageStatus.failed, error.code)
        stored = True
        raise
    finally:
        if not stored:
            with anyio.CancelScope(shield=True):
                await _store_answer(
                    sessionmaker, turn, progress, MessageStatus.failed, INTERNAL_ERROR_CODE
                )


def start_event(turn: PreparedTurn) -> ChatEvent:
    return ChatEvent(
        "message_start",
        {
            "conversation_id": str(turn.conversation_id),
            "user_message_id": str(turn.user_message_id),
            "assistant_message_id": str(turn.assistant_message_id),
        },
    )


def done_event(message: Message) -> ChatEvent:
    usage = UsageRead.of(message.prompt_tokens, message.completion_tokens)
    return ChatEvent(
        "done",
        {
            "message_id": str(message.id),
            "usage": usage.model_dump(),
            "fallback": message.fallback,
        },
    )


async def stream_turn(
    turn: PreparedTurn,
    answerer: Answerer,
    sessionmaker: async_sessionmaker[AsyncSession],
    keepalive_seconds: float | None,
) -> AsyncGenerator[ChatEvent]:
    """The answer as events: message_start, delta..., citations, done (or error), pings.

    However the stream ends (finished, failed, or closed early because the client left) the
    answer is stored with the matching status before this generator finishes.
    """
    progress = AnswerProgress()
    stored = False
    try:
        yield start_event(turn)
        events = answerer.stream(turn.question, turn.passages, turn.history, turn.settings)
        async for event in with_keepalive(events, keepalive_seconds):
            if event is None:
                yield PING
                continue
            progress.add(event)
            if isinstance(event, TextDelta):
                yield ChatEvent("delta", {"text": event.text})
            elif isinstance(event, CitationsReady):
                citations = [public_citation(stored_citation(c)) for c in event.citations]
                yield ChatEvent("citations", {"citations": citations})
        message = await _store_answer(sessionmaker, turn, progress, MessageStatus.complete)
        stored = True
        yield done_event(message)
    except AnswerError as error:
        await _store_answer(sessionmaker, turn, progress, MessageStatus.failed, error.code)
        stored = True
        yield ChatEvent("error", {"code": error.code, "message": error.message})
    except Exception:
        log.exception("chat.answer_crashed", message_id=str(turn.assistant_message_id))
        await _store_answer(sessionmaker, turn, progress, MessageStatus.failed, INTERNAL_ERROR_CODE)
        stored = True
        yield ChatEvent(
            "error", {"code": INTERNAL_ERROR_CODE, "message": "The answer could not be produced."}
        )
    finally:
        if not stored:
            # The client left (the stream was cancelled or closed): keep what was said so far.
            with anyio.CancelScope(shield=True):
                await _store_answer(sessionmaker, turn, progress, MessageStatus.partial)
