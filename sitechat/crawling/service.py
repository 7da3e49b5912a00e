"""Crawl rules on the API side: start (one active crawl per chatbot), cancel, retry, read.

The crawl itself runs in the `crawling.run` job (`tasks.py`); this module only creates and
steers `CrawlJob` rows and queues that job after the request commits.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.auth.caller import Caller
from sitechat.billing.usage import reserve_crawl_pages, settle_crawl_pages
from sitechat.chatbots import repository as chatbot_repository
from sitechat.chatbots.errors import CrawlInProgress
from sitechat.chatbots.lifecycle import Actor, settle_after_training, transition
from sitechat.config import CrawlSettings
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound
from sitechat.core.pagination import decode_cursor, next_cursor_of
from sitechat.core.ssrf import UnsafeUrlError, check_url_syntax
from sitechat.crawling import repository
from sitechat.crawling.errors import (
    CrawlFieldInvalid,
    CrawlNotActive,
    CrawlNotRetryable,
    UnsafeCrawlUrl,
)
from sitechat.crawling.schemas import CrawlCreate
from sitechat.crawling.urls import canonicalize_url
from sitechat.knowledge import repository as knowledge_repository
from sitechat.models.base import new_id
from sitechat.models.chatbots import Chatbot, ChatbotStatus, Source, SourceKind
from sitechat.models.crawling import CrawlJob, CrawlPage, CrawlStatus, PageOutcome
from sitechat.models.knowledge import Page
from sitechat.worker.buffer import JobBuffer

log = structlog.get_logger()

RUN_TASK = "crawling.run"


async def _chatbot(
    session: AsyncSession, caller: Caller, chatbot_id: uuid.UUID, *, for_update: bool = False
) -> Chatbot:
    chatbot = await chatbot_repository.get_chatbot(
        session, caller.workspace_id, chatbot_id, for_update=for_update
    )
    if chatbot is None:
        raise NotFound("Chatbot")
    return chatbot


async def get_crawl(
    session: AsyncSession, caller: Caller, job_id: uuid.UUID, *, for_update: bool = False
) -> CrawlJob:
    job = await repository.get_job(session, caller.workspace_id, job_id, for_update=for_update)
    if job is None:
        raise NotFound("Crawl")
    return job


def checked_start_url(url: str, settings: CrawlSettings) -> str:
    try:
        check_url_syntax(url, allowed_hosts=frozenset(settings.allowed_hosts))
    except UnsafeUrlError as error:
        raise UnsafeCrawlUrl(error.reason, error.detail) from None
    canonical = canonicalize_url(url)
    if canonical is None:
        raise UnsafeCrawlUrl("invalid-url", "The URL cannot be crawled.")
    return canonical


def _max_pages(requested: int | None, settings: CrawlSettings) -> int:
    if requested is None:
        return min(settings.default_max_pages, settings.max_pages_cap)
    if requested > settings.max_pages_cap:
        raise CrawlFieldInvalid("max_pages", f"at most {settings.max_pages_cap} pages per crawl")
    return requested


async def start_crawl(
    session: AsyncSession,
    jobs: JobBuffer,
    caller: Caller,
    settings: CrawlSettings,
    chatbot_id: uuid.UUID,
    request: CrawlCreate,
) -> tuple[CrawlJob, bool]:
    """Queue a crawl of `request.url`; returns the job and whether it was created now
    (False: the idempotency key named an earlier crawl, which is returned instead)."""
    # Locking the chatbot row serializes concurrent starts for one chatbot.
    chatbot = await _chatbot(session, caller, chatbot_id, for_update=True)
    if request.idempotency_key is not None:
        earlier = await repository.find_job_by_idempotency_key(
            session, chatbot.id, request.idempotency_key
        )
        if earlier is not None:
            return earlier, False
    canonical_url = checked_start_url(request.url, settings)
    await _refuse_second_crawl(session, chatbot)  # 409 before any page is reserved
    job_id = new_id()
    # The crawl reserves its pages of the plan's allowance now (402 once it is spent), so
    # crawls started together cannot overshoot it; the job's `max_pages` shows what it got.
    max_pages = await reserve_crawl_pages(
        session,
        chatbot.workspace_id,
        crawl_job_id=job_id,
        chatbot_id=chatbot.id,
        wanted=_max_pages(request.max_pages, settings),
    )
    source = await chatbot_repository.find_website_source(session, chatbot.id, canonical_url)
    if source is None:
        source = Source(
            workspace_id=chatbot.workspace_id,
            chatbot_id=chatbot.id,
            kind=SourceKind.website,
            title=canonical_url[:500],
            url=canonical_url,
        )
        session.add(source)
    job = CrawlJob(
        id=job_id,
        workspace_id=chatbot.workspace_id,
        chatbot_id=chatbot.id,
        status=CrawlStatus.queued,
        start_url=request.url,
        max_pages=max_pages,
        max_depth=request.max_depth,
        include_paths=list(request.include_paths),
        exclude_paths=list(request.exclude_paths),
        use_sitemap=request.use_sitemap,
        respect_robots=request.respect_robots,
        idempotency_key=request.idempotency_key,
        created_at=utcnow(),
    )
    await _queue_job(session, jobs, chatbot, source, job)
    return job, True


async def _refuse_second_crawl(session: AsyncSession, chatbot: Chatbot) -> None:
    active = await chatbot_repository.find_active_crawl(session, chatbot.id)
    if active is not None:
        raise CrawlInProgress(active.id)


async def _queue_job(
    session: AsyncSession, jobs: JobBuffer, chatbot: Chatbot, source: Source, job: CrawlJob
) -> None:
    transition(chatbot, ChatbotStatus.training, Actor.system)
    await session.flush()  # the source's id
    job.source_id = source.id
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:
        # The partial unique index saw a crawl our check missed (a concurrent request).
        active = await chatbot_repository.find_active_crawl(session, chatbot.id)
        if active is None:
            raise
        raise CrawlInProgress(active.id) from None
    jobs.defer(
        RUN_TASK,
        crawl_job_id=str(job.id),
        queueing_lock=chatbot_repository.crawl_queueing_lock(job.id),
        # One running crawl per workspace: a busy workspace queues behind itself, not in
        # front of everyone else.
        lock=repository.workspace_lock_of(chatbot.workspace_id),
    )
    log.info(
        "crawl.queued",
        crawl_job_id=str(job.id),
        chatbot_id=str(chatbot.id),
        workspace_id=str(chatbot.workspace_id),
    )


async def retry_crawl(
    session: AsyncSession, jobs: JobBuffer, caller: Caller, job_id: uuid.UUID
) -> CrawlJob:
    """A new crawl with the same parameters as a failed or cancelled one."""
    previous = await get_crawl(session, caller, job_id)
    if previous.status not in (CrawlStatus.failed, CrawlStatus.cancelled):
        raise CrawlNotRetryable(previous.status)
    chatbot = await _chatbot(session, caller, previous.chatbot_id, for_update=True)
    source = await session.get(Source, previous.source_id)
    if source is None:
        raise NotFound("Crawl")
    await _refuse_second_crawl(session, chatbot)  # 409 before any page is reserved
    job_id = new_id()
    # A retry is a new crawl: it reserves its pages like a start (402 once none are left).
    max_pages = await reserve_crawl_pages(
        session,
        previous.workspace_id,
        crawl_job_id=job_id,
        chatbot_id=previous.chatbot_id,
        wanted=previous.max_pages,
    )
    job = CrawlJob(
        id=job_id,
        workspace_id=previous.workspace_id,
        chatbot_id=previous.chatbot_id,
        status=CrawlStatus.queued,
        start_url=previous.start_url,
        max_pages=max_pages,
        max_depth=previous.max_depth,
        include_paths=list(previous.include_paths),
        exclude_paths=list(previous.exclude_paths),
        use_sitemap=previous.use_sitemap,
        respect_robots=previous.respect_robots,
        created_at=utcnow(),
    )
    await _queue_job(session, jobs, chatbot, source, job)
    return job


async def cancel_crawl(session: AsyncSession, caller: Caller, job_id: uuid.UUID) -> CrawlJob:
    """A queued crawl is cancelled at once; a running one is asked to stop and does so within
    a couple of seconds, keeping the pages it already indexed."""
    job = await get_crawl(session, caller, job_id, for_update=True)
    if not job.status.is_active:
        raise CrawlNotActive(job.status)
    now = utcnow()
    job.cancel_requested_at = job.cancel_requested_at or now
    if job.status is CrawlStatus.queued:
        await chatbot_repository.cancel_queued_crawl(session, job.id)
        job.status = CrawlStatus.cancelled
        job.stop_reason = "cancelled"
        job.finished_at = now
        await settle_crawl_pages(session, job.id, job.pages_indexed)
        chatbot = await chatbot_repository.get_chatbot_unscoped(
            session, job.chatbot_id, for_update=True
        )
        if chatbot is not None:
            has_chunks = await chatbot_repository.has_chunks(session, chatbot.id)
            settle_after_training(chatbot, has_chunks=has_chunks)
    await session.flush()
    log.info("crawl.cancel_requested", crawl_job_id=str(job.id), status=job.status.value)
    return job


async def list_crawls(
    session: AsyncSession, caller: Caller, chatbot_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[CrawlJob], str | None]:
    await _chatbot(session, caller, chatbot_id)
    rows = await repository.list_jobs(
        session, caller.workspace_id, chatbot_id, before_id=decode_cursor(cursor), limit=limit
    )
    return rows[:limit], next_cursor_of([row.id for row in rows], limit)


async def list_crawl_pages(
    session: AsyncSession,
    caller: Caller,
    job_id: uuid.UUID,
    *,
    outcome: PageOutcome | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[CrawlPage], str | None]:
    await get_crawl(session, caller, job_id)
    rows = await repository.list_crawl_pages(
        session,
        caller.workspace_id,
        job_id,
        outcome=outcome,
        before_id=decode_cursor(cursor),
        limit=limit,
    )
    return rows[:limit], next_cursor_of([row.id for row in rows], limit)


async def get_page(session: AsyncSession, caller: Caller, page_id: uuid.UUID) -> Page:
    page = await knowledge_repository.get_page(session, caller.workspace_id, page_id)
    if page is None:
        raise NotFound("Page")
    return page
