"""The answerer interface: turn a question and retrieved passages into a cited answer.

An answerer is a pure library object: it never touches the database. The chat service
retrieves passages, calls `Answerer.stream`, forwards the events to the client (JSON, SSE
or WebSocket) and stores the result.

Every stream yields, in this order:

1. zero or more `TextDelta` (concatenated they are the answer text),
2. exactly one `CitationsReady` (the sources the text cites, in order of first citation),
3. exactly one `AnswerMeta` (whether the answer is the chatbot's fallback message, and
   whether the model stopped at its token limit),
4. exactly one `Usage` (last event; the model's token counts, or an estimate of them when
   no model reported any: `estimated_usage`).

A provider failure ends the stream by raising `AnswerError` instead.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sitechat.knowledge.chunking import HEADING_SEPARATOR
from sitechat.knowledge.passages import Passage

DEFAULT_FALLBACK_MESSAGE = "Sorry, I couldn't find an answer to that in this site's content."
SNIPPET_MAX_CHARS = 240


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation, oldest first in a history sequence."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class AnswerSettings:
    """The chatbot's answering configuration."""

    instructions: str = ""
    fallback_message: str = DEFAULT_FALLBACK_MESSAGE
    max_answer_chars: int = 1200
    temperature: float = 0.2
    model: str | None = None
    welcome_message: str = ""  # as written: the reply to a visitor's greeting
    # The caller's cap on the answer's tokens (an OpenAI-compatible request's `max_tokens`):
    # an answerer with a model asks it for no more than the lower of this and its own cap.
    max_tokens: int | None = None


@dataclass(frozen=True)
class Citation:
    """A source the answer cites; `number` is the `[n]` marker used in the answer text, `url`
    links to the cited section (`page#anchor`) when the page names it."""

    number: int
    chunk_id: uuid.UUID
    source_id: uuid.UUID
    url: str | None
    title: str
    heading: str
    snippet: str
    # The page the passage was cut from (None for text and Q&A sources): with `source_id`,
    # what tells apart cited pages without a URL, such as a file's pages.
    page_id: uuid.UUID | None = None


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class CitationsReady:
    citations: list[Citation]


@dataclass(frozen=True)
class AnswerMeta:
    """`fallback` is true when the answer is the chatbot's fallback message (nothing found);
    `truncated` when the model stopped at its token limit, mid-answer (OpenAI's
    `finish_reason: "length"`)."""

    fallback: bool
    truncated: bool = False


@dataclass(frozen=True)
class Usage:
    """Token counts as reported by the model, or estimated (`estimated`) when none reported."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    estimated: bool = False


# A BPE tokenizer (OpenAI's cl100k, Llama's) spends about a token per short word or
# punctuation mark and one per ~4 characters of a long word or identifier.
_TOKEN_PIECE = re.compile(r"[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]")
CHARS_PER_LONG_WORD_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """About the tokens a subword tokenizer makes of `text` (5-12% above MiniLM's WordPiece
    count on docs pages, prose and code), for answerers without a tokenizer of their own."""
    return sum(
        max(1, math.ceil(len(piece) / CHARS_PER_LONG_WORD_TOKEN)) if len(piece) > 7 else 1
        for piece in _TOKEN_PIECE.findall(text)
    )


def estimated_usage(
    question: str, passages: Sequence[Passage], answer: str, model: str | None = None
) -> Usage:
    """Usage of an answer no model counted: what was read (the question and the passages) as
    the prompt, what was written as the completion."""
    prompt = estimate_tokens(question) + sum(estimate_tokens(p.text) for p in passages)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=estimate_tokens(answer),
        model=model,
        estimated=True,
    )


AnswerEvent = TextDelta | CitationsReady | AnswerMeta | Usage

AnswerErrorCode = Literal[
    "llm-timeout", "llm-unavailable", "llm-bad-response", "llm-rate-limited", "internal-error"
]

_USER_SAFE_MESSAGES: dict[AnswerErrorCode, str] = {
    "llm-timeout": "The language model took too long to answer. Please try again.",
    "llm-unavailable": "The language model could not be reached. Please try again later.",
    "llm-bad-response": "The language model returned an unusable response.",
    "llm-rate-limited": "The language model is busy right now. Please try again shortly.",
    "internal-error": "The answer could not be produced.",
}

# Upstream trouble is ours to report, not the client's fault: gateway-style statuses. A
# rate-limited model is 503 rather than 429, so it is not confused with the caller's own limit.
_HTTP_STATUSES: dict[AnswerErrorCode, int] = {
    "llm-timeout": 504,
    "llm-unavailable": 503,
    "llm-bad-response": 502,
    "llm-rate-limited": 503,
    "internal-error": 500,
}


class AnswerError(Exception):
    """The answer could not be produced. `code` is stable; `message` is safe to show users."""

    def __init__(self, code: AnswerErrorCode, message: str | None = None) -> None:
        self.code: AnswerErrorCode = code
        self.message = message or _USER_SAFE_MESSAGES[code]
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        """The status an API response should carry for this failure."""
        return _HTTP_STATUSES[self.code]


class Answerer(Protocol):
    # Whether it reads the conversation's history itself (a model does); one that does not is
    # asked a follow-up joined to the visitor's previous question (`chat/context.py`).
    reads_history: bool

    def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        settings: AnswerSettings,
    ) -> AsyncIterator[AnswerEvent]:
        """Stream the answer's events (see the module docstring for their order)."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once at application shutdown."""
        ...


@dataclass(frozen=True)
class CompletedAnswer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    fallback: bool = False


async def collect_answer(
    answerer: Answerer,
    question: str,
    passages: Sequence[Passage],
    history: Sequence[Turn],
    settings: AnswerSettings,
) -> CompletedAnswer:
    """Run a stream to its end and return the whole answer (for non-streaming responses)."""
    parts: list[str] = []
    citations: list[Citation] = []
    usage = Usage()
    fallback = False
    async for event in answerer.stream(question, passages, history, settings):
        match event:
            case TextDelta(text=text):
                parts.append(text)
            case CitationsReady(citations=cited):
                citations = list(cited)
            case AnswerMeta(fallback=is_fallback):
                fallback = is_fallback
            case Usage():
                usage = event
    return CompletedAnswer(text="".join(parts), citations=citations, usage=usage, fallback=fallback)


async def fallback_answer(question: str, settings: AnswerSettings) -> AsyncIterator[AnswerEvent]:
    """The events of an answer that is the chatbot's fallback message (nothing to quote)."""
    yield TextDelta(settings.fallback_message)
    yield CitationsReady([])
    yield AnswerMeta(fallback=True)
    yield estimated_usage(question, [], settings.fallback_message, settings.model)


def shorten(text: str, max_chars: int) -> str:
    """Cut text at a word boundary so that it fits in max_chars, marking the cut with "…"."""
    if len(text) <= max_chars:
        return text
    cut = text[: max(max_chars - 1, 0)]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def make_snippet(text: str, max_chars: int = SNIPPET_MAX_CHARS) -> str:
    """A one-line excerpt for a citation."""
    return shorten(" ".join(text.split()), max_chars)


def citation_for(number: int, passage: Passage, snippet: str) -> Citation:
    return Citation(
        number=number,
        chunk_id=passage.chunk_id,
        source_id=passage.source_id,
        url=passage.link,
        title=page_name(passage.title, passage.heading),
        heading=passage.heading,
        snippet=make_snippet(snippet),
        page_id=passage.page_id,
    )


# Between a page's own name and its site's in a <title>: "Price list | Spoke & Sprocket",
# "heapq — Heap queue algorithm — Python 3.11.2 documentation", "Shop · Prices".
_TITLE_SEPARATOR = r"\s+[|\u2014\u2013\u00b7:-]\s+"  # bar, dashes, dot, colon, hyphen
_SITE_AFTER = re.compile(_TITLE_SEPARATOR + r"\S")
_SITE_BEFORE = re.compile(r"\S" + _TITLE_SEPARATOR + r"$")
_WORDS = re.compile(r"\w+")


def page_name(title: str, heading: str) -> str:
    """The page's title without the site's name beside it, when its top heading (the first of
    the passage's heading path) is the rest, or says all the words of the title's first part
    ("Treatments | Harbourside Dental" under "Our treatments"): a list of citations repeats no
    site name."""
    top = heading.split(HEADING_SEPARATOR, 1)[0].replace("`", "").strip()
    if not top or top == title:
        return title
    if title.startswith(top) and _SITE_AFTER.match(title[len(top) :]):
        return top
    if title.endswith(top) and _SITE_BEFORE.search(title[: -len(top)]):
        return top
    first = re.split(_TITLE_SEPARATOR, title, maxsplit=1)[0]
    if first != title and set(_WORDS.findall(first.lower())) <= set(_WORDS.findall(top.lower())):
        return first
    return title
