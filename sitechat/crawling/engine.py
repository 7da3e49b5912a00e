"""Crawl orchestration, independent of storage: what to fetch, in which order, until when.

The engine walks one site with a fixed pool of worker tasks, in the order that spends a page
budget best: the start page, the URLs its sitemaps list, then links breadth-first by depth. The
budget (``max_pages``) counts pages indexed: a link list (`extract.is_link_list`), a failure or
a skip gives its page back. Every URL outcome goes to a ``CrawlSink`` that the caller
implements (the job stores pages and commits as they come). A supervisor loop polls the sink
for cancellation and enforces the time budget, so a stop takes effect within about ``POLL_SECONDS``.

Every visited URL gets exactly one outcome, reported under a URL no other outcome uses: its
own canonical URL, or the redirect target / ``rel=canonical`` it was recorded under instead.
URLs found but never visited because the crawl stopped first (its page budget, time, bytes or
a cancel) are counted as ``unvisited``, so a truncated crawl says how much it left.

``include_paths`` / ``exclude_paths`` choose the pages indexed, by the URL each was fetched at
after its redirects or the canonical URL it names: a link inside them that redirects outside
them is skipped as ``outside-path-filters``. The start URL is where the walk begins whatever
they say: outside them (unless it leads inside them), it is fetched for its links only and
skipped the same way, so a crawl whose rules match no page indexes nothing.

A page that only scripts can write (`extract.needs_browser`) is rendered by the crawl's
``PageRenderer`` when it has one (``browser.py``) and extracted again from the rendered DOM;
without one it is skipped as ``needs-browser``, never stored empty.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol
from urllib.parse import urlsplit

import structlog

from sitechat.crawling.browser import PageRenderer
from sitechat.crawling.extract import ExtractedPage, extract_page, is_link_list, needs_browser
from sitechat.crawling.fetcher import Fetcher, FetchResult, Validators
from sitechat.crawling.robots import RobotsCache
from sitechat.crawling.sitemap import collect_sitemap_urls
from sitechat.crawling.urls import (
    canonicalize_absolute_url,
    canonicalize_url,
    matches_path_filters,
    same_site,
    strip_fragment,
)

log = structlog.get_logger()

POLL_SECONDS = 0.25

StopReason = Literal["completed", "max-pages", "time-budget", "byte-budget", "cancelled"]
# `unchanged`: a conditional request answered 304; the stored page stays as it is.
PageStatus = Literal["indexed", "unchanged", "skipped", "failed"]

# Fetch errors that mean "not a page for us" rather than "something went wrong".
SKIP_FETCH_ERRORS = frozenset({"content-type-not-allowed", "too-large"})
# A page only a browser can read, and the crawl has none (or it would not start).
NEEDS_BROWSER = "needs-browser"
BROWSER_UNAVAILABLE = "browser-unavailable"
# The start page outside include_paths / exclude_paths: a seed, followed for its links only.
OUTSIDE_PATH_FILTERS = "outside-path-filters"


@dataclass(frozen=True)
class CrawlPlan:
    start_url: str
    max_pages: int = 500
    max_depth: int = 5
    include_paths: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()
    use_sitemap: bool = True
    respect_robots: bool = True
    max_seconds: float = 3600.0
    max_total_bytes: int = 500_000_000
    concurrency: int = 8
    # Canonical URLs an earlier attempt of this job already committed, with the status it
    # recorded: counted as that attempt counted them (only an indexed or unchanged page spends
    # the budget), never re-reported. Their outgoing links are taken from
    # ``already_done_links`` when known; otherwise the page is fetched once more for its links.
    already_done: Mapping[str, PageStatus] = field(default_factory=dict)
    already_done_links: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # A re-sync: the stored pages' validators and links. Their fetches are conditional, and a
    # 304 keeps the page (no body, no extraction, no re-indexing) and follows its stored links.
    known_pages: Mapping[str, KnownPage] = field(default_factory=dict)


@dataclass(frozen=True)
class KnownPage:
    validators: Validators
    links: tuple[str, ...]
    # Why the last crawl skipped it (a link list, followed but not indexed); None: indexed.
    skip_reason: str | None = None


@dataclass(frozen=True)
class PageResult:
    """The outcome for one URL. ``url`` is unique per crawl; cite ``final_url`` to readers."""

    url: str
    status: PageStatus
    depth: int
    requested_url: str
    final_url: str | None = None
    http_status: int | None = None
    reason: str | None = None
    content_type: str | None = None
    bytes: int = 0
    elapsed_ms: float = 0.0
    page: ExtractedPage | None = None
    etag: str | None = None
    last_modified: str | None = None
    known: KnownPage | None = None  # a 304: what the last crawl stored of the page
    rendered: bool = False  # its text is the DOM the headless browser rendered


@dataclass(frozen=True)
class CrawlCounts:
    discovered: int = 0
    fetched: int = 0
    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    unvisited: int = 0  # found on the site but never fetched: the crawl stopped first


@dataclass(frozen=True)
class CrawlOutcome:
    counts: CrawlCounts
    stop_reason: StopReason


class CrawlSink(Protocol):
    """Where the engine reports. Its methods are never called concurrently with each other."""

    async def page_processed(self, result: PageResult) -> None: ...

    async def should_stop(self) -> bool: ...

    async def progress(self, counts: CrawlCounts) -> None: ...


# Visit order: the start page, then the URLs the sitemaps list, then links by depth.
START_TIER, SITEMAP_TIER, LINK_TIER = 0, 1, 2
# URLs kept in the frontier at most (per max_pages, and at least): past it, URLs are only
# counted as unvisited, so a site of millions of links cannot exhaust memory.
FRONTIER_PER_PAGE = 20
MIN_FRONTIER = 10_000
# Fetches allowed beyond the page budget: link lists, failures, duplicates, skips.
EXTRA_FETCHES_PER_PAGE = 1
MIN_EXTRA_FETCHES = 100


@dataclass(order=True, frozen=True)
class _Visit:
    tier: int
    depth: int
    sequence: int
    key: str = field(compare=False)
    url: str = field(compare=False)
    links_only: bool = field(default=False, compare=False)  # an already-done page, for links
    seed_only: bool = field(default=False, compare=False)  # a start page outside the filters


@dataclass(frozen=True)
class _Rendered:
    document: FetchResult  # as fetched, less the validators
    page: ExtractedPage  # extracted from the rendered DOM
    subrequest_bytes: int


@dataclass
class _Counters:
    discovered: int = 0
    fetched: int = 0
    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    unvisited: int = 0

    def snapshot(self) -> CrawlCounts:
        return CrawlCounts(
            self.discovered,
            self.fetched,
            self.indexed,
            self.skipped,
            self.failed,
            self.unvisited,
        )


async def run_crawl(
    plan: CrawlPlan, fetcher: Fetcher, sink: CrawlSink, *, renderer: PageRenderer | None = None
) -> CrawlOutcome:
    """Crawl ``plan.start_url``'s site and report every page to ``sink``; pages only scripts
    write are rendered by ``renderer`` (None: skipped as ``needs-browser``)."""
    return await _Crawl(plan, fetcher, sink, renderer).run()


class _Crawl:
    def __init__(
        self, plan: CrawlPlan, fetcher: Fetcher, sink: CrawlSink, renderer: PageRenderer | None
    ) -> None:
        self.plan = plan
        self.fetcher = fetcher
        self.sink = sink
        self.renderer = renderer
        self.robots = RobotsCache(fetcher)
        self.queue: asyncio.PriorityQueue[_Visit] = asyncio.PriorityQueue()
        self.sequence = itertools.count()
        self.claimed: set[str] = set()  # canonical URLs that have (or will get) an outcome
        self.content_hashes: set[str] = set()
        self.counters = _Counters()
        self.frontier_cap = max(MIN_FRONTIER, FRONTIER_PER_PAGE * plan.max_pages)
        # The page budget counts pages indexed; `reserved` are fetches that may still become
        # one. Link lists, failures and skips give their reservation back.
        self.reserved = 0
        self.fetches = 0
        self.fetch_allowance = plan.max_pages + max(
            MIN_EXTRA_FETCHES, EXTRA_FETCHES_PER_PAGE * plan.max_pages
        )
        self.budget_changed = asyncio.Condition()
        self.budget_spent = False
        self.total_bytes = 0
        self.stop_reason: StopReason | None = None
        self.sink_lock = asyncio.Lock()
        self.include = list(plan.include_paths)
        self.exclude = list(plan.exclude_paths)

    async def run(self) -> CrawlOutcome:
        started = time.monotonic()
        work = asyncio.create_task(self._work())
        reported = CrawlCounts()
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=POLL_SECONDS)
                if work.done() or self.stop_reason:
                    break
                if await self._ask_should_stop():
                    self.stop_reason = "cancelled"
                elif time.monotonic() - started > self.plan.max_seconds:
                    self.stop_reason = "time-budget"
                else:
                    reported = await self._report_progress(reported)
        finally:
            if not work.done():
                work.cancel()
            await asyncio.wait({work})
            self.robots.close()
        if not work.cancelled() and work.exception() is not None:
            raise _unwrap(work.exception())
        stop_reason: StopReason = self.stop_reason or (
            "max-pages" if self.budget_spent else "completed"
        )
        self.counters.unvisited += self.queue.qsize()  # left when the crawl stopped early
        counts = self.counters.snapshot()
        await self._report_progress(reported)
        log.info("crawl.finished", start_url=self.plan.start_url, stop_reason=stop_reason)
        return CrawlOutcome(counts=counts, stop_reason=stop_reason)

    async def _work(self) -> None:
        async with asyncio.TaskGroup() as group:
            workers = [
                group.create_task(self._worker()) for _ in range(max(1, self.plan.concurrency))
            ]
            if self.plan.use_sitemap:  # first, so a short budget goes to the pages they list
                await self._seed_from_sitemaps()
            await self._discover(self.plan.start_url, depth=0, tier=START_TIER)
            await self.queue.join()
            for worker in workers:  # idle, waiting on an empty queue
                worker.cancel()

    async def _worker(self) -> None:
        while True:
            visit = await self.queue.get()
            try:
                if self.stop_reason is not None:
                    self.counters.unvisited += 1
                elif visit.links_only:  # already counted by the attempt that stored it
                    await self._handle(visit)
                elif await self._take_budget():
                    try:
                        await self._handle(visit)
                    finally:
                        await self._return_budget()
                else:
                    self.counters.unvisited += 1
            finally:
                self.queue.task_done()

    async def _take_budget(self) -> bool:
        """Reserve a page of the budget for one fetch; False once the budget is spent.

        While every remaining page is reserved by fetches in flight, wait: one of them may
        turn out a link list or a failure and give its page back."""
        async with self.budget_changed:
            while True:
                if self.budget_spent:
                    return False
                if self.fetches >= self.fetch_allowance:
                    self.budget_spent = True
                    return False
                if self.counters.indexed + self.reserved < self.plan.max_pages:
                    self.reserved += 1
                    self.fetches += 1
                    return True
                if self.reserved == 0:
                    self.budget_spent = True
                    return False
                await self.budget_changed.wait()

    async def _return_budget(self) -> None:
        async with self.budget_changed:
            self.reserved -= 1
            self.budget_changed.notify_all()

    async def _handle(self, visit: _Visit) -> None:
        try:
            result, links = await self._process(visit)
        except Exception:  # one broken page must not end the crawl; sink errors still do
            log.exception("crawl.page_crashed", url=visit.url)
            result = PageResult(
                url=visit.key,
                status="failed",
                depth=visit.depth,
                requested_url=visit.url,
                reason="internal-error",
            )
            links = ()
        if result is not None:
            await self._record(result)
        if visit.depth < self.plan.max_depth:
            for link in links:
                await self._discover(link, depth=visit.depth + 1, tier=LINK_TIER)

    # -- discovery -------------------------------------------------------------------------

    async def _discover(self, url: str, *, depth: int, tier: int) -> None:
        key = canonicalize_absolute_url(url)
        if key is None or key in self.claimed:
            return
        wanted = matches_path_filters(key, self.include, self.exclude)
        if tier != START_TIER:
            if not same_site(key, self.plan.start_url) or depth > self.plan.max_depth:
                return
            if not wanted:
                return
        if len(self.claimed) >= self.frontier_cap:
            self.counters.unvisited += 1  # may count a URL twice: the set is what is capped
            return
        self.claimed.add(key)
        self.counters.discovered += 1
        fetch_url = strip_fragment(url)
        if (done := self.plan.already_done.get(key)) is not None:
            self._count(done)
            await self._revisit_done(key, fetch_url, depth, tier)
            return
        if self.plan.respect_robots and not await self.robots.allows(fetch_url):
            await self._record(
                PageResult(
                    url=key,
                    status="skipped",
                    depth=depth,
                    requested_url=fetch_url,
                    reason="robots-disallowed",
                )
            )
            return
        visit = _Visit(tier, depth, next(self.sequence), key, fetch_url, seed_only=not wanted)
        self.queue.put_nowait(visit)

    async def _revisit_done(self, key: str, url: str, depth: int, tier: int) -> None:
        known_links = self.plan.already_done_links.get(key)
        if known_links is None:
            visit = _Visit(tier, depth, next(self.sequence), key, url, links_only=True)
            self.queue.put_nowait(visit)
        elif depth < self.plan.max_depth:
            for link in known_links:
                await self._discover(link, depth=depth + 1, tier=LINK_TIER)

    async def _seed_from_sitemaps(self) -> None:
        start = urlsplit(self.plan.start_url)
        rules = await self.robots.rules_for(self.plan.start_url)
        # robots.txt may name sitemaps anywhere; only the crawled site's own are fetched (a
        # sitemap elsewhere would make us request a host the customer never named).
        sitemaps = [
            url
            for url in [*rules.sitemaps, f"{start.scheme}://{start.netloc}/sitemap.xml"]
            if same_site(url, self.plan.start_url)
        ]
        page_urls = await collect_sitemap_urls(
            self.fetcher, sitemaps, keep=lambda url: same_site(url, self.plan.start_url)
        )
        for url in page_urls:
            await self._discover(url, depth=0, tier=SITEMAP_TIER)

    # -- one page --------------------------------------------------------------------------

    async def _process(self, visit: _Visit) -> tuple[PageResult | None, tuple[str, ...]]:
        known = None if visit.links_only else self.plan.known_pages.get(visit.key)
        fetched = await self.fetcher.fetch(
            visit.url, validators=known.validators if known is not None else None
        )
        self._account(fetched)
        if known is not None and fetched.not_modified:
            # Still the link list it was, or a seed: its links only.
            skip_reason = OUTSIDE_PATH_FILTERS if visit.seed_only else known.skip_reason
            if skip_reason is not None:
                result = self._result(visit, fetched, "skipped", skip_reason)
            else:
                result = self._result(visit, fetched, "unchanged", "not-modified")
            return replace(result, known=known), known.links
        if visit.links_only:
            page = await self._extract(fetched) if fetched.ok else None
            if page is not None:
                self.content_hashes.add(page.content_hash)
            return None, page.links if page else ()
        if not fetched.ok:
            return self._fetch_problem(visit, fetched), ()

        record_url = visit.key
        final_key = canonicalize_url(fetched.final_url) or visit.key
        if final_key != visit.key:
            if not same_site(final_key, self.plan.start_url):
                return self._result(visit, fetched, "skipped", "off-site-redirect"), ()
            if not self._claim(final_key):
                return self._result(visit, fetched, "skipped", "duplicate-url"), ()
            record_url = final_key

        page = await self._extract(fetched)
        assert page is not None  # fetched.ok guarantees a body
        rendered: _Rendered | None = None
        if needs_browser(page):
            outcome = await self._render(visit, fetched, record_url)
            if isinstance(outcome, PageResult):
                return outcome, page.links
            rendered, fetched, page = outcome, outcome.document, outcome.page
        fetched_url = record_url  # where the redirects ended
        canonical = page.canonical_url
        if canonical and canonical != record_url and same_site(canonical, self.plan.start_url):
            if not self._claim(canonical):
                return self._result(
                    visit, fetched, "skipped", "duplicate-canonical", url=record_url
                ), page.links
            record_url = canonical

        if not any(
            matches_path_filters(url, self.include, self.exclude)
            for url in (fetched_url, record_url)
        ):
            # Judged where the redirects ended: a link inside the filters that redirects
            # outside them is not indexed, a start page outside them that leads inside is. A
            # canonical URL only lets a page in: versioned docs (`/docs/3.11/x` naming
            # `/docs/3/x`) stay indexed under `include_paths: ["/docs/3.11"]`.
            reason: str | None = OUTSIDE_PATH_FILTERS
        elif page.noindex:
            reason = "noindex"
        elif not page.markdown.strip():
            reason = "empty-content"
        elif is_link_list(page.markdown, url=record_url, link_density=page.link_density):
            reason = "link-list"  # followed for its links, never answered from
        elif page.content_hash in self.content_hashes:
            reason = "duplicate-content"
        else:
            reason = None
            self.content_hashes.add(page.content_hash)
        status: PageStatus = "indexed" if reason is None else "skipped"
        result = self._result(visit, fetched, status, reason, url=record_url, page=page)
        if rendered is not None:
            result = replace(result, rendered=True, bytes=result.bytes + rendered.subrequest_bytes)
        return result, page.links

    async def _render(
        self, visit: _Visit, fetched: FetchResult, record_url: str
    ) -> PageResult | _Rendered:
        """The page as the browser renders it, or the reason it is not stored."""
        if self.renderer is None:
            return self._result(visit, fetched, "skipped", NEEDS_BROWSER, url=record_url)
        rendered = await self.renderer.render(fetched, may_fetch=self._subrequest_allowed)
        self.total_bytes += rendered.bytes_fetched
        if rendered.html is None:
            status: PageStatus = "skipped" if rendered.error == "too-large" else "failed"
            return self._result(visit, fetched, status, rendered.error, url=record_url)
        # Its validators are the shell's: a re-sync could not tell that the data behind an
        # unchanged shell changed, so a rendered page is always fetched (and rendered) again.
        document = replace(fetched, etag=None, last_modified=None)
        page = await self._extract(replace(fetched, body=rendered.html.encode(), charset="utf-8"))
        assert page is not None
        return _Rendered(document, page, rendered.bytes_fetched)

    async def _subrequest_allowed(self, url: str) -> bool:
        """The crawled site's robots.txt rules for what its pages' scripts request."""
        if not self.plan.respect_robots or not same_site(url, self.plan.start_url):
            return True
        return await self.robots.allows(url)

    def _claim(self, key: str) -> bool:
        """Take ``key`` as the URL to record under; False if another outcome already has it."""
        if key in self.claimed:
            return False
        self.claimed.add(key)
        if (done := self.plan.already_done.get(key)) is not None:
            # Committed by an earlier attempt: count it as that attempt did, don't redo it.
            self.counters.discovered += 1
            self._count(done)
            return False
        return True

    def _account(self, fetched: FetchResult) -> None:
        if fetched.status:
            self.counters.fetched += 1
        self.total_bytes += len(fetched.body or b"")
        if self.total_bytes > self.plan.max_total_bytes and self.stop_reason is None:
            self.stop_reason = "byte-budget"

    async def _extract(self, fetched: FetchResult) -> ExtractedPage | None:
        if fetched.body is None:
            return None
        # Off the event loop: extraction is CPU work, and the trafilatura fallback can block
        # for up to its deadline.
        return await asyncio.to_thread(
            extract_page,
            fetched.body,
            fetched.final_url,
            charset=fetched.charset,
            content_type=fetched.content_type or "text/html",
        )

    def _fetch_problem(self, visit: _Visit, fetched: FetchResult) -> PageResult:
        error = fetched.error or "empty-response"
        if error == "http-error" and fetched.status:
            error = f"http-{fetched.status}"
        status: PageStatus = "skipped" if error in SKIP_FETCH_ERRORS else "failed"
        return self._result(visit, fetched, status, error)

    @staticmethod
    def _result(
        visit: _Visit,
        fetched: FetchResult,
        status: PageStatus,
        reason: str | None,
        *,
        url: str | None = None,
        page: ExtractedPage | None = None,
    ) -> PageResult:
        return PageResult(
            url=url or visit.key,
            status=status,
            depth=visit.depth,
            requested_url=visit.url,
            final_url=fetched.final_url,
            http_status=fetched.status,
            reason=reason,
            content_type=fetched.content_type,
            bytes=len(fetched.body or b""),
            elapsed_ms=fetched.elapsed_ms,
            page=page,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
        )

    # -- reporting -------------------------------------------------------------------------

    async def _record(self, result: PageResult) -> None:
        self._count(result.status)
        log.debug(
            "crawl.page_processed", url=result.url, status=result.status, reason=result.reason
        )
        async with self.sink_lock:
            await self.sink.page_processed(result)

    def _count(self, status: PageStatus) -> None:
        """One outcome in the counters; only an indexed (or unchanged) page spends the budget."""
        if status in ("indexed", "unchanged"):
            self.counters.indexed += 1
        elif status == "skipped":
            self.counters.skipped += 1
        else:
            self.counters.failed += 1

    async def _ask_should_stop(self) -> bool:
        async with self.sink_lock:
            return await self.sink.should_stop()

    async def _report_progress(self, last: CrawlCounts) -> CrawlCounts:
        counts = self.counters.snapshot()
        if counts != last:
            async with self.sink_lock:
                await self.sink.progress(counts)
        return counts


def _unwrap(error: BaseException | None) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    assert error is not None
    return error
