"""The `crawling.run` job: crawl one site, storing every page as it comes.

Each page is committed in its own short transaction, so a worker killed mid-crawl loses
nothing already stored; when the queue runs the job again, URLs this job already recorded are
handed to the engine as done (with their outcomes and links) and are neither fetched nor stored
twice; only those indexed count against the page budget again.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from procrastinate import JobContext
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.billing.usage import settle_crawl_pages
from sitechat.chatbots import repository as chatbot_repository
from sitechat.chatbots.lifecycle import settle_after_training
from sitechat.config import CrawlSettings
from sitechat.core.clock import utcnow
from sitechat.core.state import TaskContext, task_context
from sitechat.crawling import repository
from sitechat.crawling.browser import BrowserConfig, PageRenderer
from sitechat.crawling.engine import (
    OUTSIDE_PATH_FILTERS,
    CrawlCounts,
    CrawlPlan,
    PageResult,
    PageStatus,
    run_crawl,
)
from sitechat.crawling.fetcher import Fetcher, FetcherConfig
from sitechat.crawling.indexer import CrawlTarget, store_page_result, store_unchanged_results
from sitechat.crawling.service import settle_source
from sitechat.knowledge.dense import DenseSetup
from sitechat.knowledge.tasks import defer_embedding
from sitechat.models.chatbots import SourceStatus
from sitechat.models.crawling import CrawlJob, CrawlStatus, CrawlTrigger, PageOutcome
from sitechat.webhooks.service import emit as emit_webhook
from sitechat.webhooks.tasks import defer_deliveries
from sitechat.worker.queue import queue

log = structlog.get_logger()

CANCEL_CHECK_SECONDS = 0.5
UNCHANGED_BATCH = 100
SAFE_ERROR_MESSAGE = "The crawl stopped on an internal error; retry it, or contact support."
# A recorded outcome as the engine reports it, so a resumed attempt counts what the earlier
# one did the way that one counted it (a skipped or failed page spends no page budget).
_STATUS_OF: dict[PageOutcome, PageStatus] = {
    PageOutcome.indexed: "indexed",
    PageOutcome.unchanged: "unchanged",
    PageOutcome.skipped: "skipped",
    PageOutcome.failed: "failed",
}


@queue.task(name="crawling.run", pass_context=True)
async def run_crawl_task(job: JobContext, crawl_job_id: str) -> None:
    await run_crawl_job(task_context(job), uuid.UUID(crawl_job_id))


def fetcher_config(settings: CrawlSettings) -> FetcherConfig:
    return FetcherConfig(
        user_agent=settings.user_agent,
        per_host_concurrency=settings.per_host_concurrency,
        delay_seconds=settings.delay_seconds,
        max_bytes=settings.max_page_bytes,
        timeout_seconds=settings.request_timeout_seconds,
        allowed_hosts=frozenset(settings.allowed_hosts),
    )


def browser_config(settings: CrawlSettings) -> BrowserConfig | None:
    """The headless browser for pages only scripts write; None when the operator set none."""
    if settings.browser is None:
        return None
    return BrowserConfig(
        executable=settings.browser,
        max_pages_at_once=settings.browser_concurrency,
        page_timeout_seconds=settings.browser_timeout_seconds,
        user_agent=settings.user_agent,
    )


@dataclass(frozen=True)
class _Start:
    target: CrawlTarget
    plan: CrawlPlan


async def run_crawl_job(context: TaskContext, job_id: uuid.UUID) -> None:
    """Run (or resume) one crawl job to a final status. Safe to call again for the same job."""
    # Every line the crawl logs, down to the fetcher, sitemap and robots.txt, names its job,
    # so crawls running at once in one worker can be told apart.
    with structlog.contextvars.bound_contextvars(crawl_job_id=str(job_id)):
        start = await _mark_running(context, job_id, context.settings.crawl)
        if start is None:
            return
        with structlog.contextvars.bound_contextvars(chatbot_id=str(start.target.chatbot_id)):
            await _crawl_to_the_end(context, start)


async def _crawl_to_the_end(context: TaskContext, start: _Start) -> None:
    settings = context.settings.crawl
    dense = context.component(DenseSetup).dense
    job_id = start.target.job_id
    sink = JobSink(context, start.target)
    try:
        async with contextlib.AsyncExitStack() as stack:
            fetcher = await stack.enter_async_context(Fetcher(fetcher_config(settings)))
            renderer = None
            if (browser := browser_config(settings)) is not None:
                renderer = await stack.enter_async_context(PageRenderer(browser, fetcher))
            outcome = await run_crawl(start.plan, fetcher, sink, renderer=renderer)
        await sink.flush()
    except Exception:
        log.exception("crawl.job_failed")
        await _finish(context, job_id, CrawlStatus.failed, "error", SAFE_ERROR_MESSAGE)
        await defer_embedding(dense, start.target.chatbot_id)  # the pages stored so far
        return
    stop_reason: str = outcome.stop_reason
    if stop_reason == "cancelled":
        await _finish(context, job_id, CrawlStatus.cancelled, "cancelled", None)
    elif (error := await _nothing_indexed_error(context, start)) is not None:
        # A crawl that indexed no page failed (its start page is gone, robots.txt keeps it
        # out, no page matches its include_paths); what earlier crawls indexed stays, since
        # only a completed crawl removes.
        stop_reason = "nothing-indexed"
        await _finish(context, job_id, CrawlStatus.failed, stop_reason, error)
    else:
        await _finish(context, job_id, CrawlStatus.completed, stop_reason, None)
    log.info("crawl.job_finished", stop_reason=stop_reason)
    # Dense retrieval (when on): vectors for the pages this crawl stored, in a job of its own.
    await defer_embedding(dense, start.target.chatbot_id)


async def _nothing_indexed_error(context: TaskContext, start: _Start) -> str | None:
    """The crawl's error when it indexed no page, saying why; None when it indexed one."""
    job_id = start.target.job_id
    async with context.session() as session:
        if await repository.indexed_any(session, job_id):
            return None
        reason = await repository.start_reason(session, job_id, start.plan.start_url)
        recorded = await repository.count_crawl_pages(session, job_id)
        served = await repository.source_has_pages(session, start.target.source_id)
    kept = "Nothing was indexed" + ("; the pages indexed before are kept." if served else ".")
    if reason == OUTSIDE_PATH_FILTERS:
        # Only URLs inside the filters are recorded, besides the start page (a link inside
        # them that redirects outside is recorded under its target, skipped the same way).
        if recorded <= 1:
            return (
                "No page matched the include_paths / exclude_paths rules: the start page is "
                "outside them (followed for its links only) and no page it leads to is inside "
                f"them. {kept}"
            )
        return (
            f"None of the {recorded - 1} pages matching the include_paths / exclude_paths "
            f"rules could be indexed; the crawl's pages say why. {kept}"
        )
    if reason is not None and reason.startswith("http-"):
        return f"The start page answered HTTP {reason.removeprefix('http-')}. {kept}"
    if reason == "robots-disallowed":
        return f"The site's robots.txt does not allow the start page. {kept}"
    if reason is not None:
        return f"The start page could not be indexed ({reason}). {kept}"
    return f"No page could be fetched from the start URL. {kept}"


async def _mark_running(
    context: TaskContext, job_id: uuid.UUID, settings: CrawlSettings
) -> _Start | None:
    async with context.session() as session:
        job = await repository.get_job_unscoped(session, job_id, for_update=True)
        if job is None or not job.status.is_active:
            log.info("crawl.job_skipped", reason="not active")
            return None
        chatbot = await chatbot_repository.get_chatbot_unscoped(session, job.chatbot_id)
        if chatbot is None:
            return None
        now = utcnow()
        if job.cancel_requested_at is not None:
            job.status = CrawlStatus.cancelled
            job.stop_reason = "cancelled"
            job.finished_at = now
            await settle_crawl_pages(session, job)
            await _settle_chatbot(session, job.chatbot_id)
            await settle_source(session, job)
            return None
        job.status = CrawlStatus.running
        job.attempts += 1
        job.started_at = job.started_at or now
        if (source := await repository.get_source_unscoped(session, job.source_id)) is not None:
            source.status = SourceStatus.processing
        done = await repository.done_urls(session, job.id)
        known_pages = {}
        if job.trigger is CrawlTrigger.schedule:
            known_pages = await repository.known_pages(session, job.source_id)
        plan = CrawlPlan(
            start_url=job.start_url,
            max_pages=job.max_pages,
            max_depth=job.max_depth,
            include_paths=tuple(job.include_paths),
            exclude_paths=tuple(job.exclude_paths),
            use_sitemap=job.use_sitemap,
            respect_robots=job.respect_robots,
            max_seconds=float(settings.max_job_seconds),
            max_total_bytes=settings.max_job_bytes,
            concurrency=max(1, settings.per_host_concurrency),
            already_done={url: _STATUS_OF[outcome] for url, (outcome, _) in done.items()},
            already_done_links={url: tuple(links) for url, (_, links) in done.items()},
            known_pages=known_pages,
        )
        target = CrawlTarget(
            job_id=job.id,
            workspace_id=job.workspace_id,
            chatbot_id=job.chatbot_id,
            source_id=job.source_id,
            language=chatbot.language,
        )
        log.info("crawl.job_started", attempt=job.attempts)
        return _Start(target=target, plan=plan)


async def _finish(
    context: TaskContext,
    job_id: uuid.UUID,
    status: CrawlStatus,
    stop_reason: str,
    error: str | None,
) -> None:
    deliveries: list[uuid.UUID] = []
    async with context.session() as session:
        job = await repository.get_job_unscoped(session, job_id, for_update=True)
        if job is None:  # the chatbot or source was deleted meanwhile
            return
        if status is CrawlStatus.completed and stop_reason == "completed":
            # Only a crawl that walked the whole site knows which pages are gone.
            job.pages_removed = await repository.remove_unseen_pages(session, job.id, job.source_id)
        job.status = status
        job.stop_reason = stop_reason
        job.error = error
        job.finished_at = utcnow()
        # The pages it did not index go back to the plan's allowance.
        await settle_crawl_pages(session, job)
        await _settle_chatbot(session, job.chatbot_id)
        await settle_source(session, job)
        if status in (CrawlStatus.completed, CrawlStatus.failed):
            deliveries = await emit_webhook(
                session, job.workspace_id, f"crawl.{status.value}", _crawl_event(job)
            )
        if status is CrawlStatus.completed:
            # The website source now holds what the crawl found (new, changed, removed pages).
            deliveries += await emit_webhook(
                session, job.workspace_id, "source.synced", _synced_event(job)
            )
    await defer_deliveries(deliveries)


def _crawl_event(job: CrawlJob) -> dict[str, Any]:
    return {
        "crawl_id": str(job.id),
        "chatbot_id": str(job.chatbot_id),
        "status": job.status.value,
        "start_url": job.start_url,
        "stop_reason": job.stop_reason,
        "pages_fetched": job.pages_fetched,
        "pages_indexed": job.pages_indexed,
        "pages_failed": job.pages_failed,
        "error": job.error,
    }


def _synced_event(job: CrawlJob) -> dict[str, Any]:
    return {
        "source_id": str(job.source_id),
        "chatbot_id": str(job.chatbot_id),
        "kind": "website",
        "crawl_id": str(job.id),
        # "completed": the whole site was walked, so pages it no longer has were removed.
        "stop_reason": job.stop_reason,
        "pages_new": job.pages_new,
        "pages_changed": job.pages_changed,
        "pages_unchanged": job.pages_unchanged,
        "pages_removed": job.pages_removed,
    }


async def _settle_chatbot(session: AsyncSession, chatbot_id: uuid.UUID) -> None:
    chatbot = await chatbot_repository.get_chatbot_unscoped(session, chatbot_id, for_update=True)
    if chatbot is not None:
        has_chunks = await chatbot_repository.has_chunks(session, chatbot_id)
        settle_after_training(chatbot, has_chunks=has_chunks)


class JobSink:
    """The engine's `CrawlSink` for one job: every page in its own committed transaction,
    except pages answered 304, which are written in batches (each is a few rows; one
    transaction per page would make an unchanged re-sync wait on commits)."""

    def __init__(self, context: TaskContext, target: CrawlTarget) -> None:
        self.context = context
        self.dense = context.component(DenseSetup).dense
        self.target = target
        self._stop = False
        self._checked_at = float("-inf")
        self._unchanged: list[PageResult] = []

    async def page_processed(self, result: PageResult) -> None:
        if result.status == "unchanged":
            self._unchanged.append(result)
            if len(self._unchanged) >= UNCHANGED_BATCH:
                await self.flush()
            return
        async with self.context.session() as session:
            await store_page_result(session, self.target, result, utcnow(), self.dense)

    async def flush(self) -> None:
        """Write the 304s held back (a crash before this only re-asks for them)."""
        if not self._unchanged:
            return
        batch, self._unchanged = self._unchanged, []
        async with self.context.session() as session:
            await store_unchanged_results(session, self.target, batch, utcnow())

    async def should_stop(self) -> bool:
        """True once a cancel was asked for (or the job was deleted); reads the row at most
        every `CANCEL_CHECK_SECONDS`."""
        if self._stop or time.monotonic() - self._checked_at < CANCEL_CHECK_SECONDS:
            return self._stop
        self._checked_at = time.monotonic()
        async with self.context.session() as session:
            exists, cancel_requested_at = await repository.cancel_requested_at(
                session, self.target.job_id
            )
        self._stop = not exists or cancel_requested_at is not None
        return self._stop

    async def progress(self, counts: CrawlCounts) -> None:
        await self.flush()
        async with self.context.session() as session:
            await repository.record_frontier(
                session, self.target.job_id, counts.discovered, counts.unvisited
            )
