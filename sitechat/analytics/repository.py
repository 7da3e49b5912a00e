"""The SQL of chatbot analytics: aggregates over the indexed `messages` table.

Every statement takes the caller's workspace and scopes the chatbot through it (the
`_CHATBOT` subquery yields no id for a foreign chatbot, so nothing is counted), then reads one
index range `(chatbot_id, created_at)` of `messages`/`conversations`; see the migration
e19a00000001 for the indexes and what they include.
"""

# The statements are assembled from this module's constant fragments only; every value is a
# bound parameter.
# ruff: noqa: S608
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.chatbots import Source

_CHATBOT = "(SELECT id FROM chatbots WHERE id = :chatbot_id AND workspace_id = :workspace_id)"


def _in_period(alias: str = "") -> str:
    """The chatbot's rows created in the period (of table `alias`, if given)."""
    of = f"{alias}." if alias else ""
    return f"{of}chatbot_id = {_CHATBOT} AND {of}created_at >= :start AND {of}created_at < :end"


_IN_PERIOD = _in_period()
_ANSWER = "role = 'assistant' AND status = 'complete' AND NOT handoff_notice"


@dataclass(frozen=True)
class Period:
    workspace_id: uuid.UUID
    chatbot_id: uuid.UUID
    start: datetime
    end: datetime  # exclusive

    def params(self, **more: Any) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "chatbot_id": self.chatbot_id,
            "start": self.start,
            "end": self.end,
            **more,
        }


# One index-only pass over the period's messages: a row per interval, and a row for the
# whole period (bucket NULL) that also carries the median answer latency.
_MESSAGE_COUNTS = text(
    f"""
SELECT date_trunc(:unit, created_at AT TIME ZONE 'UTC')::date AS bucket,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)
           FILTER (WHERE {_ANSWER}) AS median_answer_latency_ms,
       count(*) AS messages,
       count(*) FILTER (WHERE role = 'user') AS questions,
       count(*) FILTER (WHERE {_ANSWER} AND NOT fallback) AS answered,
       count(*) FILTER (WHERE {_ANSWER} AND fallback) AS fallback,
       count(*) FILTER (WHERE role = 'assistant' AND status = 'failed') AS failed,
       count(*) FILTER (WHERE role = 'assistant' AND handoff_notice) AS handoff_notices,
       count(*) FILTER (WHERE role = 'agent') AS agent_replies
FROM messages WHERE {_IN_PERIOD}
GROUP BY GROUPING SETS ((1), ())
"""
)

_CONVERSATION_COUNTS = text(
    f"""
SELECT date_trunc(:unit, created_at AT TIME ZONE 'UTC')::date AS bucket, count(*)
FROM conversations WHERE {_IN_PERIOD}
GROUP BY 1
"""
)

# Ratings by when they were (last) given; leads by when they were first left.
_FEEDBACK_AND_LEADS = text(
    f"""
SELECT rated.feedback_up, rated.feedback_down, captured.leads
FROM (SELECT count(*) FILTER (WHERE rating = 'up') AS feedback_up,
             count(*) FILTER (WHERE rating = 'down') AS feedback_down
      FROM feedback
      WHERE chatbot_id = {_CHATBOT} AND updated_at >= :start AND updated_at < :end) AS rated,
     (SELECT count(*) AS leads FROM leads WHERE {_IN_PERIOD}) AS captured
"""
)

MESSAGE_COUNT_NAMES = (
    "messages",
    "questions",
    "answered",
    "fallback",
    "failed",
    "handoff_notices",
    "agent_replies",
)


# The groups first (from the index alone), then one phrasing per group: the question asked
# last, found by an index lookup on its exact time.
_TOP_QUESTIONS = text(
    f"""
WITH grouped AS (
    SELECT question_key, count(*) AS asked, max(created_at) AS last_asked_at
    FROM messages
    WHERE {_IN_PERIOD} AND role = 'user' AND question_key IS NOT NULL
    GROUP BY question_key
    ORDER BY asked DESC, question_key
    LIMIT :limit
)
SELECT g.question_key, g.asked, g.last_asked_at, sample.content
FROM grouped g
CROSS JOIN LATERAL (
    SELECT content FROM messages q
    WHERE q.chatbot_id = :chatbot_id AND q.role = 'user' AND q.created_at = g.last_asked_at
      AND q.question_key = g.question_key
    LIMIT 1
) AS sample
ORDER BY g.asked DESC, g.question_key
"""
)

_UNANSWERED = text(
    f"""
WITH grouped AS (
    SELECT question_key, count(*) AS asked, max(created_at) AS last_answered_at
    FROM messages
    WHERE {_IN_PERIOD} AND {_ANSWER} AND fallback AND question_key IS NOT NULL
    GROUP BY question_key
    ORDER BY asked DESC, question_key
    LIMIT :limit
)
SELECT g.question_key, g.asked, q.created_at, q.content
FROM grouped g
CROSS JOIN LATERAL (
    SELECT a.question_id FROM messages a
    WHERE a.chatbot_id = :chatbot_id AND a.role = 'assistant' AND a.status = 'complete'
      AND a.fallback AND NOT a.handoff_notice
      AND a.created_at = g.last_answered_at AND a.question_key = g.question_key
    LIMIT 1
) AS answer
JOIN messages q ON q.id = answer.question_id
ORDER BY g.asked DESC, g.question_key
"""
)


def _cited_page(alias: str) -> str:
    """The page a citation cites, as `knowledge.passages.page_key_of` tells pages apart: its
    page; else its URL; else its source (a text or Q&A source is one page). Many cited pages
    have no URL (text and Q&A sources, a file's pages), so the URL alone would merge them."""
    return f"coalesce({alias}.page_id::text, {alias}.url, {alias}.source_id::text)"


# Counted from the citations' own index; each page's title and URL are the ones it had when
# it was last cited (an index lookup on that exact time).
_TOP_CITED = text(
    f"""
WITH counted AS (
    SELECT {_cited_page("mc")} AS cited_page, count(*) AS citations,
           max(created_at) AS last_cited_at
    FROM message_citations mc WHERE {_in_period("mc")}
    GROUP BY 1
    ORDER BY citations DESC, cited_page
    LIMIT :limit
)
SELECT named.url, named.title, named.source_id, c.citations
FROM counted c
CROSS JOIN LATERAL (
    SELECT url, title, source_id FROM message_citations x
    WHERE x.chatbot_id = :chatbot_id AND x.created_at = c.last_cited_at
      AND {_cited_page("x")} = c.cited_page
    LIMIT 1
) AS named
ORDER BY c.citations DESC, c.cited_page
"""
)


@dataclass(frozen=True)
class MessageCounts:
    """`MESSAGE_COUNT_NAMES` for the period and per interval start (intervals without
    messages are absent), and the period's median answer latency."""

    totals: dict[str, int]
    by_interval: dict[date, dict[str, int]]
    median_answer_latency_ms: float | None


async def message_counts(session: AsyncSession, period: Period, unit: str) -> MessageCounts:
    rows = (await session.execute(_MESSAGE_COUNTS, period.params(unit=unit))).mappings().all()
    whole = next(row for row in rows if row["bucket"] is None)  # the () grouping set
    latency = whole["median_answer_latency_ms"]
    return MessageCounts(
        totals={name: int(whole[name]) for name in MESSAGE_COUNT_NAMES},
        by_interval={
            row["bucket"]: {name: int(row[name]) for name in MESSAGE_COUNT_NAMES}
            for row in rows
            if row["bucket"] is not None
        },
        median_answer_latency_ms=None if latency is None else float(latency),
    )


async def conversation_counts(session: AsyncSession, period: Period, unit: str) -> dict[date, int]:
    rows = await session.execute(_CONVERSATION_COUNTS, period.params(unit=unit))
    return {bucket: count for bucket, count in rows}


async def feedback_and_leads(session: AsyncSession, period: Period) -> dict[str, int]:
    row = (await session.execute(_FEEDBACK_AND_LEADS, period.params())).mappings().one()
    return {name: int(value) for name, value in row.items()}


async def top_questions(
    session: AsyncSession, period: Period, limit: int
) -> list[tuple[str, int, datetime, str]]:
    rows = await session.execute(_TOP_QUESTIONS, period.params(limit=limit))
    return [(key, asked, last, content) for key, asked, last, content in rows]


async def unanswered_questions(
    session: AsyncSession, period: Period, limit: int
) -> list[tuple[str, int, datetime, str]]:
    rows = await session.execute(_UNANSWERED, period.params(limit=limit))
    return [(key, asked, last, content) for key, asked, last, content in rows]


@dataclass(frozen=True)
class CitedPageCount:
    url: str | None
    title: str
    source_id: uuid.UUID | None
    citations: int


async def top_cited_pages(
    session: AsyncSession, period: Period, limit: int
) -> list[CitedPageCount]:
    rows = await session.execute(_TOP_CITED, period.params(limit=limit))
    return [
        CitedPageCount(url, title or "", source_id, citations)
        for url, title, source_id, citations in rows
    ]


# The conversation export: the period's conversations with every message, in order, a batch
# at a time after the (conversation, message) keyset of the previous batch.
_EXPORT_BATCH = text(
    f"""
SELECT c.id, c.created_at, c.channel, c.status, c.title,
       m.id, m.created_at, m.role, m.status, m.content, m.fallback, m.latency_ms,
       m.citations, f.rating
FROM conversations c
JOIN messages m ON m.conversation_id = c.id
LEFT JOIN feedback f ON f.message_id = m.id
WHERE c.workspace_id = :workspace_id AND {_in_period("c")}
  AND (c.id, m.id) > (:after_conversation, :after_message)
ORDER BY c.id, m.id
LIMIT :limit
"""
)
_BEFORE_EVERY_ID = uuid.UUID(int=0)


async def export_batch(
    session: AsyncSession, period: Period, after: tuple[uuid.UUID, uuid.UUID] | None, limit: int
) -> list[tuple[Any, ...]]:
    conversation_id, message_id = after or (_BEFORE_EVERY_ID, _BEFORE_EVERY_ID)
    rows = await session.execute(
        _EXPORT_BATCH,
        period.params(after_conversation=conversation_id, after_message=message_id, limit=limit),
    )
    return [tuple(row) for row in rows]


@dataclass(frozen=True)
class CitedSource:
    """What names a cited source that has no URL to link to."""

    kind: str
    file_name: str | None


async def cited_sources(
    session: AsyncSession, period: Period, source_ids: set[uuid.UUID]
) -> dict[uuid.UUID, CitedSource]:
    """The chatbot's sources among `source_ids` (one deleted since is absent)."""
    if not source_ids:
        return {}
    statement = select(Source.id, Source.kind, Source.file_name).where(
        Source.workspace_id == period.workspace_id,
        Source.chatbot_id == period.chatbot_id,
        Source.id.in_(source_ids),
    )
    rows = await session.execute(statement)
    return {id_: CitedSource(kind.value, file_name) for id_, kind, file_name in rows}
