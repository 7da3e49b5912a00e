"""All SQL about crawl jobs, the pages they stored and what each crawl did with each URL."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, not_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.crawling.engine import KnownPage
from sitechat.crawling.fetcher import Validators
from sitechat.models.chatbots import Source
from sitechat.models.crawling import CrawlJob, CrawlPage, CrawlStatus, PageOutcome
from sitechat.models.knowledge import Page

LINK_LIST = "link-list"  # the engine's skip reason for a page that only lists links
COUNTER_COLUMNS = frozenset(
    {
        "pages_fetched",
        "pages_indexed",
        "pages_skipped",
        "pages_failed",
        "pages_new",
        "pages_changed",
        "pages_unchanged",
        "pages_rendered",
        "pages_needing_browser",
        "bytes_fetched",
    }
)


# -- crawl jobs --------------------------------------------------------------------------------


async def get_job(
    session: AsyncSession, workspace_id: uuid.UUID, job_id: uuid.UUID, *, for_update: bool = False
) -> CrawlJob | None:
    statement = select(CrawlJob).where(CrawlJob.id == job_id, CrawlJob.workspace_id == workspace_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def get_job_unscoped(
    session: AsyncSession, job_id: uuid.UUID, *, for_update: bool = False
) -> CrawlJob | None:
    """For the crawl task and the progress stream, which start from a job id already checked."""
    statement = select(CrawlJob).where(CrawlJob.id == job_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def find_job_by_idempotency_key(
    session: AsyncSession, chatbot_id: uuid.UUID, key: str
) -> CrawlJob | None:
    statement = select(CrawlJob).where(
        CrawlJob.chatbot_id == chatbot_id, CrawlJob.idempotency_key == key
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def list_jobs(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    *,
    before_id: uuid.UUID | None,
    limit: int,
) -> list[CrawlJob]:
    statement = select(CrawlJob).where(
        CrawlJob.workspace_id == workspace_id, CrawlJob.chatbot_id == chatbot_id
    )
    if before_id is not None:
        statement = statement.where(CrawlJob.id < before_id)
    statement = statement.order_by(CrawlJob.id.desc()).limit(limit + 1)
    return list((await session.execute(statement)).scalars())


async def bump_counters(
    session: AsyncSession, job_id: uuid.UUID, increments: dict[str, int]
) -> None:
    """One `UPDATE ... SET x = x + n`: concurrent readers never see a lost update."""
    values: dict[str, Any] = {}
    for column, amount in increments.items():
        if column not in COUNTER_COLUMNS:
            raise ValueError(f"not a crawl counter: {column}")
        if amount:
            values[column] = getattr(CrawlJob, column) + amount
    if values:
        await session.execute(update(CrawlJob).where(CrawlJob.id == job_id).values(values))


async def record_frontier(
    session: AsyncSession, job_id: uuid.UUID, discovered: int, unvisited: int
) -> None:
    """The engine's view of the site: URLs found so far (never lowered: a resumed attempt
    starts counting again) and URLs it has left unvisited."""
    await session.execute(
        update(CrawlJob)
        .where(CrawlJob.id == job_id)
        .values(
            pages_discovered=func.greatest(CrawlJob.pages_discovered, discovered),
            pages_unvisited=unvisited,
        )
    )


async def cancel_requested_at(
    session: AsyncSession, job_id: uuid.UUID
) -> tuple[bool, datetime | None]:
    """(job still exists, when a cancel was asked for)."""
    statement = select(CrawlJob.cancel_requested_at).where(CrawlJob.id == job_id)
    row = (await session.execute(statement)).first()
    return (row is not None, row[0] if row is not None else None)


def workspace_lock_of(workspace_id: uuid.UUID) -> str:
    return f"crawl-workspace:{workspace_id}"


# -- the website source a crawl fills ------------------------------------------------------


async def get_source_unscoped(session: AsyncSession, source_id: uuid.UUID) -> Source | None:
    """For the crawl's own bookkeeping, from a job already checked."""
    statement = select(Source).where(Source.id == source_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def source_has_pages(session: AsyncSession, source_id: uuid.UUID) -> bool:
    found = await session.scalar(select(Page.id).where(Page.source_id == source_id).limit(1))
    return found is not None


# -- crawl pages (what one crawl did with one URL) -------------------------------------------


async def list_crawl_pages(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    job_id: uuid.UUID,
    *,
    outcome: PageOutcome | None,
    before_id: uuid.UUID | None,
    limit: int,
) -> list[CrawlPage]:
    statement = select(CrawlPage).where(
        CrawlPage.workspace_id == workspace_id, CrawlPage.crawl_job_id == job_id
    )
    if outcome is not None:
        statement = statement.where(CrawlPage.outcome == outcome)
    if before_id is not None:
        statement = statement.where(CrawlPage.id < before_id)
    statement = statement.order_by(CrawlPage.id.desc()).limit(limit + 1)
    return list((await session.execute(statement)).scalars())


async def done_urls(
    session: AsyncSession, job_id: uuid.UUID
) -> dict[str, tuple[PageOutcome, list[str]]]:
    """URLs this job already recorded (an earlier attempt), with their outcome and outgoing
    links."""
    statement = select(CrawlPage.url, CrawlPage.outcome, CrawlPage.links).where(
        CrawlPage.crawl_job_id == job_id
    )
    rows = (await session.execute(statement)).all()
    return {url: (outcome, list(links or ())) for url, outcome, links in rows}


async def insert_crawl_page(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """The new row's id, or None when this job already recorded the URL (a replay)."""
    statement = (
        pg_insert(CrawlPage)
        .values(values)
        .on_conflict_do_nothing(index_elements=["crawl_job_id", "url"])
        .returning(CrawlPage.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def insert_crawl_pages(session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    """The URLs of the rows inserted (a URL this job already recorded is left alone)."""
    if not rows:
        return set()
    statement = (
        pg_insert(CrawlPage)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["crawl_job_id", "url"])
        .returning(CrawlPage.url)
    )
    return set((await session.execute(statement)).scalars())


async def link_crawl_page(
    session: AsyncSession, crawl_page_id: uuid.UUID, page_id: uuid.UUID
) -> None:
    await session.execute(
        update(CrawlPage).where(CrawlPage.id == crawl_page_id).values(page_id=page_id)
    )


# -- pages (the latest content of one URL of a website source) ------------------------------


async def indexed_any(session: AsyncSession, job_id: uuid.UUID) -> bool:
    """Whether the crawl indexed a page (new, changed or unchanged). Not the job's
    `pages_indexed`: a page answering 304 Not Modified is unchanged but not counted there."""
    found = await session.scalar(
        select(CrawlPage.id)
        .where(
            CrawlPage.crawl_job_id == job_id,
            CrawlPage.outcome.in_((PageOutcome.indexed, PageOutcome.unchanged)),
        )
        .limit(1)
    )
    return found is not None


async def start_reason(session: AsyncSession, job_id: uuid.UUID, start_url: str) -> str | None:
    """Why the crawl's start page was skipped or failed (`http-404`); the first URL's reason
    when the start page has no record (a redirect recorded under its target)."""
    reason: str | None = await session.scalar(
        select(CrawlPage.reason)
        .where(CrawlPage.crawl_job_id == job_id)
        .order_by((CrawlPage.url != start_url), CrawlPage.depth, CrawlPage.created_at)
        .limit(1)
    )
    return reason


async def count_crawl_pages(session: AsyncSession, job_id: uuid.UUID) -> int:
    """The URLs the crawl recorded an outcome for."""
    statement = select(func.count()).where(CrawlPage.crawl_job_id == job_id)
    return int(await session.scalar(statement) or 0)


async def remove_unseen_pages(
    session: AsyncSession, job_id: uuid.UUID, source_id: uuid.UUID
) -> int:
    """Delete (with their chunks) the source's pages this crawl did not find again.

    A page is kept when the crawl indexed it (new, changed or unchanged) or failed on it for a
    reason that may pass (a timeout, a 5xx): an outage must not empty the index. A 4xx, a
    noindex, a robots rule or no link leading to it any more removes it.
    """
    seen = (
        select(CrawlPage.id)
        .where(
            CrawlPage.crawl_job_id == job_id,
            CrawlPage.url == Page.url,
            or_(
                CrawlPage.outcome.in_((PageOutcome.indexed, PageOutcome.unchanged)),
                and_(
                    CrawlPage.outcome == PageOutcome.failed,
                    not_(func.coalesce(CrawlPage.reason, "").like("http-4%")),
                ),
            ),
        )
        .exists()
    )
    result = await session.execute(
        delete(Page).where(Page.source_id == source_id, not_(seen)).returning(Page.id)
    )
    return len(result.all())


async def known_pages(session: AsyncSession, source_id: uuid.UUID) -> dict[str, KnownPage]:
    """The source's pages that a conditional request can check: those stored with an ETag
    or a Last-Modified and their links."""
    statement = select(Page.url, Page.etag, Page.last_modified, Page.links).where(
        Page.source_id == source_id,
        Page.links.is_not(None),  # a 304 has no body: the crawl goes on from these
        or_(Page.etag.is_not(None), Page.last_modified.is_not(None)),
    )
    known = {
        url: KnownPage(Validators(etag, last_modified), tuple(links or ()))
        for url, etag, last_modified, links in (await session.execute(statement)).all()
    }
    # Link lists are not pages; the last completed crawl recorded theirs.
    last_crawl = (
        select(CrawlJob.id)
        .where(CrawlJob.source_id == source_id, CrawlJob.status == CrawlStatus.completed)
        .order_by(CrawlJob.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    link_lists = select(
        CrawlPage.url, CrawlPage.etag, CrawlPage.last_modified, CrawlPage.links
    ).where(
        CrawlPage.crawl_job_id == last_crawl,
        CrawlPage.reason == LINK_LIST,
        CrawlPage.links.is_not(None),
        or_(CrawlPage.etag.is_not(None), CrawlPage.last_modified.is_not(None)),
    )
    for url, etag, last_modified, links in (await session.execute(link_lists)).all():
        known.setdefault(
            url, KnownPage(Validators(etag, last_modified), tuple(links or ()), LINK_LIST)
        )
    return known
