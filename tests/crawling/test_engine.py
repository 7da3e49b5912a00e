from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from sitechat.crawling.engine import CrawlCounts, CrawlPlan, KnownPage, PageResult, run_crawl
from sitechat.crawling.fetcher import Fetcher, Validators
from tests.crawling.conftest import LocalSite, Reply, html_page, loopback_config


class RecordingSink:
    def __init__(self, stop_after_pages: int | None = None) -> None:
        self.results: list[PageResult] = []
        self.progress_reports: list[CrawlCounts] = []
        self.stop_after_pages = stop_after_pages

    async def page_processed(self, result: PageResult) -> None:
        self.results.append(result)

    async def should_stop(self) -> bool:
        return self.stop_after_pages is not None and len(self.results) >= self.stop_after_pages

    async def progress(self, counts: CrawlCounts) -> None:
        self.progress_reports.append(counts)

    def paths(self, status: str | None = None) -> set[str]:
        return {
            urlsplit(result.url).path
            for result in self.results
            if status is None or result.status == status
        }

    def reason_for(self, path: str) -> str | None:
        return next(r.reason for r in self.results if r.url.endswith(path))


def long_text(topic: str) -> str:
    return f"<p>{topic} " + " ".join(f"{topic}-word{n}" for n in range(40)) + ".</p>"


def build_site(site: LocalSite, *, page_delay: float = 0.0) -> None:
    """A small site with one of every case the crawler must handle."""
    origin = site.origin
    links = "".join(
        f"<a href='{href}'>{href}</a> "
        for href in [
            "/a",
            "/b#section",
            "/b/",
            "/docs/intro",
            "/docs/guide/",
            "/private/secret",
            "/dup1",
            "/dup2",
            "/old",
            "/alias",
            "/file.pdf",
            "/missing",
            "http://example.com/elsewhere",
        ]
    )
    nofollow = "<a rel='nofollow' href='/nofollowed'>x</a>"
    site.page("/", html_page("Home", f"<h1>Home</h1>{long_text('home')}{links}{nofollow}"))
    site.page("/a", html_page("A", f"<h1>A</h1>{long_text('a')}<a href='/a/deep1'>d</a>"))
    site.page("/a/deep1", html_page("D1", f"{long_text('deep1')}<a href='/a/deep2'>d</a>"))
    site.page("/a/deep2", html_page("D2", long_text("deep2")))
    site.page("/b", html_page("B", long_text("b") + nofollow))
    site.page("/docs/intro", html_page("Intro", long_text("intro")))
    site.page("/docs/guide/", html_page("Guide", long_text("guide")))
    site.page("/private/secret", html_page("Secret", long_text("secret")))
    site.page("/dup1", html_page("Same", long_text("same")))
    site.page("/dup2", html_page("Same", long_text("same")))
    site.routes["/old"] = Reply(status=301, headers={"Location": "/new"})
    site.page("/new", html_page("New", long_text("new")))
    site.page(
        "/alias",
        html_page("Alias", long_text("canonical"), head="<link rel='canonical' href='/canonical'>"),
    )
    site.routes["/file.pdf"] = Reply(body=b"%PDF", content_type="application/pdf")
    site.page("/orphan", html_page("Orphan", long_text("orphan")))
    site.page("/nofollowed", html_page("NF", long_text("nofollowed")))
    site.routes["/robots.txt"] = Reply(
        body=f"User-agent: *\nDisallow: /private\nSitemap: {origin}/sitemap_index.xml\n",
        content_type="text/plain",
    )
    site.routes["/sitemap_index.xml"] = Reply(
        body=(
            "<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<sitemap><loc>{origin}/sitemap-pages.xml.gz</loc></sitemap></sitemapindex>"
        ),
        content_type="application/xml",
    )
    urlset = (
        "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        f"<url><loc>{origin}/orphan</loc></url><url><loc>{origin}/a</loc></url>"
        "<url><loc>http://example.com/not-ours</loc></url></urlset>"
    )
    site.routes["/sitemap-pages.xml.gz"] = Reply(
        body=gzip.compress(urlset.encode()), content_type="application/x-gzip"
    )
    if page_delay:
        for route in site.routes.values():
            if isinstance(route, Reply) and route.content_type == "text/html; charset=utf-8":
                route.delay_seconds = page_delay


@pytest.fixture
async def crawl_fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(loopback_config()) as fetcher:
        yield fetcher


def plan_for(site: LocalSite, **overrides: object) -> CrawlPlan:
    return CrawlPlan(start_url=site.url("/"), **overrides)  # type: ignore[arg-type]


class TestFullCrawl:
    async def test_crawls_the_site_with_every_rule_applied(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        sink = RecordingSink()

        outcome = await run_crawl(plan_for(site), crawl_fetcher, sink)

        assert outcome.stop_reason == "completed"
        # /dup1 and /dup2 carry the same text: whichever is fetched first is indexed (pages are
        # fetched concurrently), the other is skipped as a duplicate.
        indexed_duplicate = {"/dup1", "/dup2"} & sink.paths("indexed")
        assert len(indexed_duplicate) == 1
        assert sink.paths("indexed") - indexed_duplicate == {
            "/",
            "/a",
            "/a/deep1",
            "/a/deep2",
            "/b",
            "/docs/intro",
            "/docs/guide",
            "/new",
            "/canonical",
            "/orphan",
        }
        assert sink.reason_for("/private/secret") == "robots-disallowed"
        assert site.hits["/private/secret"] == 0
        skipped_duplicate = ({"/dup1", "/dup2"} - indexed_duplicate).pop()
        assert sink.reason_for(skipped_duplicate) == "duplicate-content"
        assert sink.reason_for("/file.pdf") == "content-type-not-allowed"
        assert sink.reason_for("/missing") == "http-404"
        assert not any("example.com" in result.url for result in sink.results)
        assert "/nofollowed" not in sink.paths()  # only ever linked with rel=nofollow
        # Each URL is reported once, and the counts add up.
        assert len({result.url for result in sink.results}) == len(sink.results)
        counts = outcome.counts
        assert counts.discovered == counts.indexed + counts.skipped + counts.failed
        assert counts.indexed == 11
        assert sink.progress_reports[-1] == counts

    async def test_indexed_pages_carry_extracted_markdown(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        sink = RecordingSink()

        await run_crawl(plan_for(site, max_depth=1), crawl_fetcher, sink)

        home = next(result for result in sink.results if result.url == site.url("/"))
        assert home.page is not None
        assert home.page.title == "Home"
        assert home.page.markdown.startswith("# Home")
        assert "Copyright footer" not in home.page.markdown
        redirected = next(result for result in sink.results if result.url.endswith("/new"))
        assert redirected.requested_url == site.url("/old")
        assert redirected.final_url == site.url("/new")


class TestLimits:
    async def test_max_pages_stops_the_crawl(self, site: LocalSite, crawl_fetcher: Fetcher) -> None:
        build_site(site)
        sink = RecordingSink()

        outcome = await run_crawl(plan_for(site, max_pages=3), crawl_fetcher, sink)

        assert outcome.stop_reason == "max-pages"
        assert len(sink.paths("indexed")) == outcome.counts.indexed == 3
        assert outcome.counts.unvisited > 0  # the truncation is reported, not silent
        assert outcome.counts.discovered > len(sink.results)

    async def test_max_depth_limits_how_far_links_are_followed(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        sink = RecordingSink()

        await run_crawl(plan_for(site, max_depth=1, use_sitemap=False), crawl_fetcher, sink)

        assert "/a" in sink.paths("indexed")
        assert "/a/deep1" not in sink.paths()
        assert site.hits["/a/deep1"] == 0

    async def test_include_and_exclude_patterns(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        sink = RecordingSink()
        plan = plan_for(site, include_paths=("/docs", "/a"), exclude_paths=("/a/deep*",))

        await run_crawl(plan, crawl_fetcher, sink)

        assert sink.paths() == {"/", "/a", "/docs/intro", "/docs/guide"}
        # The start page is only where the walk begins: outside the filters, not indexed.
        assert sink.paths("indexed") == {"/a", "/docs/intro", "/docs/guide"}
        assert sink.reason_for("/") == "outside-path-filters"

    async def test_a_start_url_redirected_inside_the_include_paths_is_indexed(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        site.routes["/"] = Reply(status=301, headers={"Location": "/docs/"})
        site.page("/docs/", html_page("Docs", long_text("docs") + "<a href='/docs/a'>a</a>"))
        site.page("/docs/a", html_page("A", long_text("a")))
        sink = RecordingSink()

        await run_crawl(plan_for(site, include_paths=("/docs",)), crawl_fetcher, sink)

        assert sink.paths("indexed") == {"/docs", "/docs/a"}

    async def test_a_link_redirected_outside_the_filters_is_not_indexed(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        links = "".join(
            f"<a href='{path}'>{path}</a> "
            for path in ["/docs/a", "/docs/old", "/docs/moved", "/docs/hidden", "/docs/alias"]
        )
        site.page("/", html_page("Home", long_text("home") + links))
        site.page("/docs/a", html_page("A", long_text("a")))
        site.routes["/docs/old"] = Reply(status=301, headers={"Location": "/docs/new"})
        site.page("/docs/new", html_page("New", long_text("new")))
        site.routes["/docs/moved"] = Reply(status=301, headers={"Location": "/blog/moved"})
        site.page("/blog/moved", html_page("Moved", long_text("moved")))
        site.routes["/docs/hidden"] = Reply(status=302, headers={"Location": "/docs/private/x"})
        site.page("/docs/private/x", html_page("Private", long_text("private")))
        # Versioned docs name their latest version's URL: fetched inside, they stay in.
        canonical = "<link rel='canonical' href='/latest/alias'>"
        site.page("/docs/alias", html_page("Alias", long_text("alias"), head=canonical))
        sink = RecordingSink()
        plan = plan_for(
            site, include_paths=("/docs",), exclude_paths=("/docs/private",), use_sitemap=False
        )

        await run_crawl(plan, crawl_fetcher, sink)

        # Judged where the redirects end: a redirect inside stays indexed, one outside not.
        assert sink.paths("indexed") == {"/docs/a", "/docs/new", "/latest/alias"}
        for path in ("/blog/moved", "/docs/private/x"):
            assert sink.reason_for(path) == "outside-path-filters"
        assert site.hits["/blog/moved"] == 1  # fetched only as the redirect's target

    async def test_a_start_page_outside_the_filters_stays_a_seed_when_not_modified(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        # A re-sync whose start page was indexed by an earlier crawl without filters: its 304
        # must not keep it as an indexed page of this crawl.
        site.routes["/"] = Reply(body=b"", status=304, content_type=None)
        site.page("/docs/a", html_page("A", long_text("a")))
        known = KnownPage(Validators(etag='"v1"'), (site.url("/docs/a"),))
        plan = plan_for(site, include_paths=("/docs",), known_pages={site.url("/"): known})
        sink = RecordingSink()

        await run_crawl(plan, crawl_fetcher, sink)

        assert sink.paths("indexed") == {"/docs/a"}
        assert sink.reason_for("/") == "outside-path-filters"

    async def test_byte_budget_stops_the_crawl(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        sink = RecordingSink()

        plan = plan_for(site, max_total_bytes=2_000, concurrency=1)  # pages are ~700 bytes

        outcome = await run_crawl(plan, crawl_fetcher, sink)

        assert outcome.stop_reason == "byte-budget"
        assert sum(result.bytes for result in sink.results) < 3_000

    async def test_time_budget_stops_the_crawl(self, site: LocalSite) -> None:
        build_site(site, page_delay=0.4)
        sink = RecordingSink()

        async with Fetcher(loopback_config(per_host_concurrency=1)) as fetcher:
            started = time.monotonic()
            outcome = await run_crawl(plan_for(site, max_seconds=0.6), fetcher, sink)

        assert outcome.stop_reason == "time-budget"
        assert time.monotonic() - started < 2.0


class TestCancellation:
    async def test_should_stop_cancels_within_a_poll(self, site: LocalSite) -> None:
        build_site(site, page_delay=0.3)
        sink = RecordingSink(stop_after_pages=2)

        async with Fetcher(loopback_config(per_host_concurrency=1)) as fetcher:
            started = time.monotonic()
            outcome = await run_crawl(plan_for(site, use_sitemap=False), fetcher, sink)
            elapsed = time.monotonic() - started

        assert outcome.stop_reason == "cancelled"
        assert elapsed < 2.0
        assert len(sink.results) <= 3


class TestResumption:
    async def test_already_done_pages_are_counted_not_reported(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        done = {site.url("/"): "indexed", site.url("/a"): "indexed"}
        sink = RecordingSink()

        outcome = await run_crawl(plan_for(site, already_done=done), crawl_fetcher, sink)

        reported = {result.url for result in sink.results}
        assert reported.isdisjoint(done)
        # Their links were still followed, so the rest of the site was crawled.
        assert "/a/deep1" in sink.paths("indexed")
        assert "/docs/intro" in sink.paths("indexed")
        assert outcome.counts.indexed == 11
        assert outcome.counts.discovered == (
            outcome.counts.indexed + outcome.counts.skipped + outcome.counts.failed
        )

    async def test_done_pages_that_were_not_indexed_leave_the_budget_to_others(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        plan = plan_for(
            site,
            use_sitemap=False,
            max_pages=3,
            already_done={
                site.url("/"): "indexed",
                site.url("/b"): "skipped",
                site.url("/missing"): "failed",
            },
        )
        sink = RecordingSink()

        outcome = await run_crawl(plan, crawl_fetcher, sink)

        assert outcome.stop_reason == "max-pages"
        assert outcome.counts.indexed == 3
        assert len(sink.paths("indexed")) == 2
        assert (outcome.counts.skipped, outcome.counts.failed) >= (1, 1)

    async def test_known_links_of_done_pages_avoid_refetching(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        plan = plan_for(
            site,
            use_sitemap=False,
            already_done={site.url("/"): "indexed"},
            already_done_links={site.url("/"): (site.url("/docs/intro"),)},
        )
        sink = RecordingSink()

        await run_crawl(plan, crawl_fetcher, sink)

        assert site.hits["/"] == 0
        assert sink.paths() == {"/docs/intro"}


class TestRobotsAndSitemaps:
    async def test_robots_can_be_ignored_when_asked(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        sink = RecordingSink()

        await run_crawl(plan_for(site, respect_robots=False), crawl_fetcher, sink)

        assert "/private/secret" in sink.paths("indexed")

    async def test_server_error_on_robots_keeps_the_crawler_off_the_site(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        site.routes["/robots.txt"] = Reply(status=500, body="oops")
        sink = RecordingSink()

        outcome = await run_crawl(plan_for(site), crawl_fetcher, sink)

        assert [result.reason for result in sink.results] == ["robots-disallowed"]
        assert site.hits["/"] == 0
        assert outcome.counts.skipped == 1

    async def test_missing_robots_allows_everything(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        del site.routes["/robots.txt"]
        sink = RecordingSink()

        await run_crawl(plan_for(site, use_sitemap=False), crawl_fetcher, sink)

        assert "/private/secret" in sink.paths("indexed")

    async def test_sitemap_pages_are_found_only_with_use_sitemap(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        with_sitemap, without_sitemap = RecordingSink(), RecordingSink()

        await run_crawl(plan_for(site), crawl_fetcher, with_sitemap)
        await run_crawl(plan_for(site, use_sitemap=False), crawl_fetcher, without_sitemap)

        assert "/orphan" in with_sitemap.paths("indexed")
        assert "/orphan" not in without_sitemap.paths()

    async def test_robots_sitemaps_on_another_origin_are_not_fetched(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        build_site(site)
        elsewhere = LocalSite()
        elsewhere.start()
        try:
            elsewhere.routes["/sitemap.xml"] = Reply(
                body=(
                    "<?xml version='1.0'?>"
                    "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                    f"<url><loc>{site.origin}/orphan</loc></url></urlset>"
                ),
                content_type="application/xml",
            )
            site.routes["/robots.txt"] = Reply(
                body=f"User-agent: *\nSitemap: {elsewhere.origin}/sitemap.xml\n",
                content_type="text/plain",
            )
            sink = RecordingSink()

            await run_crawl(plan_for(site), crawl_fetcher, sink)

            assert elsewhere.hits["/sitemap.xml"] == 0
            assert "/orphan" not in sink.paths()
        finally:
            elsewhere.stop()


class TestLinkListPages:
    async def test_index_pages_are_followed_but_not_indexed(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        topics = [f"/topic-{n}" for n in range(12)]
        entries = "".join(f"<li><a href='{path}'>{path[1:]} (topic)</a></li>" for path in topics)
        site.page(
            "/", html_page("Home", f"<h1>Home</h1>{long_text('home')}<a href='/genindex'>i</a>")
        )
        site.page("/genindex", html_page("Index", f"<h1>Index</h1><ul>{entries}</ul>"))
        for path in topics:
            site.page(path, html_page(path, long_text(path[1:])))
        sink = RecordingSink()

        outcome = await run_crawl(plan_for(site, use_sitemap=False), crawl_fetcher, sink)

        assert sink.reason_for("/genindex") == "link-list"
        assert "/genindex" in sink.paths("skipped")
        assert sink.paths("indexed") == {"/", *topics}
        assert outcome.counts.indexed == 13


class TestPageBudget:
    async def test_link_lists_do_not_spend_the_budget_and_the_rest_is_counted(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        topics = [f"/topic-{n}" for n in range(10)]
        entries = "".join(f"<li><a href='{path}'>{path[1:]} (topic)</a></li>" for path in topics)
        home = f"<h1>Home</h1>{long_text('home')}<a href='/genindex-A.html'>index</a>"
        site.page("/", html_page("Home", home))
        site.page("/genindex-A.html", html_page("Index", f"<h1>Index</h1><ul>{entries}</ul>"))
        for path in topics:
            site.page(path, html_page(path, long_text(path[1:])))
        sink = RecordingSink()

        outcome = await run_crawl(
            plan_for(site, max_pages=5, use_sitemap=False), crawl_fetcher, sink
        )

        assert outcome.stop_reason == "max-pages"
        assert sink.reason_for("/genindex-A.html") == "link-list"
        assert len(sink.paths("indexed")) == outcome.counts.indexed == 5  # home + 4 topics
        assert outcome.counts.unvisited == 6
        assert sum(site.hits[path] for path in topics) == 4  # nothing fetched past the budget

    async def test_sitemap_pages_come_before_links(
        self, site: LocalSite, crawl_fetcher: Fetcher
    ) -> None:
        linked = "".join(f"<a href='/linked-{n}'>l</a>" for n in range(6))
        site.page("/", html_page("Home", f"<h1>Home</h1>{long_text('home')}{linked}"))
        for n in range(6):
            site.page(f"/linked-{n}", html_page("L", long_text(f"linked{n}")))
            site.page(f"/listed-{n}", html_page("S", long_text(f"listed{n}")))
        locs = "".join(f"<url><loc>{site.url(f'/listed-{n}')}</loc></url>" for n in range(6))
        site.routes["/sitemap.xml"] = Reply(
            body="<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"{locs}</urlset>",
            content_type="application/xml",
        )
        sink = RecordingSink()

        outcome = await run_crawl(plan_for(site, max_pages=4), crawl_fetcher, sink)

        assert sink.paths("indexed") == {"/", "/listed-0", "/listed-1", "/listed-2"}
        assert outcome.counts.unvisited == 9  # 3 listed + 6 linked
