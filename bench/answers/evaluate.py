"""Answer quality on the visitor question sets: what a visitor would notice of each answer.

Per set and split (`bench/questions`: tune, holdout and fresh):

- cited-page recall@1 / @5: the share of answerable questions whose first (first five)
  citation(s) link to one of the question's answering pages; a fallback cites nothing;
- answered: the share of answerable questions answered (not the fallback);
- key phrases: the share of answerable questions whose answer holds all of the question's key
  phrases (case-insensitive, Markdown and `[n]` markers stripped, whitespace collapsed);
  "any phrase" counts those holding at least one;
- fallback on unanswerable: the share of unanswerable questions answered with the fallback.

Each question is answered as the chat flow answers it (`chat/answering.py`): the chatbot's
passages from `retrieve`, link lists left out, the evidence rule, then the extractive
answerer. The evidence is kept per question, so the fallback rule's trade-off curve is computed
from the same run (`curve`).
"""

from __future__ import annotations

import re
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.questions import ALL_SETS, Question, QuestionSet
from bench.questions.followups import FOLLOW_UPS, TOPIC_SWITCHES, FollowUp
from bench.retrieval import ingest
from bench.retrieval.evaluate import page_key, percentile
from sitechat.chat.answerer import AnswerSettings, Citation, Turn
from sitechat.chat.context import read_in_context
from sitechat.chat.evidence import Evidence, answer_sources, answerable, evidence_of
from sitechat.chat.extractive import ExtractiveAnswerer
from sitechat.knowledge.dense import DenseRetrieval
from sitechat.knowledge.service import retrieve_for_answer
from sitechat.models.chatbots import Chatbot

SETTINGS = AnswerSettings()
_MARKUP = re.compile(r"`+|\[\d+\]|\*\*?")
_SPACE = re.compile(r"\s+")


def site_of(question_set: QuestionSet) -> str:
    return ingest.site_of(question_set.site_root)


def plain(text: str) -> str:
    return _SPACE.sub(" ", _MARKUP.sub(" ", text)).strip().lower()


def phrase_in(phrase: str, answer: str) -> bool:
    return _SPACE.sub(" ", phrase.lower()).strip() in answer


@dataclass(frozen=True)
class Answered:
    """One question's answer, as the visitor sees it, and the evidence behind it."""

    question: Question
    text: str
    citations: tuple[Citation, ...]
    evidence: Evidence
    composed_fallback: bool  # the answerer itself found nothing to quote
    milliseconds: float

    def fallback(self, close: float | None = None, near: float | None = None) -> bool:
        """Whether the flow answers the fallback (under other thresholds when given)."""
        thresholds = {} if close is None or near is None else {"close": close, "near": near}
        return self.composed_fallback or not answerable(self.evidence, **thresholds)

    def cited_pages(self) -> list[str]:
        return [page_key(urlsplit(c.url or "").path) for c in self.citations]


async def answer_question(
    session: AsyncSession, chatbot: Chatbot, question: Question, dense: DenseRetrieval | None
) -> Answered:
    started = time.perf_counter()
    retrieved = await retrieve_for_answer(session, chatbot, question.text, dense=dense)
    passages = answer_sources(retrieved.passages)
    evidence = evidence_of(passages, retrieved.unfamiliar_terms, retrieved.query)
    # As the chat flow does: the question as retrieval read it (misspellings corrected).
    text, citations = ExtractiveAnswerer().compose(retrieved.query, passages, SETTINGS)
    milliseconds = (time.perf_counter() - started) * 1000
    return Answered(question, text, tuple(citations), evidence, not citations, milliseconds)


async def answer_follow_up(
    session: AsyncSession,
    chatbot: Chatbot,
    item: FollowUp,
    dense: DenseRetrieval | None,
    in_context: bool,
) -> Answered:
    """The conversation's next message answered as the chat flow does (`in_context`: read with
    the visitor's first question, `chat/context.py`), or on its own, as before."""
    question = Question(item.text, item.pages, item.phrases, item.split)
    started = time.perf_counter()
    history = [Turn("user", item.first)] if in_context else []
    reading = await read_in_context(session, chatbot, item.text, history, dense=dense)
    evidence = reading.evidence
    text, citations = ExtractiveAnswerer().compose(reading.query, reading.passages, SETTINGS)
    milliseconds = (time.perf_counter() - started) * 1000
    return Answered(question, text, tuple(citations), evidence, not citations, milliseconds)


async def answer_follow_ups(
    sessionmaker: async_sessionmaker[AsyncSession],
    bots: dict[str, uuid.UUID],
    dense: DenseRetrieval | None,
) -> dict[str, list[Answered]]:
    """Every follow-up and topic switch of the ingested sites, in context and alone, by row
    name."""
    answered: dict[str, list[Answered]] = {}
    kinds = [("follow-ups", item) for item in FOLLOW_UPS]
    kinds += [("topic switches", item) for item in TOPIC_SWITCHES]
    for kind, item in kinds:
        if item.site not in bots:
            continue
        for in_context in (True, False):
            async with sessionmaker() as session:
                chatbot = await session.get(Chatbot, bots[item.site])
                assert chatbot is not None
                answer = await answer_follow_up(session, chatbot, item, dense, in_context)
            name = f"{item.site} {kind}, {'in context' if in_context else 'alone'}"
            answered.setdefault(name, []).append(answer)
    return answered


async def answer_set(
    sessionmaker: async_sessionmaker[AsyncSession],
    chatbot_id: uuid.UUID,
    question_set: QuestionSet,
    dense: DenseRetrieval | None,
) -> list[Answered]:
    """Every question of the set, one session each (as a request has)."""
    answered = []
    for question in question_set.questions:
        async with sessionmaker() as session:
            chatbot = await session.get(Chatbot, chatbot_id)
            assert chatbot is not None
            answered.append(await answer_question(session, chatbot, question, dense))
    return answered


@dataclass
class Tally:
    answerable: int = 0
    unanswerable: int = 0
    cited_at_1: int = 0
    cited_at_5: int = 0
    answered: int = 0
    all_phrases: int = 0
    any_phrase: int = 0
    fallbacks_on_unanswerable: int = 0
    milliseconds: list[float] = field(default_factory=list)

    def add(self, item: Answered, close: float | None = None, near: float | None = None) -> None:
        self.milliseconds.append(item.milliseconds)
        fallback = item.fallback(close, near)
        if not item.question.answerable:
            self.unanswerable += 1
            self.fallbacks_on_unanswerable += fallback
            return
        self.answerable += 1
        if fallback:
            return
        self.answered += 1
        pages = {page_key(p) for p in item.question.pages}
        cited = item.cited_pages()
        self.cited_at_1 += bool(cited[:1] and cited[0] in pages)
        self.cited_at_5 += bool(pages & set(cited[:5]))
        text = plain(item.text)
        found = [phrase_in(phrase, text) for phrase in item.question.phrases]
        self.all_phrases += all(found)
        self.any_phrase += any(found)

    def share(self, count: int, of_unanswerable: bool = False) -> float:
        total = self.unanswerable if of_unanswerable else self.answerable
        return count / total if total else 0.0

    def row(self) -> dict[str, float | int]:
        return {
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "cited_recall_at_1": self.share(self.cited_at_1),
            "cited_recall_at_5": self.share(self.cited_at_5),
            "answered": self.share(self.answered),
            "key_phrases_all": self.share(self.all_phrases),
            "key_phrases_any": self.share(self.any_phrase),
            "fallback_on_unanswerable": self.share(self.fallbacks_on_unanswerable, True),
            "p50_ms": statistics.median(self.milliseconds) if self.milliseconds else 0.0,
            "p99_ms": percentile(self.milliseconds, 0.99) if self.milliseconds else 0.0,
        }


def tally(
    answers: Sequence[Answered], close: float | None = None, near: float | None = None
) -> dict[str, Tally]:
    by_split: dict[str, Tally] = {}
    for item in answers:
        by_split.setdefault(item.question.split, Tally()).add(item, close, near)
    return by_split


CLOSE_GRID = [round(0.25 + 0.025 * i, 3) for i in range(13)]  # 0.25 .. 0.55
NEAR_GRID = [round(0.15 + 0.025 * i, 3) for i in range(11)]  # 0.15 .. 0.40


def curve(answers: Sequence[Answered], split: str) -> list[dict[str, float]]:
    """For every (close, near) pair: answered share of answerable, fallback share of
    unanswerable, on one split of all sets together."""
    chosen = [a for a in answers if a.question.split == split]
    points = []
    for close in CLOSE_GRID:
        for near in NEAR_GRID:
            if near > close:
                continue
            t = Tally()
            for item in chosen:
                t.add(item, close, near)
            points.append(
                {
                    "close": close,
                    "near": near,
                    "answered": t.share(t.answered),
                    "cited_at_5": t.share(t.cited_at_5),
                    "fallback_on_unanswerable": t.share(t.fallbacks_on_unanswerable, True),
                }
            )
    return points


def frontier(points: Sequence[dict[str, float]]) -> list[dict[str, float]]:
    """The points no other point beats on both answered and fallback-on-unanswerable."""
    best: dict[float, dict[str, float]] = {}
    for point in points:
        key = point["fallback_on_unanswerable"]
        if key not in best or point["answered"] > best[key]["answered"]:
            best[key] = point
    kept, top = [], -1.0
    for key in sorted(best, reverse=True):
        if best[key]["answered"] > top:
            kept.append(best[key])
            top = best[key]["answered"]
    return kept


def question_sets() -> tuple[QuestionSet, ...]:
    return ALL_SETS
