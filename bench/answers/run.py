"""bench/answers: answers fit to show a visitor, on the visitor question sets.

One run (`make bench BENCH=answers`):

1. The crawl of bench/retrieval (`bench/retrieval/ingest.py`): a fresh database, a
   `sitechat serve` subprocess at default settings crawling the Python 3.11 docs and the
   PostgreSQL 15 docs on loopback, each into its own chatbot, until their vectors are complete.
2. Every question of both visitor sets answered in process as the chat flow answers it
   (`evaluate.py`): cited-page recall@1/@5, answered share, key phrases, fallback rate on
   unanswerable questions, per set and split (tune, holdout, fresh), and the trade-off curve of
   the "I don't know" rule over its two thresholds (tune, then the same points on holdout and
   fresh).
3. End to end: every question through `POST /v1/conversations/{id}/messages` on the running
   server (the extractive answerer; retrieval, storing the question and the answer, the
   commit), sequential requests over keep-alive: answer p50 / p99.

`python -m bench.answers.run --database URL` skips 1 and 3 and answers from a database a
previous ingest filled (`python -m bench.retrieval.ingest URL`); `--show N` prints the first N
answers of each set (`--show-all` every one), as a visitor would read them, except the fresh
split's: nobody reads those, so that nobody tunes on them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bench.answers import evaluate
from bench.answers.evaluate import Answered
from bench.common import bench_database
from bench.crawl.pipeline import migrate, register_account, sitechat_server
from bench.questions import split_rank
from bench.retrieval.evaluate import percentile
from bench.retrieval.ingest import SITES, ingest_site, served_sites
from sitechat.chat.evidence import CLOSE, NEAR
from sitechat.config import Settings
from sitechat.core.db import async_url
from sitechat.knowledge.dense import start_dense_retrieval, stop_dense_retrieval

TARGETS = {
    "python": {"cited_recall_at_5": 0.85, "key_phrases_all": 0.6},
    "postgres": {"cited_recall_at_5": 0.80, "key_phrases_all": 0.5},
}
TARGET_FALLBACK = 0.9
# The set names' sites (the targets are the two documentation sites').
SET_SITES = {qs.name: evaluate.site_of(qs) for qs in evaluate.question_sets()}
TARGET_P50_MS = 100.0


async def _chatbot_ids(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, uuid.UUID]:
    """The ingest's chatbots ("python docs", "postgres docs"), newest of each name."""
    async with sessionmaker() as session:
        rows = await session.execute(
            text("SELECT DISTINCT ON (name) name, id FROM chatbots ORDER BY name, created_at DESC")
        )
        return {name.split()[0]: chatbot_id for name, chatbot_id in rows.all()}


Answers = dict[str, list[Answered]]


async def answer_all(
    database_url: str, lexical: bool = False, sites: Sequence[str] | None = None
) -> tuple[Answers, Answers]:
    """The question sets' answers, and the small sites' follow-ups in context and alone."""
    engine = create_async_engine(async_url(database_url), pool_size=2)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    dense = None if lexical else await start_dense_retrieval(engine, Settings().embedding)
    try:
        bots = await _chatbot_ids(sessionmaker)
        answers = {}
        for question_set in evaluate.question_sets():
            if evaluate.site_of(question_set) not in bots or (
                sites is not None and evaluate.site_of(question_set) not in sites
            ):
                continue
            bot = bots[evaluate.site_of(question_set)]
            # The first round warms caches and plans.
            await evaluate.answer_set(sessionmaker, bot, question_set, dense)
            answers[question_set.name] = await evaluate.answer_set(
                sessionmaker, bot, question_set, dense
            )
        wanted = {site: bot for site, bot in bots.items() if sites is None or site in sites}
        follow_ups = await evaluate.answer_follow_ups(sessionmaker, wanted, dense)
        return answers, follow_ups
    finally:
        await stop_dense_retrieval(dense)
        await engine.dispose()


def http_latencies(
    base_url: str, headers: dict[str, str], bots: dict[str, str]
) -> dict[str, dict[str, float]]:
    """Each question asked through the API, in a conversation of its own; milliseconds."""
    latencies: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base_url, timeout=60) as http:
        for question_set in evaluate.question_sets():
            bot = bots[evaluate.site_of(question_set)]
            samples = []
            for question in question_set.questions:
                conversation = http.post(
                    f"/v1/chatbots/{bot}/conversations", json={}, headers=headers
                )
                conversation.raise_for_status()
                started = time.perf_counter()
                answer = http.post(
                    f"/v1/conversations/{conversation.json()['id']}/messages",
                    json={"content": question.text},
                    headers=headers,
                )
                samples.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()
            latencies[question_set.name] = {
                "questions": len(samples),
                "p50_ms": statistics.median(samples),
                "p99_ms": percentile(samples, 0.99),
            }
    return latencies


def ingest_and_ask(database_url: str) -> tuple[Answers, Answers, dict[str, Any]]:
    """The full run: crawl both sites through a server, answer in process, then through it."""
    migrate(database_url)
    with (
        served_sites() as bases,
        sitechat_server(database_url, crawl_concurrency=None) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        headers = register_account(http)
        bots = {}
        for site in SITES:
            ingested = ingest_site(http, headers, site, bases[site.name], database_url, True)
            print(f"  {ingested}", flush=True)
            bots[site.name] = ingested.chatbot_id
        answers, follow_ups = asyncio.run(answer_all(database_url))
        http_latencies(server.base_url, headers, bots)  # a warm-up round
        latency = http_latencies(server.base_url, headers, bots)
    return answers, follow_ups, latency


def _figure(value: float, target: float | None, lower_is_better: bool = False) -> str:
    if target is None:
        return f"{value:.2f}"
    met = value <= target if lower_is_better else value >= target
    return f"{value:.2f}{'' if met else ' (!)'}"


def _rows_by_split(items: list[Answered]) -> list[tuple[str, dict[str, Any]]]:
    """One set's figures per split, in report order (tune, holdout, fresh)."""
    tallies = sorted(evaluate.tally(items).items(), key=lambda kv: split_rank(kv[0]))
    return [(split, dict(tally.row())) for split, tally in tallies]


def report(answers: dict[str, list[Answered]], latency: dict[str, Any] | None) -> str:
    lines = [
        f"I-don't-know rule: close >= {CLOSE}, or near >= {NEAR} with agreement.",
        "",
        "| set | split | answerable / unanswerable | cited@1 | cited@5 | answered | "
        "key phrases (all) | (any) | fallback on unanswerable | in-process p50 / p99 ms |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, items in answers.items():
        targets = TARGETS.get(SET_SITES.get(name, ""), {})
        for split, row in _rows_by_split(items):
            lines.append(
                f"| {name} | {split} | {row['answerable']} / {row['unanswerable']} | "
                f"{row['cited_recall_at_1']:.2f} | "
                f"{_figure(row['cited_recall_at_5'], targets.get('cited_recall_at_5'))} | "
                f"{row['answered']:.2f} | "
                f"{_figure(row['key_phrases_all'], targets.get('key_phrases_all'))} | "
                f"{row['key_phrases_any']:.2f} | "
                f"{_figure(row['fallback_on_unanswerable'], TARGET_FALLBACK)} | "
                f"{row['p50_ms']:.0f} / {row['p99_ms']:.0f} |"
            )
    lines.append(
        f"\nTargets: cited@5 >= {TARGETS['python']['cited_recall_at_5']} (Python) / "
        f"{TARGETS['postgres']['cited_recall_at_5']} (PostgreSQL); key phrases >= "
        f"{TARGETS['python']['key_phrases_all']} / {TARGETS['postgres']['key_phrases_all']}; "
        f"fallback on unanswerable >= {TARGET_FALLBACK}; answer p50 < {TARGET_P50_MS:.0f} ms "
        "end to end. (!) marks a miss."
    )
    if latency:
        lines += [
            "",
            "| end to end (POST /v1/conversations/{id}/messages) | questions | p50 ms | p99 ms |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, figures in latency.items():
            lines.append(
                f"| {name} | {figures['questions']} | "
                f"{_figure(figures['p50_ms'], TARGET_P50_MS, lower_is_better=True)} | "
                f"{figures['p99_ms']:.0f} |"
            )
    everything = [item for items in answers.values() for item in items]
    lines += [
        "",
        "Trade-off of the I-don't-know rule, both sets together (the tune split's frontier; "
        "the same thresholds on holdout and fresh):",
        "",
        "| close | near | tune answered | tune fallback on unanswerable | tune cited@5 | "
        "holdout answered | holdout fallback on unanswerable | "
        "fresh answered | fresh fallback on unanswerable |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    holdout = {(p["close"], p["near"]): p for p in evaluate.curve(everything, "holdout")}
    fresh = {(p["close"], p["near"]): p for p in evaluate.curve(everything, "fresh")}
    for point in evaluate.frontier(evaluate.curve(everything, "tune")):
        other = holdout[(point["close"], point["near"])]
        unseen = fresh[(point["close"], point["near"])]
        chosen = " (chosen)" if (point["close"], point["near"]) == (CLOSE, NEAR) else ""
        lines.append(
            f"| {point['close']:.3f}{chosen} | {point['near']:.3f} | {point['answered']:.2f} | "
            f"{point['fallback_on_unanswerable']:.2f} | {point['cited_at_5']:.2f} | "
            f"{other['answered']:.2f} | {other['fallback_on_unanswerable']:.2f} | "
            f"{unseen['answered']:.2f} | {unseen['fallback_on_unanswerable']:.2f} |"
        )
    return "\n".join(lines)


def report_follow_ups(follow_ups: Answers) -> str:
    """The small sites' two-turn conversations (bench/questions/followups.py): the next
    message read with the first question, as the chat flow does, and alone, as before."""
    lines = [
        "Follow-ups (a first question, then the next message): in context vs alone",
        "",
        "| conversations | split | answerable / unanswerable | cited@1 | cited@5 | answered | "
        "key phrases (all) | fallback on unanswerable |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, items in follow_ups.items():
        for split, row in _rows_by_split(items):
            lines.append(
                f"| {name} | {split} | {row['answerable']} / {row['unanswerable']} | "
                f"{row['cited_recall_at_1']:.2f} | {row['cited_recall_at_5']:.2f} | "
                f"{row['answered']:.2f} | {row['key_phrases_all']:.2f} | "
                f"{row['fallback_on_unanswerable']:.2f} |"
            )
    return "\n".join(lines)


def show(answers: dict[str, list[Answered]], count: int | None) -> None:
    for name, everything in answers.items():
        items = [item for item in everything if item.question.split != "fresh"]
        for item in items[:count] if count is not None else items:
            evidence = item.evidence
            closeness = "-" if evidence.closeness is None else f"{evidence.closeness:.2f}"
            print(f"\n### [{name} {item.question.split}] {item.question.text}")
            print(
                f"(expected {' '.join(item.question.pages) or 'fallback'}; phrases "
                f"{item.question.phrases}; closeness {closeness}, agreement "
                f"{evidence.agreement}; fallback {item.fallback()})"
            )
            print(item.text)
            for citation in item.citations:
                print(f"  [{citation.number}] {citation.url}  ({citation.heading})")


def main(argv: Sequence[str] = ()) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="bench.answers.run")
    parser.add_argument("--database", help="answer from this already ingested database")
    parser.add_argument("--show", type=int, default=0, help="print the first N answers per set")
    parser.add_argument("--show-all", action="store_true", help="print every answer")
    parser.add_argument("--lexical", action="store_true", help="without dense retrieval")
    parser.add_argument(
        "--site",
        action="append",
        help="only this site's sets (python, postgres, or a small site's name: helpcenter...)",
    )
    args = parser.parse_args(list(argv))
    latency = None
    if args.database:
        answers, follow_ups = asyncio.run(answer_all(args.database, args.lexical, args.site))
    else:
        for site in SITES:
            if not site.root.is_dir():
                raise SystemExit(f"bench/answers needs {site.root}: make bench-deps")
        with (
            tempfile.TemporaryDirectory(prefix="sitechat-bench-") as scratch,
            bench_database(Path(scratch), "sitechat_bench_answers") as database_url,
        ):
            answers, follow_ups, latency = ingest_and_ask(database_url)
    if args.show or args.show_all:
        show(answers, None if args.show_all else args.show)
    table = report(answers, latency) + "\n\n" + report_follow_ups(follow_ups)
    print(table)
    rows = {
        name: {split: t.row() for split, t in evaluate.tally(items).items()}
        for name, items in {**answers, **follow_ups}.items()
    }
    return {"table": table, "results": {"answers": rows, "latency": latency}}


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
