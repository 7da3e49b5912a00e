"""Recall of retrieved pages on the question sets, per set and split, and retrieval latency.

recall@k: the share of answerable questions for which one of the question's answering pages is
among the pages of the first k passages `retrieve` returns (the passages an answerer reads; at
most two per page). Latency: `retrieve` in process, one session per question as a request has,
after a warm-up round.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.chat.eval_questions import ANSWERABLE as OLD_ANSWERABLE
from bench.questions import ALL_SETS
from bench.retrieval.ingest import site_of
from sitechat.knowledge.passages import Passage
from sitechat.models.chatbots import Chatbot

Ranker = Callable[[AsyncSession, Chatbot, str, int], Awaitable[list[Passage]]]
CUTOFFS = (1, 5, 10)
DEPTH = 10


@dataclass(frozen=True)
class Probe:
    """One answerable question: its text, the pages (site paths) that answer it, its split."""

    text: str
    pages: frozenset[str]
    split: str


@dataclass(frozen=True)
class ProbeSet:
    name: str
    site: str  # which ingested site it asks
    probes: tuple[Probe, ...]


def page_key(path: str) -> str:
    """A page's site path without `index.html` or a trailing slash (the crawler's canonical
    form drops them)."""
    return path.lstrip("/").removesuffix("index.html").rstrip("/")


def probe_sets() -> list[ProbeSet]:
    sets = []
    for question_set in ALL_SETS:
        site = site_of(question_set.site_root)
        probes = tuple(
            Probe(q.text, frozenset(page_key(p) for p in q.pages), q.split)
            for q in question_set.answerable
        )
        if probes:
            sets.append(ProbeSet(question_set.name, site, probes))
    old = tuple(
        Probe(q.question, frozenset(page_key(p) for p in q.pages), "docs-worded")
        for q in OLD_ANSWERABLE
    )
    sets.append(ProbeSet("python-eval-questions (docs' wording)", "python", old))
    return sets


def pages_of(passages: Sequence[Passage]) -> list[str]:
    return [page_key(urlsplit(passage.url or "").path) for passage in passages]


@dataclass
class Recall:
    asked: int = 0
    hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CUTOFFS, 0))
    misses: list[str] = field(default_factory=list)

    def add(self, probe: Probe, pages: list[str]) -> None:
        self.asked += 1
        for k in CUTOFFS:
            self.hits[k] += bool(probe.pages & set(pages[:k]))
        if not probe.pages & set(pages[:5]):
            self.misses.append(probe.text)

    def at(self, k: int) -> float:
        return self.hits[k] / self.asked if self.asked else 0.0


async def recall(
    sessionmaker: async_sessionmaker[AsyncSession],
    chatbot_id: uuid.UUID,
    probes: Sequence[Probe],
    rank: Ranker,
) -> dict[str, Recall]:
    """Recall per split of `probes` against one chatbot."""
    by_split: dict[str, Recall] = {}
    async with sessionmaker() as session:
        chatbot = await session.get(Chatbot, chatbot_id)
        assert chatbot is not None
        for probe in probes:
            passages = await rank(session, chatbot, probe.text, DEPTH)
            by_split.setdefault(probe.split, Recall()).add(probe, pages_of(passages))
    return by_split


def percentile(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def latencies(
    sessionmaker: async_sessionmaker[AsyncSession],
    chatbot_id: uuid.UUID,
    questions: Sequence[str],
    rank: Ranker,
    limit: int = 8,
) -> list[float]:
    """Milliseconds per retrieval, one session per question; the first round only warms."""
    samples = []
    for round_index in range(2):
        for question in questions:
            async with sessionmaker() as session:
                chatbot = await session.get(Chatbot, chatbot_id)
                assert chatbot is not None
                started = time.perf_counter()
                await rank(session, chatbot, question, limit)
                if round_index == 1:
                    samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: Sequence[float]) -> tuple[float, float]:
    return statistics.median(samples), percentile(samples, 0.99)
