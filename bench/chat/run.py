"""bench/chat: retrieval and answer latency over 100,000 chunks, and answer quality.

One run:

1. The python3.11-doc site is crawled through the real pipeline (a `sitechat serve`
   subprocess, the HTTP API, its in-process worker): ~530 pages, ~11,000 chunks extracted by
   `extract_page` and cut by `chunk_markdown`. That chatbot is the evaluation's (see `eval.py`).
2. A second chatbot gets 100,000 chunks: the crawled ones replicated with perturbed text
   (`INSERT ... SELECT` in SQL; `search_vector` written with the indexer's own expression),
   then VACUUM ANALYZE, as autovacuum would leave a settled table.
3. Retrieval: `sitechat.knowledge.service.retrieve()` in-process for ~300 questions, one session
   per question as a request has: p50 / p99 (targets 30 ms / 150 ms).
4. End to end: `POST /v1/conversations/{id}/messages` on the 100,000-chunk chatbot with the
   extractive answerer, sequential requests over keep-alive: p50 / p99 (target p50 60 ms).
5. The evaluation (eval.py) on the crawled chatbot.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import Integer, cast, func, insert, literal, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bench.chat import eval as quality
from bench.chat.eval_questions import ANSWERABLE, UNANSWERABLE
from bench.chat.retrieval_variants import PROPOSED, VARIANTS, Ranker
from bench.common import bench_database
from bench.crawl.pipeline import (
    DOCS_ROOT,
    CrawlOutcome,
    create_chatbot,
    docs_site,
    migrate,
    register_account,
    run_crawl,
    sitechat_server,
)
from sitechat.core.db import async_url
from sitechat.knowledge.indexing import search_vector
from sitechat.models.chatbots import Chatbot
from sitechat.models.knowledge import Chunk

TARGET_CHUNKS = 100_000
RETRIEVAL_QUESTIONS = 300
CHAT_REQUESTS = 200
QUESTIONS_PER_CONVERSATION = 5
TARGETS_MS = {"retrieval p50": 30.0, "retrieval p99": 150.0, "answer p50": 60.0}


def latency_questions(count: int) -> list[str]:
    """The evaluation's questions, then module questions a docs visitor would ask."""
    questions = [item.question for item in ANSWERABLE] + list(UNANSWERABLE)
    modules = sorted(
        path.stem
        for path in (DOCS_ROOT / "library").glob("*.html")
        if "-" not in path.stem and not path.stem.startswith(("index", "_"))
    )
    templates = (
        "What does the {} module do?",
        "How do I use {}?",
        "Is {} thread safe?",
        "What are the main functions in {}?",
    )
    for index, module in enumerate(modules * 2):
        if len(questions) >= count:
            break
        questions.append(templates[index % len(templates)].format(module.replace("_", " ")))
    return questions[:count]


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def replicate_chunks(
    engine: AsyncEngine, source_chatbot: uuid.UUID, target_chatbot: uuid.UUID, target: int
) -> int:
    """Fill `target_chatbot` with `target` chunks: perturbed copies of `source_chatbot`'s."""
    async with engine.begin() as connection:
        chatbot = (
            await connection.execute(
                select(Chatbot.workspace_id, Chatbot.language).where(Chatbot.id == target_chatbot)
            )
        ).one()
        source_id = (
            await connection.execute(
                text("SELECT id FROM sources WHERE chatbot_id = :id LIMIT 1"),
                {"id": target_chatbot},
            )
        ).scalar_one()
        base = (
            await connection.execute(
                select(func.count()).select_from(Chunk).where(Chunk.chatbot_id == source_chatbot)
            )
        ).scalar_one()
        copy = func.generate_series(1, -(-target // base)).table_valued("n").render_derived("copy")
        # Each copy drops a few leading characters and names itself in the heading, so copies
        # are near-duplicates (as sites with versioned docs have), not identical rows.
        content = func.substr(Chunk.content, 1 + (copy.c.n * 7) % 40)
        heading = Chunk.heading + " (v" + cast(copy.c.n, Integer).cast(Chunk.heading.type) + ")"
        rows = (
            select(
                func.gen_random_uuid(),
                literal(chatbot.workspace_id),
                literal(target_chatbot),
                literal(source_id),
                Chunk.position,
                Chunk.url + "#copy-" + cast(copy.c.n, Chunk.url.type),
                Chunk.title,
                heading,
                content,
                literal(chatbot.language),
                search_vector(chatbot.language, Chunk.title, heading, content),  # type: ignore[arg-type]
            )
            .select_from(Chunk)
            .join(copy, literal(True))
            .where(Chunk.chatbot_id == source_chatbot)
            .limit(target)
        )
        columns = ["id", "workspace_id", "chatbot_id", "source_id", "position", "url", "title",
                   "heading", "content", "language", "search_vector"]  # fmt: skip
        await connection.execute(insert(Chunk).from_select(columns, rows))
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE chunks"))
        count = await autocommit.scalar(
            select(func.count()).select_from(Chunk).where(Chunk.chatbot_id == target_chatbot)
        )
    return int(count or 0)


async def retrieval_latencies(
    sessionmaker: async_sessionmaker[AsyncSession],
    chatbot_id: uuid.UUID,
    questions: list[str],
    rank: Ranker = VARIANTS["current"],
) -> list[float]:
    samples = []
    for round_index in range(2):  # the first round warms the pool, caches and plans
        for question in questions:
            async with sessionmaker() as session:
                chatbot = await session.get(Chatbot, chatbot_id)
                assert chatbot is not None
                started = time.perf_counter()
                await rank(session, chatbot, question)
                if round_index == 1:
                    samples.append((time.perf_counter() - started) * 1000)
    return samples


async def answer_latencies(
    http: httpx.AsyncClient, headers: dict[str, str], chatbot_id: str, questions: list[str]
) -> tuple[list[float], int]:
    samples, fallbacks = [], 0
    conversation_id = ""
    for index, question in enumerate(questions):
        if index % QUESTIONS_PER_CONVERSATION == 0:
            conversation = await http.post(
                f"/v1/chatbots/{chatbot_id}/conversations", json={}, headers=headers
            )
            conversation.raise_for_status()
            conversation_id = conversation.json()["id"]
        started = time.perf_counter()
        answer = await http.post(
            f"/v1/conversations/{conversation_id}/messages",
            json={"content": question},
            headers=headers,
        )
        samples.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
        fallbacks += bool(answer.json()["fallback"])
    return samples, fallbacks


@dataclass(frozen=True)
class Chatbots:
    headers: dict[str, str]
    crawled: str  # the python3.11-doc site, crawled through the API
    large: str  # 100,000 chunks
    crawl: CrawlOutcome


def create_chatbots(base_url: str, site: str) -> Chatbots:
    """An account, the crawled chatbot and the (still empty) large one, through the API."""
    with httpx.Client(base_url=base_url, timeout=60) as http:
        headers = register_account(http)
        crawled = create_chatbot(http, headers, "Python docs")
        crawl = run_crawl(http, headers, crawled, site + "/index.html", 1000)
        large = create_chatbot(http, headers, "Python docs x 10")
        # A text source makes it `ready` and gives the replicated chunks a source to belong to.
        http.post(
            f"/v1/chatbots/{large}/sources",
            json={"kind": "text", "title": "About", "content": "Replicated documentation."},
            headers=headers,
        ).raise_for_status()
    print(f"  crawled {crawl.pages_indexed} pages in {crawl.seconds:.1f} s", flush=True)
    return Chatbots(headers, crawled, large, crawl)


async def measure(database_url: str, base_url: str, bots: Chatbots) -> dict[str, object]:
    engine = create_async_engine(async_url(database_url), pool_size=5)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    headers, docs_bot, big_bot, crawl = bots.headers, bots.crawled, bots.large, bots.crawl
    try:
        started = time.perf_counter()
        chunks = await replicate_chunks(
            engine, uuid.UUID(docs_bot), uuid.UUID(big_bot), TARGET_CHUNKS
        )
        print(f"  {chunks} chunks in {time.perf_counter() - started:.1f} s", flush=True)

        questions = latency_questions(RETRIEVAL_QUESTIONS)
        retrieval = await retrieval_latencies(sessionmaker, uuid.UUID(big_bot), questions)
        proposed = await retrieval_latencies(
            sessionmaker, uuid.UUID(big_bot), questions, VARIANTS[PROPOSED]
        )
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            answers, fallbacks = await answer_latencies(
                http, headers, big_bot, questions[:CHAT_REQUESTS]
            )
            evaluation = await quality.evaluate(http, headers, docs_bot, sessionmaker)
        async with engine.connect() as connection:
            docs_chunks = await connection.scalar(
                select(func.count())
                .select_from(Chunk)
                .where(Chunk.chatbot_id == uuid.UUID(docs_bot))
            )
    finally:
        await engine.dispose()
    return {
        "chunks_in_chatbot": chunks,
        "chunks_in_other_chatbot": docs_chunks,
        "crawl_pages": crawl.pages_indexed,
        "retrieval_questions": len(retrieval),
        "retrieval_p50_ms": statistics.median(retrieval),
        "retrieval_p99_ms": percentile(retrieval, 0.99),
        "proposed_retrieval": PROPOSED,
        "proposed_retrieval_p50_ms": statistics.median(proposed),
        "proposed_retrieval_p99_ms": percentile(proposed, 0.99),
        "answer_requests": len(answers),
        "answer_p50_ms": statistics.median(answers),
        "answer_p99_ms": percentile(answers, 0.99),
        "answer_fallbacks": fallbacks,
        "evaluation": evaluation,
    }


def report(result: dict[str, object]) -> str:
    def row(name: str, key: str, target: float) -> str:
        value = float(result[key])  # type: ignore[arg-type]
        verdict = "met" if value < target else "missed"
        return f"| {name} | {value:.1f} | < {target:.0f} ({verdict}) |"

    evaluation = result["evaluation"]
    assert isinstance(evaluation, dict)
    lines = [
        f"Latency over {result['chunks_in_chatbot']:,} chunks in one chatbot "
        f"({result['chunks_in_other_chatbot']:,} more in another): "
        f"{result['retrieval_questions']} retrievals, {result['answer_requests']} answers "
        f"({result['answer_fallbacks']} of them the fallback).",
        "",
        "| measure | ms | target |",
        "| --- | ---: | --- |",
        row("retrieval p50", "retrieval_p50_ms", TARGETS_MS["retrieval p50"]),
        row("retrieval p99", "retrieval_p99_ms", TARGETS_MS["retrieval p99"]),
        row("extractive answer end to end p50", "answer_p50_ms", TARGETS_MS["answer p50"]),
        f"| retrieval p50 / p99 with the proposed ranking ({result['proposed_retrieval']}) | "
        f"{float(result['proposed_retrieval_p50_ms']):.1f} / "  # type: ignore[arg-type]
        f"{float(result['proposed_retrieval_p99_ms']):.1f} | |",  # type: ignore[arg-type]
        f"| extractive answer end to end p99 | {float(result['answer_p99_ms']):.1f} | |",  # type: ignore[arg-type]
        "",
        quality.table(evaluation),
    ]
    return "\n".join(lines)


def main() -> dict[str, object]:
    if not DOCS_ROOT.is_dir():
        raise SystemExit("bench/chat needs python3.11-doc: apt-get install python3.11-doc")
    with (
        tempfile.TemporaryDirectory(prefix="sitechat-bench-") as scratch,
        bench_database(Path(scratch), "sitechat_bench_chat") as database_url,
        docs_site() as site,
    ):
        migrate(database_url)
        with sitechat_server(database_url) as server:
            bots = create_chatbots(server.base_url, site)
            result = asyncio.run(measure(database_url, server.base_url, bots))
    table = report(result)
    print(table)
    return {"table": table, "results": result}


if __name__ == "__main__":
    main()
