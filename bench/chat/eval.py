"""Answer quality on the python3.11-doc site, crawled through the real pipeline.

Every question of `eval_questions` is asked through the HTTP API (a new conversation each, so
no history leaks between questions). Reported:

- recall@1 / recall@5 of the answer's cited pages (the first citation / any of the first five
  is a page that answers the question), and the same of retrieval itself (the distinct pages
  of `sitechat.knowledge.service.retrieve`'s passages, best first);
- key-fact hit rate: the answer is not the fallback and contains one of the question's facts;
- for unanswerable questions, the rate at which the answer is the fallback (1.0 = nothing
  invented), and for answerable ones, the rate of needless fallbacks;
- a sweep of `ExtractiveAnswerer(min_coverage=...)` over the same retrieved passages, so the
  threshold's trade-off between answering and refusing is measured, not guessed;
- the retrieval variants of `retrieval_variants.py` on the same questions (tuning proposals).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.chat.eval_questions import ANSWERABLE, UNANSWERABLE, EvalQuestion
from bench.chat.retrieval_variants import VARIANTS
from sitechat.chat.answerer import AnswerSettings
from sitechat.chat.extractive import MIN_COVERAGE, ExtractiveAnswerer
from sitechat.knowledge.passages import Passage
from sitechat.knowledge.service import retrieve
from sitechat.models.chatbots import Chatbot

COVERAGE_SWEEP = (0.4, 0.45, 0.5, MIN_COVERAGE, 0.6, 0.65, 0.7)


def page_key(path: str) -> str:
    """A page's site path without `index.html` or a trailing slash (the crawler's canonical
    form drops them), so `installing/index.html` and a cited `/installing` compare equal."""
    return path.lstrip("/").removesuffix("index.html").rstrip("/")


def page_path(url: str | None) -> str:
    return page_key(urlsplit(url or "").path)


def distinct_pages(urls: Sequence[str | None]) -> list[str]:
    pages: list[str] = []
    for url in urls:
        path = page_path(url)
        if path not in pages:
            pages.append(path)
    return pages


def contains_fact(answer: str, question: EvalQuestion) -> bool:
    lowered = answer.lower()
    return any(fact.lower() in lowered for fact in question.key_facts)


@dataclass
class Tally:
    """Counts over a question set; rates are of `asked`."""

    asked: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    misses: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, hit: bool, question: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + int(hit)
        if not hit:
            self.misses.setdefault(name, []).append(question)

    def rate(self, name: str) -> float:
        return self.counts.get(name, 0) / self.asked if self.asked else 0.0


async def ask(
    http: httpx.AsyncClient, headers: dict[str, str], chatbot_id: str, question: str
) -> dict[str, object]:
    conversation = await http.post(
        f"/v1/chatbots/{chatbot_id}/conversations", json={}, headers=headers
    )
    conversation.raise_for_status()
    answer = await http.post(
        f"/v1/conversations/{conversation.json()['id']}/messages",
        json={"content": question},
        headers=headers,
    )
    answer.raise_for_status()
    body: dict[str, object] = answer.json()
    return body


async def evaluate(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    chatbot_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[str, object]:
    answerable, unanswerable = Tally(asked=len(ANSWERABLE)), Tally(asked=len(UNANSWERABLE))
    passages_of: dict[str, list[Passage]] = {}
    async with sessionmaker() as session:
        chatbot = await session.get(Chatbot, uuid.UUID(chatbot_id))
        assert chatbot is not None
        for question in [q.question for q in ANSWERABLE] + list(UNANSWERABLE):
            passages_of[question] = await retrieve(session, chatbot, question, dense=None)

    for item in ANSWERABLE:
        answer = await ask(http, headers, chatbot_id, item.question)
        citations = answer["citations"]
        assert isinstance(citations, list)
        cited = distinct_pages([citation["url"] for citation in citations])
        retrieved = distinct_pages([passage.url for passage in passages_of[item.question]])
        expected = {page_key(page) for page in item.pages}
        answerable.add("cited@1", bool(cited[:1]) and cited[0] in expected, item.question)
        answerable.add("cited@5", bool(expected & set(cited[:5])), item.question)
        answerable.add(
            "retrieved@1", bool(retrieved[:1]) and retrieved[0] in expected, item.question
        )
        answerable.add("retrieved@5", bool(expected & set(retrieved[:5])), item.question)
        answerable.add("fallback", bool(answer["fallback"]), item.question)
        fact = not answer["fallback"] and contains_fact(str(answer["content"]), item)
        answerable.add("key_fact", fact, item.question)
    for question in UNANSWERABLE:
        answer = await ask(http, headers, chatbot_id, question)
        unanswerable.add("fallback", bool(answer["fallback"]), question)

    sweep = coverage_sweep(passages_of)
    variants = await compare_retrieval_variants(sessionmaker, uuid.UUID(chatbot_id))
    return {
        "answerable": len(ANSWERABLE),
        "unanswerable": len(UNANSWERABLE),
        "recall_at_1_cited": answerable.rate("cited@1"),
        "recall_at_5_cited": answerable.rate("cited@5"),
        "recall_at_1_retrieved": answerable.rate("retrieved@1"),
        "recall_at_5_retrieved": answerable.rate("retrieved@5"),
        "key_fact_rate": answerable.rate("key_fact"),
        "answerable_fallback_rate": answerable.rate("fallback"),
        "unanswerable_fallback_rate": unanswerable.rate("fallback"),
        "misses": {
            "retrieved@5": answerable.misses.get("retrieved@5", []),
            "cited@5": answerable.misses.get("cited@5", []),
            "key_fact": answerable.misses.get("key_fact", []),
            "unanswerable_answered": unanswerable.misses.get("fallback", []),
        },
        "min_coverage_sweep": sweep,
        "retrieval_variants": variants,
    }


async def compare_retrieval_variants(
    sessionmaker: async_sessionmaker[AsyncSession], chatbot_id: uuid.UUID
) -> list[dict[str, object]]:
    """Recall, key facts (extractive answerer over the variant's passages) and latency."""
    settings, answerer = AnswerSettings(), ExtractiveAnswerer()
    rows: list[dict[str, object]] = []
    async with sessionmaker() as session:
        chatbot = await session.get(Chatbot, chatbot_id)
        assert chatbot is not None
        for name, rank in VARIANTS.items():
            await rank(session, chatbot, ANSWERABLE[0].question)  # warm-up (idf: its stats)
            tally, latencies = Tally(asked=len(ANSWERABLE)), []
            for item in ANSWERABLE:
                started = time.perf_counter()
                passages = await rank(session, chatbot, item.question)
                latencies.append((time.perf_counter() - started) * 1000)
                pages = distinct_pages([passage.url for passage in passages])
                expected = {page_key(page) for page in item.pages}
                tally.add("@1", bool(pages[:1]) and pages[0] in expected, item.question)
                tally.add("@5", bool(expected & set(pages[:5])), item.question)
                answer, citations = answerer.compose(item.question, passages, settings)
                tally.add("fact", bool(citations) and contains_fact(answer, item), item.question)
            refused = 0
            for question in UNANSWERABLE:
                passages = await rank(session, chatbot, question)
                refused += not answerer.compose(question, passages, settings)[1]
            rows.append(
                {
                    "variant": name,
                    "recall_at_1": tally.rate("@1"),
                    "recall_at_5": tally.rate("@5"),
                    "key_fact_rate": tally.rate("fact"),
                    "unanswerable_fallback_rate": refused / len(UNANSWERABLE),
                    "p50_ms": statistics.median(latencies),
                    "max_ms": max(latencies),
                    "misses_at_5": tally.misses.get("@5", []),
                }
            )
    return rows


def coverage_sweep(passages_of: dict[str, list[Passage]]) -> list[dict[str, float]]:
    """Key-fact rate and fallback rates of the extractive answerer at several thresholds."""
    settings = AnswerSettings()
    rows = []
    for threshold in COVERAGE_SWEEP:
        answerer = ExtractiveAnswerer(min_coverage=threshold)
        facts = refusals = 0
        for item in ANSWERABLE:
            text, citations = answerer.compose(item.question, passages_of[item.question], settings)
            refusals += not citations
            facts += bool(citations) and contains_fact(text, item)
        invented = sum(
            bool(answerer.compose(question, passages_of[question], settings)[1])
            for question in UNANSWERABLE
        )
        rows.append(
            {
                "min_coverage": threshold,
                "key_fact_rate": facts / len(ANSWERABLE),
                "answerable_fallback_rate": refusals / len(ANSWERABLE),
                "unanswerable_fallback_rate": 1 - invented / len(UNANSWERABLE),
            }
        )
    return rows


def table(result: dict[str, object]) -> str:
    lines = [
        f"Answer quality: {result['answerable']} answerable and {result['unanswerable']} "
        "unanswerable questions about python3.11-doc, asked through the API.",
        "",
        "| metric | value | aim |",
        "| --- | ---: | --- |",
        f"| recall@1, cited pages | {result['recall_at_1_cited']:.2f} | |",
        f"| recall@5, cited pages | {result['recall_at_5_cited']:.2f} | >= 0.9 |",
        f"| recall@1, retrieved pages | {result['recall_at_1_retrieved']:.2f} | |",
        f"| recall@5, retrieved pages | {result['recall_at_5_retrieved']:.2f} | >= 0.9 |",
        f"| key fact in the answer | {result['key_fact_rate']:.2f} | |",
        f"| answerable questions given the fallback | {result['answerable_fallback_rate']:.2f} | |",
        f"| unanswerable questions given the fallback | {result['unanswerable_fallback_rate']:.2f}"
        " | 1.00 (nothing invented) |",
        "",
        "| min_coverage | key fact | answerable -> fallback | unanswerable -> fallback |",
        "| ---: | ---: | ---: | ---: |",
    ]
    sweep = result["min_coverage_sweep"]
    assert isinstance(sweep, list)
    for row in sweep:
        marker = " (current)" if row["min_coverage"] == MIN_COVERAGE else ""
        lines.append(
            f"| {row['min_coverage']:.2f}{marker} | {row['key_fact_rate']:.2f} | "
            f"{row['answerable_fallback_rate']:.2f} | {row['unanswerable_fallback_rate']:.2f} |"
        )
    lines += [
        "",
        "| retrieval variant | recall@1 | recall@5 | key fact | unanswerable -> fallback "
        "| p50 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    variants = result["retrieval_variants"]
    assert isinstance(variants, list)
    for row in variants:
        lines.append(
            f"| {row['variant']} | {row['recall_at_1']:.2f} | {row['recall_at_5']:.2f} | "
            f"{row['key_fact_rate']:.2f} | {row['unanswerable_fallback_rate']:.2f} | "
            f"{row['p50_ms']:.1f} | {row['max_ms']:.1f} |"
        )
    return "\n".join(lines)
