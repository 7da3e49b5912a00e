"""Asking a question: the one flow behind every chat route, with no transaction held open.

1. `ask` (inside the caller's transaction): check the chatbot can answer, store the question
   and a `partial` placeholder for the answer, retrieve passages, count the message. It
   returns an `AnswerRun`; the caller's commit makes both messages visible. In a conversation
   handed off to a person, the chatbot does not answer: no retrieval, nothing counted, and
   the "answer" is the chatbot's fixed hand-off message (`handoff_notice`).
2. `AnswerRun.events()` decides from the retrieval evidence whether the sources hold an
   answer (`evidence.py`: the same rule for every answerer; if not, the chatbot's fallback
   message), runs the answerer with no transaction open and yields `ChatEvent`s:
   `message_start`, `delta`..., `citations`, then `done` (carrying the stored answer) or
   `error` (carrying the `AnswerError`), with `ping`s while the answerer is quiet.
3. `_store_answer` writes the final answer and its usage event in a new, short transaction.
   However the events end (finished, failed, or the consumer left early), the answer is stored
   with the matching status before the generator finishes.

The JSON, SSE, WebSocket, widget and OpenAI-compatible routes only render these events.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import anyio
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sitechat.billing.plans import PlanCatalog
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
    fallback_answer,
    shorten,
)
from sitechat.chat.context import Reading, read_in_context
from sitechat.chat.errors import ChatbotNotReady
from sitechat.chat.evidence import Evidence, answerable, evidence_of
from sitechat.chat.handoff import HandoffNotice
from sitechat.chat.schemas import MAX_TITLE_CHARS, UsageRead, public_citation
from sitechat.chat.small_talk import small_talk_answer, small_talk_reply
from sitechat.chat.streaming import PING, ChatEvent, with_keepalive
from sitechat.chat.token_limit import TokenLimit
from sitechat.chatbots import repository as chatbot_repository
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound
from sitechat.core.fields import display_text_as_written, sanitize_display_text
from sitechat.knowledge.dense import DenseRetrieval
from sitechat.knowledge.indexing import question_key
from sitechat.knowledge.passages import Passage
from sitechat.models.base import new_id
from sitechat.models.chat import (
    Conversation,
    ConversationStatus,
    Message,
    MessageRole,
    MessageStatus,
)
from sitechat.models.chatbots import Chatbot, ChatbotStatus
from sitechat.webhooks.service import emit as emit_webhook
from sitechat.webhooks.tasks import defer_deliveries

log = structlog.get_logger()

HISTORY_MESSAGES = 10
TITLE_FROM_QUESTION_CHARS = 80


def title_from_question(question: str) -> str:
    """A conversation's title made from its first question, which anyone (an anonymous widget
    visitor too) may have typed and the chatbot's owner then reads: the display-text rule."""
    text = " ".join(question.split())
    limit = TITLE_FROM_QUESTION_CHARS
    title = sanitize_display_text(shorten(text, limit))
    while len(title) > MAX_TITLE_CHARS:  # escaping made it longer: cut the source shorter
        limit //= 2
        title = sanitize_display_text(shorten(text, limit))
    return title


@dataclass(frozen=True)
class ChatRuntime:
    """What answering needs beyond the request: the answerer, a sessionmaker for the answer's
    own transaction, and how quiet a stream may stay before a keep-alive ping."""

    answerer: Answerer
    sessionmaker: async_sessionmaker[AsyncSession]
    keepalive_seconds: float | None


@dataclass(frozen=True)
class PreparedTurn:
    """Everything the answer needs, gathered (and the question stored) before it runs."""

    workspace_id: uuid.UUID
    chatbot_id: uuid.UUID
    conversation_id: uuid.UUID
    user_message_id: uuid.UUID
    assistant_message_id: uuid.UUID
    question: str
    # What retrieval and the answerer read: the question, or for a follow-up the previous
    # question and this one (`chat/context.py`).
    query: str
    passages: list[Passage]
    history: list[Turn]
    settings: AnswerSettings
    asked_at: datetime
    handoff_message: str | None = None  # set: the conversation is with a person
    courtesy: str | None = None  # set: the message is only a greeting or thanks (its reply)
    # What the evidence rule said of the passages, judged once when they were read.
    evidence: Evidence = field(default_factory=lambda: evidence_of([]))


def answer_settings(chatbot: Chatbot) -> AnswerSettings:
    # The fallback is stored as display text (HTML-escaped, `core/fields.py`); an answer is
    # text: "help &amp; support" is said as "help & support". Instructions are stored as
    # written (a system prompt, never shown as HTML).
    return AnswerSettings(
        instructions=chatbot.instructions,
        fallback_message=display_text_as_written(chatbot.fallback_message),
        max_answer_chars=chatbot.max_answer_chars,
        temperature=chatbot.temperature,
        model=chatbot.model,
        welcome_message=display_text_as_written(chatbot.welcome_message or ""),
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


async def ask(
    session: AsyncSession,
    conversation: Conversation,
    question: str,
    runtime: ChatRuntime,
    *,
    plans: PlanCatalog,
    dense: DenseRetrieval | None,
    history: Sequence[Turn] | None = None,
    max_tokens: int | None = None,
) -> AnswerRun:
    """Store the question and an answer placeholder; `history` replaces the stored history.
    The passages are retrieved with `dense` (None: lexical only) and the message is counted
    against the workspace's plan of `plans`; `max_tokens` cuts the answer (`TokenLimit`).

    The returned run produces the answer once the caller's transaction has committed.
    """
    turn = await _prepare_turn(session, plans, dense, conversation, question, history)
    return AnswerRun(turn, runtime, max_tokens)


async def _prepare_turn(
    session: AsyncSession,
    plans: PlanCatalog,
    dense: DenseRetrieval | None,
    conversation: Conversation,
    question: str,
    history: Sequence[Turn] | None,
) -> PreparedTurn:
    asked_at = utcnow()  # an answer's latency includes its retrieval and the quota wait
    chatbot = await chatbot_repository.get_chatbot(
        session, conversation.workspace_id, conversation.chatbot_id
    )
    if chatbot is None:
        raise NotFound("Chatbot")
    handed_off = conversation.status is ConversationStatus.handoff_requested
    # A handed-off conversation is with people: the chatbot's own state does not stop it.
    if chatbot.status is not ChatbotStatus.ready and not handed_off:
        raise ChatbotNotReady(chatbot.status.value)
    if history is None and not handed_off:
        earlier = await repository.recent_messages(session, conversation.id, HISTORY_MESSAGES)
        # The fixed hand-off notices say nothing about the site: not history for the answerer.
        history = [_turn_of(message) for message in earlier if not message.handoff_notice]
    if not conversation.title:
        conversation.title = title_from_question(question)
    key = question_key(chatbot.language, question)
    user_message = Message(
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        chatbot_id=chatbot.id,
        role=MessageRole.user,
        content=question,
        status=MessageStatus.complete,
        question_key=key,
    )
    user_message.id = new_id()
    answer = Message(
        id=_id_after(user_message.id),
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        chatbot_id=chatbot.id,
        role=MessageRole.assistant,
        content="",
        status=MessageStatus.partial,
        question_id=user_message.id,
        question_key=key,
        handoff_notice=handed_off,
    )
    session.add_all([user_message, answer])
    settings = answer_settings(chatbot)
    courtesy = None if handed_off else small_talk_reply(question, settings.welcome_message)
    reading = Reading(question, [])
    if not handed_off:
        # Retrieval (and the question's embedding) first: the quota lock taken next is held
        # until the request commits, and should not wait on them. "hi" searches nothing.
        if courtesy is None:
            reading = await read_in_context(session, chatbot, question, history or [], dense=dense)
        # The message is counted when it is asked, under the workspace's quota lock, so
        # parallel questions cannot overshoot the plan; a failed answer gives its slot back.
        await ensure_quota(session, plans, conversation.workspace_id, "messages")
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
        query=reading.query,
        passages=reading.passages,
        history=[] if handed_off else list(history or ()),
        settings=settings,
        asked_at=asked_at,
        handoff_message=display_text_as_written(chatbot.handoff_message) if handed_off else None,
        courtesy=courtesy,
        evidence=reading.evidence,
    )


def _turn_of(message: Message) -> Turn:
    """History for the answerer, which knows two roles: a person's reply speaks for the site."""
    role: Literal["user", "assistant"] = "user" if message.role is MessageRole.user else "assistant"
    return Turn(role=role, content=message.content)


def answer_events(
    answerer: Answerer,
    question: str,
    passages: Sequence[Passage],
    history: Sequence[Turn],
    settings: AnswerSettings,
    evidence: Evidence,
) -> AsyncIterator[AnswerEvent]:
    """The answer's events: the fallback when the retrieval evidence says the sources hold no
    answer (the answerer is not asked), else the answerer's own; the same rule for all."""
    if answerable(evidence):
        return answerer.stream(question, passages, history, settings)
    return fallback_answer(question, settings)


@dataclass
class AnswerProgress:
    """What an answer has produced so far."""

    parts: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    fallback: bool = False
    truncated: bool = False  # the model stopped at its token limit
    usage: Usage = field(default_factory=Usage)

    def add(self, event: AnswerEvent) -> None:
        match event:
            case TextDelta(text=text):
                self.parts.append(text)
            case CitationsReady(citations=citations):
                self.citations = list(citations)
            case AnswerMeta(fallback=fallback, truncated=truncated):
                self.fallback = fallback
                self.truncated = truncated
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
        "page_id": str(citation.page_id) if citation.page_id is not None else None,
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
        "latency_ms": None if turn.handoff_message is not None else _elapsed_ms(turn.asked_at),
    }
    deliveries: list[uuid.UUID] = []
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
        if status is MessageStatus.complete and not progress.fallback:
            await repository.save_citations(session, message)
        if status is MessageStatus.complete and turn.handoff_message is None:
            deliveries = await emit_webhook(
                session, turn.workspace_id, "message.answered", _answered_event(turn, progress)
            )
    await defer_deliveries(deliveries)
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


def _elapsed_ms(since: datetime) -> int:
    return max(0, round((utcnow() - since).total_seconds() * 1000))


def _answered_event(turn: PreparedTurn, progress: AnswerProgress) -> dict[str, Any]:
    return {
        "message_id": str(turn.assistant_message_id),
        "conversation_id": str(turn.conversation_id),
        "chatbot_id": str(turn.chatbot_id),
        "question": turn.question,
        "answer": progress.text,
        "fallback": progress.fallback,
        "citations": [public_citation(stored_citation(c)) for c in progress.citations],
    }


def _start_event(turn: PreparedTurn) -> ChatEvent:
    return ChatEvent(
        "message_start",
        {
            "conversation_id": str(turn.conversation_id),
            "user_message_id": str(turn.user_message_id),
            "assistant_message_id": str(turn.assistant_message_id),
        },
    )


def _done_event(message: Message, *, cut: bool) -> ChatEvent:
    usage = UsageRead.of(message.prompt_tokens, message.completion_tokens)
    return ChatEvent(
        "done",
        {
            "message_id": str(message.id),
            "usage": usage.model_dump(),
            "fallback": message.fallback,
        },
        message=message,
        cut=cut,
    )


def _error_event(error: AnswerError) -> ChatEvent:
    return ChatEvent("error", {"code": error.code, "message": error.message}, error=error)


@dataclass(frozen=True)
class AnswerRun:
    """A stored question whose answer is produced, as events, after the caller commits."""

    turn: PreparedTurn
    runtime: ChatRuntime
    # The answer is cut after as many (estimated) tokens, and a model asked for no more.
    max_tokens: int | None = None

    async def outcome(self) -> Message:
        """Run the answer to its end: the stored answer, or the `AnswerError` that stopped it
        (for renderers that send one body rather than a stream)."""
        message, _ = await self.finished()
        return message

    async def finished(self) -> tuple[Message, bool]:
        """Run the answer to its end: the stored answer and whether it was cut at a token limit
        (`max_tokens`, or the model's own stop at it), or the `AnswerError` that stopped it."""
        events = self.events(keepalive=False)
        async with contextlib.aclosing(events):
            async for event in events:
                if event.error is not None:
                    raise event.error
                if event.message is not None:
                    return event.message, event.cut
        raise RuntimeError("an answer run ended without `done` or `error`")

    async def events(self, *, keepalive: bool = True) -> AsyncGenerator[ChatEvent]:
        """The answer's events; `keepalive=False` for consumers that wait for the end anyway."""
        turn, runtime = self.turn, self.runtime
        progress = AnswerProgress()
        stored = False
        try:
            yield _start_event(turn)
            events: AsyncIterator[AnswerEvent]
            if turn.handoff_message is not None:
                events = HandoffNotice(turn.handoff_message).stream(
                    turn.question, turn.passages, turn.history, turn.settings
                )
            elif turn.courtesy is not None:
                events = small_talk_answer(turn.question, turn.courtesy, turn.settings)
            else:
                answerer = runtime.answerer
                events = answer_events(
                    answerer,
                    turn.question if answerer.reads_history else turn.query,
                    turn.passages,
                    turn.history,
                    # A model is asked for no more than the caller takes (`llm.py`).
                    replace(turn.settings, max_tokens=self.max_tokens),
                    turn.evidence,
                )
            # Also the safety net for a model that writes past the `max_tokens` it was sent.
            limit = TokenLimit(self.max_tokens) if self.max_tokens is not None else None
            if limit is not None:
                events = limit.apply(events)
            interval = runtime.keepalive_seconds if keepalive else None
            async for event in with_keepalive(events, interval):
                if event is None:
                    yield PING
                    continue
                progress.add(event)
                if isinstance(event, TextDelta):
                    yield ChatEvent("delta", {"text": event.text})
                elif isinstance(event, CitationsReady):
                    citations = [public_citation(stored_citation(c)) for c in event.citations]
                    yield ChatEvent("citations", {"citations": citations})
            message = await _store_answer(
                runtime.sessionmaker, turn, progress, MessageStatus.complete
            )
            stored = True
            cut = (limit is not None and limit.cut) or progress.truncated
            yield _done_event(message, cut=cut)
        except AnswerError as error:
            await _store_answer(
                runtime.sessionmaker, turn, progress, MessageStatus.failed, error.code
            )
            stored = True
            yield _error_event(error)
        except Exception:
            log.exception("chat.answer_crashed", message_id=str(turn.assistant_message_id))
            await _store_answer(
                runtime.sessionmaker, turn, progress, MessageStatus.failed, "internal-error"
            )
            stored = True
            yield _error_event(AnswerError("internal-error"))
        finally:
            if not stored:
                # The consumer left (cancelled or closed early): keep what was said so far.
                with anyio.CancelScope(shield=True):
                    await _store_answer(runtime.sessionmaker, turn, progress, MessageStatus.partial)
