"""Chatbot analytics at 1M messages: the latency of `GET /v1/chatbots/{id}/analytics`'s work.

One chatbot gets 50,000 conversations of 20 messages each (1,000,000 messages: questions and
their answers, about 15% fallbacks, one or two citations per answer among 500 pages, 1,000
question groups asked with a skewed frequency, feedback on 5% of answers) spread over 30 days,
generated in PostgreSQL with `generate_series`; a second chatbot of the same workspace gets
200,000 more, which the first one's numbers must skip. After `VACUUM ANALYZE`, the analytics
service (`analytics.service.chatbot_analytics`, every statement the route runs) is timed for a
30-day period (every message of the chatbot), a 7-day and a 1-day one, and the conversation
CSV export's rows per second for one day.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres make bench BENCH=analytics
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bench.common import bench_database
from sitechat.analytics import service
from sitechat.core.db import async_url
from sitechat.core.migrate import upgrade_database

CONVERSATIONS = 50_000
MESSAGES_PER_CONVERSATION = 20
OTHER_CHATBOT_CONVERSATIONS = 10_000
RUNS = 5
PERIOD_START = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD_DAYS = 30

WORKSPACE = uuid.UUID("00000000-0000-7000-8000-000000000001")
CHATBOT = uuid.UUID("00000000-0000-7000-8000-000000000002")
OTHER_CHATBOT = uuid.UUID("00000000-0000-7000-8000-000000000003")

_SETUP = [
    "INSERT INTO workspaces (id, name, is_personal, created_at, updated_at) "
    "VALUES (:workspace, 'Bench', false, now(), now())",
    "INSERT INTO chatbots (id, workspace_id, name, description, instructions, temperature, "
    "max_answer_chars, welcome_message, suggested_questions, fallback_message, visibility, "
    "allowed_origins, language, retrieval, status, embedded_chunks, lead_capture, "
    "handoff_message, created_at, updated_at) "
    "SELECT id, :workspace, 'Bench', '', '', 0.2, 1200, '', '[]', 'Sorry.', 'public', '[]', "
    "'english', '{}', 'ready', 0, '{}', 'A person will reply.', now(), now() "
    "FROM unnest(ARRAY[CAST(:chatbot AS uuid), CAST(:other AS uuid)]) AS id",
]

# Conversation i of a chatbot starts at an even step through the period; its message j
# (0-based) is a question when j is even and that question's answer when j is odd.
_CONVERSATIONS = """
INSERT INTO conversations (id, workspace_id, chatbot_id, channel, title, status, created_at,
                           updated_at)
SELECT md5(:salt || 'c' || i)::uuid, :workspace, :chatbot_id, 'widget', 'Conversation ' || i,
       'active', ts, ts
FROM generate_series(1, :conversations) AS i,
     LATERAL (SELECT CAST(:start AS timestamptz)
                     + (i * interval '30 days' / :conversations) AS ts) AS t
"""

_MESSAGES = """
INSERT INTO messages (id, workspace_id, conversation_id, chatbot_id, role, content, citations,
                      status, fallback, latency_ms, question_id, question_key, handoff_notice,
                      created_at, updated_at)
SELECT md5(:salt || 'm' || n)::uuid, :workspace, md5(:salt || 'c' || i)::uuid, :chatbot_id,
       CAST(CASE WHEN j % 2 = 0 THEN 'user' ELSE 'assistant' END AS message_role),
       CASE WHEN j % 2 = 0 THEN 'How do I configure feature ' || key || ' for my team?'
            WHEN fallback THEN 'Sorry.'
            ELSE repeat('The answer explains the setting in detail. ', 5) || '[1]' END,
       CASE WHEN j % 2 = 0 OR fallback THEN '[]'::jsonb
            ELSE jsonb_build_array(jsonb_build_object(
                'number', 1, 'url', 'https://docs.example.com/page-' || page,
                'title', 'Page ' || page, 'heading', 'Setup',
                'snippet', repeat('Snippet text of the page. ', 6),
                'chunk_id', md5('chunk' || page)::uuid, 'source_id', md5('src')::uuid))
                 || CASE WHEN pair % 3 = 0 THEN jsonb_build_array(jsonb_build_object(
                'number', 2, 'url', 'https://docs.example.com/page-' || (page + 7) % 500,
                'title', 'Page', 'heading', '', 'snippet', 'Other snippet.',
                'chunk_id', md5('chunk2' || page)::uuid, 'source_id', md5('src')::uuid))
                    ELSE '[]'::jsonb END END,
       'complete', j % 2 = 1 AND fallback,
       CASE WHEN j % 2 = 1 THEN 40 + abs(hashtext('l' || pair)) % 900 END,
       CASE WHEN j % 2 = 1 THEN md5(:salt || 'm' || (n - 1))::uuid END,
       'configur featur ' || key || ' team', false, ts, ts
FROM generate_series(1, :conversations) AS i,
     generate_series(0, :per_conversation - 1) AS j,
     LATERAL (SELECT (i - 1) * :per_conversation + j AS n,
                     ((i - 1) * :per_conversation + j) / 2 AS pair) AS ids,
     LATERAL (SELECT floor(1000 * power((abs(hashtext('k' || pair)) % 10000) / 10000.0, 3))::int
                         AS key,
                     abs(hashtext('f' || pair)) % 100 < 15 AS fallback,
                     abs(hashtext('u' || pair)) % 500 AS page,
                     CAST(:start AS timestamptz) + (i * interval '30 days' / :conversations)
                         + j * interval '20 seconds' AS ts) AS facts
"""

# What storing each answer writes (`chat/repository.py: save_citations`), in one statement.
_CITATIONS = """
INSERT INTO message_citations (message_id, number, chatbot_id, created_at, url, title)
SELECT m.id, (c.value->>'number')::int, m.chatbot_id, m.created_at, c.value->>'url',
       c.value->>'title'
FROM messages m, jsonb_array_elements(m.citations) AS c
WHERE m.role = 'assistant' AND m.status = 'complete' AND NOT m.fallback
"""

_FEEDBACK = """
INSERT INTO feedback (id, workspace_id, chatbot_id, message_id, rating, created_at, updated_at)
SELECT md5('fb' || id::text)::uuid, workspace_id, chatbot_id, id,
       CAST(CASE WHEN fallback THEN 'down' ELSE 'up' END AS feedback_rating), created_at,
       created_at
FROM messages
WHERE chatbot_id = :chatbot_id AND role = 'assistant' AND abs(hashtext(id::text)) % 20 = 0
"""


async def _generate(sessionmaker: async_sessionmaker[AsyncSession]) -> float:
    started = time.perf_counter()
    ids = {"workspace": WORKSPACE, "chatbot": CHATBOT, "other": OTHER_CHATBOT}
    async with sessionmaker() as session, session.begin():
        for statement in _SETUP:
            await session.execute(text(statement), ids)
        for chatbot_id, salt, conversations in (
            (CHATBOT, "a", CONVERSATIONS),
            (OTHER_CHATBOT, "b", OTHER_CHATBOT_CONVERSATIONS),
        ):
            params = {
                "workspace": WORKSPACE,
                "chatbot_id": chatbot_id,
                "salt": salt,
                "conversations": conversations,
                "per_conversation": MESSAGES_PER_CONVERSATION,
                "start": PERIOD_START,
            }
            await session.execute(text(_CONVERSATIONS), params)
            await session.execute(text(_MESSAGES), params)
        # As answers store them: the citations of complete, non-fallback answers, copied.
        await session.execute(text(_CITATIONS))
        await session.execute(text(_FEEDBACK), {"chatbot_id": CHATBOT})
    return time.perf_counter() - started


async def _time_analytics(
    sessionmaker: async_sessionmaker[AsyncSession], start: date, end: date
) -> tuple[list[float], Any]:
    timings, result = [], None
    for _ in range(RUNS + 1):  # the first run warms the cache and the prepared statements
        async with sessionmaker() as session:
            began = time.perf_counter()
            result = await service.chatbot_analytics(
                session, WORKSPACE, CHATBOT, start=start, end=end, interval="day", top=10
            )
            timings.append((time.perf_counter() - began) * 1000)
    return timings[1:], result


async def _time_export(sessionmaker: async_sessionmaker[AsyncSession], day: date) -> float:
    async with sessionmaker() as session:
        period = await service.export_period(session, WORKSPACE, CHATBOT, day, day)
    began = time.perf_counter()
    rows = 0
    async for batch in service.export_batches(sessionmaker, period):
        rows += len(batch)
    return rows / (time.perf_counter() - began)


async def _run(url: str) -> dict[str, Any]:
    engine = create_async_engine(async_url(url), pool_size=2)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    try:
        generated = await _generate(sessionmaker)
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(
                text("VACUUM ANALYZE messages, message_citations, conversations, feedback")
            )
            total = (await connection.execute(text("SELECT count(*) FROM messages"))).scalar()
        first = PERIOD_START.date()
        periods = {
            "30 days (1M messages)": (first, date(2026, 11, 30)),
            "7 days": (date(2026, 11, 10), date(2026, 11, 16)),
            "1 day": (date(2026, 11, 15), date(2026, 11, 15)),
        }
        measured = {
            name: await _time_analytics(sessionmaker, start, end)
            for name, (start, end) in periods.items()
        }
        export_rows_per_second = await _time_export(sessionmaker, date(2026, 11, 15))
    finally:
        await engine.dispose()
    rows = ["| period | messages counted | p50 ms | max ms |", "|---|---:|---:|---:|"]
    for name, (timings, result) in measured.items():
        rows.append(
            f"| {name} | {result.totals.messages:,} | {statistics.median(timings):.0f} | "
            f"{max(timings):.0f} |"
        )
    full_p50 = statistics.median(measured["30 days (1M messages)"][0])
    day_p50 = statistics.median(measured["1 day"][0])
    table = (
        f"{total:,} messages in the database ({generated:.0f} s to generate); {RUNS} timed runs "
        f"per period after one warm-up; every statement of the analytics route.\n\n"
        + "\n".join(rows)
        + f"\n\n30-day / 1-day latency ratio: {full_p50 / day_p50:.1f}; conversation export: "
        f"{export_rows_per_second:,.0f} rows/s; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs (a shared machine)."
    )
    print(table)
    return {
        "messages": total,
        "p50_ms": {name: statistics.median(t) for name, (t, _) in measured.items()},
        "export_rows_per_second": export_rows_per_second,
        "table": table,
    }


def main() -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="sitechat-bench-analytics-") as scratch,
        bench_database(Path(scratch), "sitechat_bench_analytics") as url,
    ):
        upgrade_database(url)
        return asyncio.run(_run(url))


if __name__ == "__main__":
    main()
