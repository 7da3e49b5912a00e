"""bench/retrieval: recall of retrieved pages on visitor-phrased questions, and its latency.

One run (`make bench BENCH=retrieval`):

1. A fresh database (the embedded PostgreSQL 18 with pgvector, or `BENCH_DATABASE_URL`'s
   server) and a `sitechat serve` subprocess at default settings crawl the Python 3.11 docs
   (Debian `python3.11-doc`) and the PostgreSQL 15 docs (`postgresql-doc-15`), served on
   loopback, each into its own chatbot; ingest time is split into the crawl and the vectors
   (from the crawl's end until every chunk has one; the default local embedder).
2. recall@1/5/10 of the pages of `retrieve`'s passages, per question set and split
   (`bench/questions`: tune, holdout and fresh; `bench/chat/eval_questions.py` in the docs' own
   wording), for three rankings over the same chunks: the default (hybrid where the database
   has pgvector), lexical only (what a PostgreSQL server without pgvector answers with) and
   plain BM25 computed exactly in Python (`reference.py`), the bar the lexical ranking must
   reach.
3. Latency of `retrieve` in process (one session per question, after a warm-up round) on both
   crawled chatbots, and on a third chatbot of 100,000 chunks (the Python docs' chunks
   replicated with perturbed text, as `bench/chat` does; lexical there, since the copies get
   no vectors).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bench.chat.run import replicate_chunks
from bench.common import bench_database
from bench.crawl.pipeline import create_chatbot, register_account, sitechat_server
from bench.questions import split_rank
from bench.retrieval import evaluate
from bench.retrieval.ingest import SITES, Ingested, ingest_all
from bench.retrieval.reference import plain_bm25
from sitechat.config import Settings
from sitechat.core.db import async_url
from sitechat.knowledge.dense import (
    DenseRetrieval,
    start_dense_retrieval,
    stop_dense_retrieval,
)
from sitechat.knowledge.passages import Passage
from sitechat.knowledge.service import retrieve
from sitechat.models.chatbots import Chatbot

TARGET_CHUNKS = 100_000
TARGETS = {"python": 0.90, "postgres": 0.85}
TARGET_LATENCY_MS = (30.0, 150.0)


def _ranker(dense: DenseRetrieval | None) -> evaluate.Ranker:
    """`retrieve` with this dense retrieval (None: lexical only)."""

    async def rank(
        session: AsyncSession, chatbot: Chatbot, question: str, limit: int
    ) -> list[Passage]:
        return await retrieve(session, chatbot, question, limit, dense=dense)

    return rank


async def _recalls(
    sessionmaker: async_sessionmaker[AsyncSession],
    bots: dict[str, uuid.UUID],
    dense: DenseRetrieval | None,
) -> list[dict[str, object]]:
    rankers: list[tuple[str, evaluate.Ranker]] = []
    if dense is not None:
        rankers.append(("hybrid (default)", _ranker(dense)))
    rankers += [("lexical", _ranker(None)), ("plain BM25 (reference)", plain_bm25)]
    rows: list[dict[str, object]] = []
    for probe_set in evaluate.probe_sets():
        for name, rank in rankers:
            by_split = await evaluate.recall(
                sessionmaker, bots[probe_set.site], probe_set.probes, rank
            )
            for split, tally in sorted(by_split.items(), key=lambda item: split_rank(item[0])):
                rows.append(
                    {
                        "set": probe_set.name,
                        "site": probe_set.site,
                        "split": split,
                        "ranking": name,
                        "questions": tally.asked,
                        **{f"recall_at_{k}": tally.at(k) for k in evaluate.CUTOFFS},
                        # Only tuned-on questions' misses are printed: reading the others
                        # would be tuning on them.
                        "misses_at_5": tally.misses if split not in ("holdout", "fresh") else [],
                    }
                )
    return rows


def _questions(site: str) -> list[str]:
    return [
        probe.text
        for probe_set in evaluate.probe_sets()
        if probe_set.site == site
        for probe in probe_set.probes
    ]


async def _latency(
    sessionmaker: async_sessionmaker[AsyncSession],
    chatbot_id: uuid.UUID,
    questions: Sequence[str],
    dense: DenseRetrieval | None,
) -> dict[str, float]:
    samples = await evaluate.latencies(sessionmaker, chatbot_id, questions, _ranker(dense))
    p50, p99 = evaluate.summary(samples)
    return {"questions": len(samples), "p50_ms": p50, "p99_ms": p99}


async def _large_chatbot(engine: AsyncEngine, base_url: str, source: uuid.UUID) -> uuid.UUID:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        headers = register_account(http)
        large = create_chatbot(http, headers, "Python docs x 10")
        http.post(
            f"/v1/chatbots/{large}/sources",
            json={"kind": "text", "title": "About", "content": "Replicated documentation."},
            headers=headers,
        ).raise_for_status()
    await replicate_chunks(engine, source, uuid.UUID(large), TARGET_CHUNKS)
    return uuid.UUID(large)


async def measure(database_url: str, ingested: list[Ingested], base_url: str) -> dict[str, object]:
    engine = create_async_engine(async_url(database_url), pool_size=5)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    dense = await start_dense_retrieval(engine, Settings().embedding)
    try:
        bots = {item.site: uuid.UUID(item.chatbot_id) for item in ingested}
        recalls = await _recalls(sessionmaker, bots, dense)
        latency = {
            site: await _latency(sessionmaker, bot, _questions(site), dense)
            for site, bot in bots.items()
        }
        started = time.perf_counter()
        large = await _large_chatbot(engine, base_url, bots["python"])
        print(f"  {TARGET_CHUNKS} chunks in {time.perf_counter() - started:.0f} s", flush=True)
        questions = _questions("python") + _questions("postgres")
        latency["python x 100k chunks"] = await _latency(sessionmaker, large, questions, dense)
    finally:
        await stop_dense_retrieval(dense)
        await engine.dispose()
    return {
        "dense": dense is not None,
        "model": dense.embedder.model_name if dense is not None else None,
        "ingest": [item.__dict__ for item in ingested],
        "recall": recalls,
        "latency": latency,
    }


def report(result: dict[str, object]) -> str:
    ingest = result["ingest"]
    recall = result["recall"]
    latency = result["latency"]
    assert isinstance(ingest, list) and isinstance(recall, list) and isinstance(latency, dict)
    lines = [
        f"Dense retrieval: {'on, ' + str(result['model']) if result['dense'] else 'off'}.",
        "",
        "| site | pages | chunks | crawl s | vectors s (after the crawl) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for item in ingest:
        vectors = item["vectors_seconds"]
        lines.append(
            f"| {item['site']} | {item['pages']} | {item['chunks']} | "
            f"{item['crawl_seconds']:.1f} | {'-' if vectors is None else f'{vectors:.0f}'} |"
        )
    lines += [
        "",
        "| question set | split | ranking | n | recall@1 | recall@5 | recall@10 | target @5 |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in recall:
        target = TARGETS.get(str(row["site"])) if "visitors" in str(row["set"]) else None
        lines.append(
            f"| {row['set']} | {row['split']} | {row['ranking']} | {row['questions']} | "
            f"{row['recall_at_1']:.2f} | {row['recall_at_5']:.2f} | {row['recall_at_10']:.2f} | "
            f"{'' if target is None else f'>= {target:.2f}'} |"
        )
    lines += [
        "",
        "| retrieval latency | questions | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, figures in latency.items():
        lines.append(
            f"| {name} | {figures['questions']} | {figures['p50_ms']:.1f} | "
            f"{figures['p99_ms']:.1f} |"
        )
    lines.append(
        f"\nTargets: p50 < {TARGET_LATENCY_MS[0]:.0f} ms, p99 < {TARGET_LATENCY_MS[1]:.0f} ms "
        "at 100k chunks."
    )
    return "\n".join(lines)


def main() -> dict[str, object]:
    for site in SITES:
        if not site.root.is_dir():
            raise SystemExit(f"bench/retrieval needs {site.root}: make bench-deps")
    with (
        tempfile.TemporaryDirectory(prefix="sitechat-bench-") as scratch,
        bench_database(Path(scratch), "sitechat_bench_retrieval") as database_url,
    ):
        ingested = ingest_all(database_url)
        # A server of its own for the 100k chatbot's account (the ingest's has stopped).
        with sitechat_server(database_url, crawl_concurrency=None) as server:
            result = asyncio.run(measure(database_url, ingested, server.base_url))
    table = report(result)
    print(table)
    return {"table": table, "results": result}


if __name__ == "__main__":
    main()
