"""Server-sent progress of one crawl: `progress` events while counts change, `done` at the end.

The stream never holds a transaction: every poll opens a fresh session, reads the job row and
closes it. It is bounded: it ends when the job ends, or after `max_seconds` with a `timeout`
event (clients reconnect).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sitechat.crawling import repository
from sitechat.crawling.schemas import CrawlProgress


@dataclass(frozen=True)
class StreamTiming:
    poll_seconds: float = 1.0
    ping_seconds: float = 15.0
    max_seconds: float = 30 * 60.0


def _event(name: str, progress: CrawlProgress) -> str:
    return f"event: {name}\ndata: {progress.model_dump_json()}\n\n"


async def _read_progress(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID
) -> CrawlProgress | None:
    async with sessionmaker() as session:
        job = await repository.get_job_unscoped(session, job_id)
        if job is None:
            return None
        return CrawlProgress.model_validate(job, from_attributes=True)


async def progress_events(
    sessionmaker: async_sessionmaker[AsyncSession],
    job_id: uuid.UUID,
    timing: StreamTiming = StreamTiming(),
) -> AsyncIterator[str]:
    started = last_sent = time.monotonic()
    last: CrawlProgress | None = None
    while True:
        progress = await _read_progress(sessionmaker, job_id)
        now = time.monotonic()
        if progress is None:  # deleted with its chatbot
            yield "event: gone\ndata: {}\n\n"
            return
        if not progress.status.is_active:
            yield _event("done", progress)
            return
        if progress != last:
            yield _event("progress", progress)
            last, last_sent = progress, now
        elif now - last_sent >= timing.ping_seconds:
            yield ": ping\n\n"
            last_sent = now
        if now - started >= timing.max_seconds:
            yield _event("timeout", progress)
            return
        await asyncio.sleep(timing.poll_seconds)
