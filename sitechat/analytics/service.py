"""What visitors ask a chatbot and how it answers, per period: the numbers of
`GET /v1/chatbots/{id}/analytics` and the conversation export.

Periods are whole UTC days, `from` and `to` both counted. Questions are grouped by their key
of stemmed terms (`knowledge.indexing.question_key`, ADR "question groups").
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sitechat.analytics import repository
from sitechat.analytics.export import cited_source_ids, export_row
from sitechat.analytics.repository import Period
from sitechat.analytics.schemas import (
    MAX_PERIOD_DAYS,
    AnalyticsBucket,
    AnalyticsRead,
    AnalyticsTotals,
    CitedPage,
    Interval,
    QuestionGroup,
)
from sitechat.auth.caller import Caller
from sitechat.chatbots.service import get_chatbot
from sitechat.core.clock import utcnow
from sitechat.core.errors import UnprocessableEntity

DEFAULT_PERIOD_DAYS = 30
# Bounds that keep every date computation in range (a `to` of 9999-12-31 has no next day).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2999, 12, 31)
EXPORT_BATCH = 1_000


class InvalidPeriod(UnprocessableEntity):
    slug = "invalid-period"
    title = "Invalid period"


def period_of(
    workspace_id: uuid.UUID, chatbot_id: uuid.UUID, start: date | None, end: date | None
) -> tuple[Period, date, date]:
    """The period's bounds as timestamps (end exclusive); the last 30 days by default."""
    for day in (start, end):
        if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
            raise InvalidPeriod(f"Days go from {EARLIEST_DAY} to {LATEST_DAY}.")
    last = end or utcnow().date()
    first = start or last - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if first > last:
        raise InvalidPeriod("`from` is after `to`.")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidPeriod(f"A period is at most {MAX_PERIOD_DAYS} days.")
    period = Period(
        workspace_id=workspace_id,
        chatbot_id=chatbot_id,
        start=datetime.combine(first, time(), UTC),
        end=datetime.combine(last + timedelta(days=1), time(), UTC),
    )
    return period, first, last


def interval_starts(first: date, last: date, interval: Interval) -> list[date]:
    """The first day of every interval that meets [first, last] (weeks start on Monday)."""
    if interval == "day":
        current = first
    elif interval == "week":
        current = first - timedelta(days=first.weekday())
    else:
        current = first.replace(day=1)
    starts = []
    while current <= last:
        starts.append(current)
        if interval == "day":
            current += timedelta(days=1)
        elif interval == "week":
            current += timedelta(days=7)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return starts


async def chatbot_analytics(
    session: AsyncSession,
    caller: Caller,
    chatbot_id: uuid.UUID,
    *,
    start: date | None,
    end: date | None,
    interval: Interval,
    top: int,
) -> AnalyticsRead:
    await get_chatbot(session, caller, chatbot_id)
    period, first, last = period_of(caller.workspace_id, chatbot_id, start, end)
    messages = await repository.message_counts(session, period, interval)
    by_interval = messages.by_interval
    conversations = await repository.conversation_counts(session, period, interval)
    totals = AnalyticsTotals(
        conversations=sum(conversations.values()),
        **messages.totals,
        **await repository.feedback_and_leads(session, period),
        median_answer_latency_ms=messages.median_answer_latency_ms,
    )
    empty = dict.fromkeys(repository.MESSAGE_COUNT_NAMES, 0)
    series = [
        AnalyticsBucket(
            start=bucket,
            conversations=conversations.get(bucket, 0),
            questions=by_interval.get(bucket, empty)["questions"],
            answered=by_interval.get(bucket, empty)["answered"],
            fallback=by_interval.get(bucket, empty)["fallback"],
        )
        for bucket in interval_starts(first, last, interval)
    ]
    return AnalyticsRead(
        chatbot_id=chatbot_id,
        start=first,
        end=last,
        interval=interval,
        totals=totals,
        series=series,
        top_questions=_groups(await repository.top_questions(session, period, top)),
        unanswered_questions=_groups(await repository.unanswered_questions(session, period, top)),
        top_cited_pages=[
            CitedPage(
                url=page.url, title=page.title, source_id=page.source_id, citations=page.citations
            )
            for page in await repository.top_cited_pages(session, period, top)
        ],
    )


def _groups(rows: list[tuple[str, int, datetime, str]]) -> list[QuestionGroup]:
    return [
        QuestionGroup(question=content, terms=key, count=count, last_asked_at=last)
        for key, count, last, content in rows
    ]


async def export_period(
    session: AsyncSession,
    caller: Caller,
    chatbot_id: uuid.UUID,
    start: date | None,
    end: date | None,
) -> Period:
    """Check the chatbot and the period before the export starts streaming."""
    await get_chatbot(session, caller, chatbot_id)
    period, _, _ = period_of(caller.workspace_id, chatbot_id, start, end)
    return period


async def export_batches(
    sessionmaker: async_sessionmaker[AsyncSession], period: Period
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """The period's conversations and their messages, a short transaction per batch (no
    transaction stays open while the client reads)."""
    after: tuple[uuid.UUID, uuid.UUID] | None = None
    while True:
        async with sessionmaker() as session:
            rows = await repository.export_batch(session, period, after, EXPORT_BATCH)
            sources = await repository.cited_sources(session, period, cited_source_ids(rows))
        yield [export_row(row, sources) for row in rows]
        if len(rows) < EXPORT_BATCH:
            return
        after = (rows[-1][0], rows[-1][5])
