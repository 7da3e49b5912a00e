"""Crawl rules on the API side: start (one active crawl per chatbot), cancel, retry, read.

The crawl itself runs in the `crawling.run` job (`tasks.py`); this module only creates and
steers `CrawlJob` rows. **A crawl is queued in one place, `queue_crawl`**: a start and a retry
(here) and a scheduled re-sync (`sources/scheduling.py`) all go through it, and the job is
sent when the transaction that queued it commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.auth.caller import Caller
from sitechat.billing.plans import PlanCatalog
from sitechat.billing.usage import ensure_crawl_size, reserve_crawl_pages, settle_crawl_pages
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
from sitechat.models.chatbots import Chatbot, ChatbotStatus, Source, SourceKind, SourceStatus
from sitechat.models.crawling import CrawlJob, CrawlPage, CrawlStatus, CrawlTrigger, PageOutcome
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


async def _requested_pages(
    session: AsyncSession,
    plans: PlanCatalog,
    caller: Caller,
    requested: int | None,
    settings: CrawlSettings,
) -> int:
    """The pages a start asks for: the server's default when it names none (the plan and the
    month cap it when reserved); a number above the server's cap is 422, above the plan's 402."""
    if requested is None:
        return min(settings.default_max_pages, settings.max_pages_cap)
    if requested > settings.max_pages_cap:
        raise CrawlFieldInvalid("max_pages", f"at most {settings.max_pages_cap} pages per crawl")
    await ensure_crawl_size(session, plans, caller.workspace_id, requested)
    return requested


@dataclass(frozen=True)
class CrawlParameters:
    """What a crawl of a website source asks for. A retry and a scheduled re-sync ask for what
    the crawl they follow asked for (`requested_pages`, not the `max_pages` it was granted,
    which the month's allowance may have shrunk); a re-sync follows the source's latest
    completed crawl (`sources.repository.crawl_to_repeat`)."""

    start_url: str
    requested_pages: int
    max_depth: int
    include_paths: tuple[str, ...]
    exclude_paths: tuple[str, ...]
    use_sitemap: bool
    respect_robots: bool

    @classmethod
    def of(cls, job: CrawlJob) -> CrawlParameters:
        return cls(
            start_url=job.start_url,
            requested_pages=job.requested_pages,
            max_depth=job.max_depth,
            include_paths=tuple(job.include_paths),
            exclude_paths=tuple(job.exclude_paths),
            use_sitemap=job.use_sitemap,
            respect_robots=job.respect_robots,
        )


async def queue_crawl(
    session: AsyncSession,
    jobs: JobBuffer,
    plans: PlanCatalog,
    source: Source,
    parameters: CrawlParameters,
    *,
    trigger: CrawlTrigger,
    now: datetime,
    idempotency_key: str | None = None,
) -> CrawlJob:
    """Queue a crawl of `source`: a start, a retry and a scheduled re-sync all come here.

    Its pages of the plan's month are reserved now (402 once none are left; the job's
    `max_pages` is what it asked for, capped by the plan's `crawl_max_pages` and by what is
    left), so crawls queued together cannot overshoot the allowance. The `queued` job is
    inserted (409 `crawl-in-progress` when the chatbot has an active crawl) and `crawling.run`
    is buffered, sent when the transaction commits.
    """
    job_id = new_id()
    max_pages = await reserve_crawl_pages(
        session,
        plans,
        source.workspace_id,
        crawl_job_id=job_id,
        chatbot_id=source.chatbot_id,
        wanted=parameters.requested_pages,
    )
    job = CrawlJob(
        id=job_id,
        workspace_id=source.workspace_id,
        chatbot_id=source.chatbot_id,
        source_id=source.id,
        status=CrawlStatus.queued,
        trigger=trigger,
        start_url=parameters.start_url,
        requested_pages=parameters.requested_pages,
        max_pages=max_pages,
        max_depth=parameters.max_depth,
        include_paths=list(parameters.include_paths),
        exclude_paths=list(parameters.exclude_paths),
        use_sitemap=parameters.use_sitemap,
        respect_robots=parameters.respect_robots,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:
        # The partial unique index saw a crawl a check missed (a concurrent request).
        active = await chatbot_repository.find_active_crawl(session, source.chatbot_id)
        if active is None:
            raise
        raise CrawlInProgress(active.id) from None
    jobs.defer(
        RUN_TASK,
        crawl_job_id=str(job.id),
        queueing_lock=chatbot_repository.crawl_queueing_lock(job.id),
        # One running crawl per workspace: a busy workspace queues behind itself, not in
        # front of everyone else.
        lock=repository.workspace_lock_of(source.workspace_id),
    )
    log.info(
        "crawl.queued",
        crawl_job_id=str(job.id),
        chatbot_id=str(source.chatbot_id),
        workspace_id=str(source.workspace_id),
        trigger=trigger.value,
    )
    return job


async def start_crawl(
    session: AsyncSession,
    jobs: JobBuffer,
    plans: PlanCatalog,
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
    requested_pages = await _requested_pages(session, plans, caller, request.max_pages, settings)
    source = await chatbot_repository.find_website_source(session, chatbot.id, canonical_url)
    if source is None:
        source = Source(
            workspace_id=chatbot.workspace_id,
            chatbot_id=chatbot.id,
            kind=SourceKind.website,
            title=canonical_url[:500],
            url=canonical_url,
            status=SourceStatus.queued,
        )
        session.add(source)
        await session.flush()  # the source's id
    parameters = CrawlParameters(
        start_url=request.url,
        requested_pages=requested_pages,
        max_depth=request.max_depth,
        include_paths=tuple(request.include_paths),
        exclude_paths=tuple(request.exclude_paths),
        use_sitemap=request.use_sitemap,
        respect_robots=request.respect_robots,
    )
    job = await _train(session, jobs, plans, chatbot, source, parameters, request.idempotency_key)
    return job, True


async def _refuse_second_crawl(session: AsyncSession, chatbot: Chatbot) -> None:
    active = await chatbot_repository.find_active_crawl(session, chatbot.id)
    if active is not None:
        raise CrawlInProgress(active.id)


async def _train(
    session: AsyncSession,
    jobs: JobBuffer,
    plans: PlanCatalog,
    chatbot: Chatbot,
    source: Source,
    parameters: CrawlParameters,
    idempotency_key: str | None,
) -> CrawlJob:
    """A crawl someone asked for: queued, and the chatbot `training` until it ends (a
    scheduled re-sync leaves a ready chatbot answering)."""
    job = await queue_crawl(
        session,
        jobs,
        plans,
        source,
        parameters,
        trigger=CrawlTrigger.manual,
        now=utcnow(),
        idempotency_key=idempotency_key,
    )
    transition(chatbot, ChatbotStatus.training, Actor.system)
    # Like a file's new version: queued, its pages (if any) answered from meanwhile.
    source.status = SourceStatus.queued
    source.error = None
    return job


CANCELLED_BEFORE_ANY_PAGE = "The crawl was cancelled before it indexed a page."


async def settle_source(session: AsyncSession, job: CrawlJob) -> None:
    """The website source once its crawl ended, told the way a file source's run is: `ready`
    while it has pages to answer from (a failed crawl's `error` saying why they are the old
    ones), `failed` with the crawl's error when it has none."""
    source = await repository.get_source_unscoped(session, job.source_id)
    if source is None:
        return
    if job.status is CrawlStatus.completed:
        source.status, source.error = SourceStatus.ready, None
        source.last_synced_at = job.finished_at
        return
    served = await repository.source_has_pages(session, source.id)
    source.status = SourceStatus.ready if served else SourceStatus.failed
    if job.status is CrawlStatus.failed:
        source.error = job.error
    else:  # cancelled
        source.error = None if served else CANCELLED_BEFORE_ANY_PAGE


async def retry_crawl(
    session: AsyncSession, jobs: JobBuffer, plans: PlanCatalog, caller: Caller, job_id: uuid.UUID
) -> CrawlJob:
    """A new crawl with the same parameters as a failed or cancelled one; like a start, it
    reserves its pages (402 once none are left)."""
    previous = await get_crawl(session, caller, job_id)
    if previous.status not in (CrawlStatus.failed, CrawlStatus.cancelled):
        raise CrawlNotRetryable(previous.status)
    chatbot = await _chatbot(session, caller, previous.chatbot_id, for_update=True)
    source = await session.get(Source, previous.source_id)
    if source is None:
        raise NotFound("Crawl")
    await _refuse_second_crawl(session, chatbot)  # 409 before any page is reserved
    parameters = CrawlParameters.of(previous)
    return await _train(session, jobs, plans, chatbot, source, parameters, None)


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
        await settle_crawl_pages(session, job)
        chatbot = await chatbot_repository.get_chatbot_unscoped(
            session, job.chatbot_id, for_update=True
        )
        if chatbot is not None:
            has_chunks = await chatbot_repository.has_chunks(session, chatbot.id)
            settle_after_training(chatbot, has_chunks=has_chunks)
        await settle_source(session, job)
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
