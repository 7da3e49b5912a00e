from __future__ import annotations

import asyncio
import time
from http.server import BaseHTTPRequestHandler

from sitechat.crawling.fetcher import Fetcher
from tests.crawling.conftest import LocalSite, Reply, html_page, loopback_config


class TestFetching:
    async def test_fetches_html_with_identifying_user_agent(
        self, site: LocalSite, fetcher: Fetcher
    ) -> None:
        seen_agents: list[str] = []

        def record(request: BaseHTTPRequestHandler) -> Reply:
            seen_agents.append(request.headers.get("User-Agent", ""))
            return Reply(body=html_page("Hello", "<p>Hi</p>"))

        site.routes["/"] = record
        result = await fetcher.fetch(site.url("/#top"))

        assert result.ok
        assert result.status == 200
        assert result.content_type == "text/html"
        assert result.charset == "utf-8"
        assert result.body is not None and b"<p>Hi</p>" in result.body
        assert seen_agents[0].startswith("SiteChatBot/")

    async def test_follows_redirects_and_reports_final_url(
        self, site: LocalSite, fetcher: Fetcher
    ) -> None:
        site.routes["/old"] = Reply(status=301, headers={"Location": "/middle"})
        site.routes["/middle"] = Reply(status=302, headers={"Location": site.url("/new")})
        site.page("/new", html_page("New", "<p>moved here</p>"))

        result = await fetcher.fetch(site.url("/old"))

        assert result.ok
        assert result.final_url == site.url("/new")
        assert result.requested_url == site.url("/old")

    async def test_redirect_loop_stops_at_the_cap(self, site: LocalSite) -> None:
        site.routes["/a"] = Reply(status=302, headers={"Location": "/b"})
        site.routes["/b"] = Reply(status=302, headers={"Location": "/a"})

        async with Fetcher(loopback_config(max_redirects=3)) as fetcher:
            result = await fetcher.fetch(site.url("/a"))

        assert result.error == "too-many-redirects"
        assert site.hits["/a"] + site.hits["/b"] == 4

    async def test_non_html_content_type_is_not_downloaded(
        self, site: LocalSite, fetcher: Fetcher
    ) -> None:
        site.routes["/file.pdf"] = Reply(body=b"%PDF-1.7", content_type="application/pdf")

        result = await fetcher.fetch(site.url("/file.pdf"))

        assert result.error == "content-type-not-allowed"
        assert result.body is None
        assert result.content_type == "application/pdf"

    async def test_http_error_status_is_reported(self, site: LocalSite, fetcher: Fetcher) -> None:
        result = await fetcher.fetch(site.url("/missing"))

        assert result.error == "http-error"
        assert result.status == 404

    async def test_slow_page_times_out(self, site: LocalSite) -> None:
        site.page("/slow", "late", delay_seconds=2.0)

        async with Fetcher(loopback_config(timeout_seconds=0.3)) as fetcher:
            started = time.monotonic()
            result = await fetcher.fetch(site.url("/slow"))

        assert result.error == "timeout"
        assert time.monotonic() - started < 1.5

    async def test_huge_page_is_cut_off_at_the_byte_cap(self, site: LocalSite) -> None:
        huge = "<p>" + "x" * 400_000 + "</p>"
        site.page("/huge-declared", huge)
        site.page("/huge-streamed", huge, stream_chunk_bytes=16_384)

        async with Fetcher(loopback_config(max_bytes=100_000)) as fetcher:
            declared = await fetcher.fetch(site.url("/huge-declared"))
            streamed = await fetcher.fetch(site.url("/huge-streamed"))

        assert declared.error == "too-large" and declared.body is None
        assert streamed.error == "too-large" and streamed.body is None


class TestRetryAfter:
    async def test_429_is_retried_after_the_requested_wait(
        self, site: LocalSite, fetcher: Fetcher
    ) -> None:
        answers = iter(
            [
                Reply(status=429, headers={"Retry-After": "1"}, body="slow down"),
                Reply(body=html_page("Ok", "<p>finally</p>")),
            ]
        )
        site.routes["/busy"] = lambda _request: next(answers)

        started = time.monotonic()
        result = await fetcher.fetch(site.url("/busy"))

        assert result.ok and result.status == 200
        assert site.hits["/busy"] == 2
        assert time.monotonic() - started >= 0.9

    async def test_gives_up_when_the_server_asks_for_too_long_a_wait(
        self, site: LocalSite, fetcher: Fetcher
    ) -> None:
        site.routes["/down"] = Reply(status=503, headers={"Retry-After": "3600"})

        started = time.monotonic()
        result = await fetcher.fetch(site.url("/down"))

        assert result.error == "retry-after-too-long"
        assert result.status == 503
        assert site.hits["/down"] == 1
        assert time.monotonic() - started < 1.0

    async def test_retries_are_bounded(self, site: LocalSite) -> None:
        site.routes["/always-busy"] = Reply(status=429, headers={"Retry-After": "0"})

        async with Fetcher(loopback_config(max_retries=2)) as fetcher:
            result = await fetcher.fetch(site.url("/always-busy"))

        assert result.error == "http-error" and result.status == 429
        assert site.hits["/always-busy"] == 3


class TestPoliteness:
    async def test_requests_to_one_host_are_spaced_by_the_delay(self, site: LocalSite) -> None:
        for number in range(3):
            site.page(f"/p{number}", html_page("P", "<p>page</p>"))

        async with Fetcher(loopback_config(delay_seconds=0.2)) as fetcher:
            started = time.monotonic()
            results = await asyncio.gather(
                *(fetcher.fetch(site.url(f"/p{number}")) for number in range(3))
            )

        assert all(result.ok for result in results)
        assert time.monotonic() - started >= 0.38
