"""Adaptive politeness: full speed on a host that keeps up, backing off one that does not."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import pytest

from sitechat.crawling.engine import CrawlPlan, run_crawl
from sitechat.crawling.fetcher import Fetcher
from sitechat.crawling.politeness import HostThrottle, HostUnavailable, ThrottleConfig
from tests.crawling.conftest import LocalSite, Reply, html_page, loopback_config
from tests.crawling.test_engine import RecordingSink, long_text


class Tracker:
    """Server-side view of the crawler: arrivals, and how many requests were in flight at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[tuple[float, str]] = []
        self.in_flight_at_arrival: list[int] = []
        self.serial = threading.Lock()

    def route(
        self, reply: Reply, *, service_seconds: float = 0.0, serialize: bool = False
    ) -> Callable[[BaseHTTPRequestHandler], Reply]:
        def handle(request: BaseHTTPRequestHandler) -> Reply:
            with self.lock:
                self.arrivals.append((time.monotonic(), request.path))
                self.in_flight += 1
                self.in_flight_at_arrival.append(self.in_flight)
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if serialize:  # one request at a time: latency grows with concurrency
                    with self.serial:
                        time.sleep(service_seconds)
                else:
                    time.sleep(service_seconds)
                return reply
            finally:
                with self.lock:
                    self.in_flight -= 1

        return handle


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestThrottleDecisions:
    def test_a_host_that_keeps_up_gets_every_allowed_connection(self) -> None:
        throttle = HostThrottle(ThrottleConfig(max_connections=6), clock=FakeClock())
        assert throttle.allowed == 2  # slow start
        for _ in range(10):
            throttle.answered(0.002)
        assert throttle.allowed == 6
        assert throttle.spacing == 0

    def test_rising_latency_narrows_the_window_then_spaces_requests(self) -> None:
        clock = FakeClock()
        throttle = HostThrottle(ThrottleConfig(max_connections=8), clock=clock)
        for _ in range(10):
            throttle.answered(0.05)
        assert throttle.allowed == 8
        for _ in range(30):
            clock.now += 1.0
            throttle.answered(1.0)  # 20 x slower: the host is struggling
        assert throttle.allowed == 1
        assert throttle.spacing > 0.4
        for _ in range(40):  # it recovers
            clock.now += 1.0
            throttle.answered(0.05)
        assert throttle.spacing == 0
        assert throttle.allowed >= 2

    def test_a_floor_from_crawl_delay_is_never_undercut(self) -> None:
        throttle = HostThrottle(ThrottleConfig(max_connections=4), clock=FakeClock())
        throttle.set_floor(2.0)
        throttle.set_floor(0.5)  # a lower value never lowers it
        for _ in range(20):
            throttle.answered(0.001)
        assert throttle.spacing == 2.0

    def test_overload_halves_the_window_and_pauses_the_host(self) -> None:
        clock = FakeClock()
        throttle = HostThrottle(ThrottleConfig(max_connections=8), clock=clock)
        for _ in range(10):
            throttle.answered(0.01)
        throttle.overloaded(retry_after=7.0)
        assert throttle.allowed == 4
        assert throttle.paused_until == pytest.approx(clock.now + 7.0)
        throttle.overloaded(retry_after=None)  # no Retry-After: exponential backoff
        assert throttle.paused_until == pytest.approx(clock.now + 7.0)
        assert throttle.allowed == 2

    async def test_a_host_failing_again_and_again_is_given_up(self) -> None:
        throttle = HostThrottle(ThrottleConfig(max_consecutive_failures=3, max_backoff_seconds=0))
        for _ in range(3):
            async with throttle.slot() as slot:
                slot.report(500, None, None)
        with pytest.raises(HostUnavailable):
            async with throttle.slot():
                pass


class TestAgainstLocalServers:
    async def test_a_fast_host_is_crawled_at_the_connection_cap_and_never_beyond(
        self, site: LocalSite
    ) -> None:
        tracker = Tracker()
        page = Reply(body=html_page("P", long_text("page")))
        for number in range(40):
            site.routes[f"/p{number}"] = tracker.route(page, service_seconds=0.05)

        async with Fetcher(loopback_config(per_host_concurrency=4)) as fetcher:
            results = await asyncio.gather(
                *(fetcher.fetch(site.url(f"/p{number}")) for number in range(40))
            )

        assert all(result.ok for result in results)
        assert tracker.max_in_flight == 4

    async def test_a_host_that_slows_under_load_gets_fewer_connections(
        self, site: LocalSite
    ) -> None:
        tracker = Tracker()
        page = Reply(body=html_page("P", long_text("page")))
        for number in range(36):
            site.routes[f"/p{number}"] = tracker.route(page, service_seconds=0.1, serialize=True)

        async with Fetcher(loopback_config(per_host_concurrency=4)) as fetcher:
            results = await asyncio.gather(
                *(fetcher.fetch(site.url(f"/p{number}")) for number in range(36))
            )

        assert all(result.ok for result in results)
        assert tracker.max_in_flight == 4  # it tried the cap first...
        # ...then held back to what the host can take once its answers slowed down: at a fixed
        # cap every later request would arrive with 4 in flight (it takes a freed slot).
        assert statistics.mean(tracker.in_flight_at_arrival[18:]) < 3.5

    async def test_429_pauses_every_request_to_the_host(self, site: LocalSite) -> None:
        tracker = Tracker()
        replies = iter([Reply(status=429, headers={"Retry-After": "1"}), Reply(body="ok")])

        def busy(request: BaseHTTPRequestHandler) -> Reply:
            tracker.arrivals.append((time.monotonic(), request.path))
            return next(replies)

        site.routes["/busy"] = busy
        page = Reply(body=html_page("P", long_text("page")))
        for number in range(6):
            site.routes[f"/p{number}"] = tracker.route(page)

        async with Fetcher(loopback_config(per_host_concurrency=1)) as fetcher:
            results = await asyncio.gather(
                fetcher.fetch(site.url("/busy")),
                *(fetcher.fetch(site.url(f"/p{number}")) for number in range(6)),
            )

        assert all(result.ok for result in results)
        refused_at = tracker.arrivals[0][0]
        later = [arrived for arrived, _path in tracker.arrivals[1:]]
        assert len(later) == 7
        # No request at all reached the host during the second it asked for.
        assert min(later) >= refused_at + 0.9

    async def test_crawl_delay_spaces_requests(self, site: LocalSite) -> None:
        tracker = Tracker()
        links = "".join(f"<a href='/p{number}'>p</a>" for number in range(4))
        site.routes["/"] = tracker.route(Reply(body=html_page("Home", long_text("home") + links)))
        for number in range(4):
            site.routes[f"/p{number}"] = tracker.route(
                Reply(body=html_page(f"P{number}", long_text(f"p{number}")))
            )
        site.routes["/robots.txt"] = Reply(
            body="User-agent: *\nCrawl-delay: 0.3\n", content_type="text/plain"
        )

        async with Fetcher(loopback_config(per_host_concurrency=4)) as fetcher:
            outcome = await run_crawl(
                CrawlPlan(start_url=site.url("/"), use_sitemap=False), fetcher, RecordingSink()
            )

        assert outcome.counts.indexed == 5
        starts = sorted(arrived for arrived, _path in tracker.arrivals)
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        # Measured where requests arrive, which a loaded machine can bunch by a few tens of
        # milliseconds; without the delay the four would arrive together (gaps near 0).
        assert len(gaps) == 4 and min(gaps) >= 0.15

    async def test_a_failing_host_is_not_hammered(self, site: LocalSite) -> None:
        tracker = Tracker()
        links = "".join(f"<a href='/broken{number}'>b</a>" for number in range(30))
        site.page("/", html_page("Home", long_text("home") + links))
        for number in range(30):
            site.routes[f"/broken{number}"] = tracker.route(Reply(status=500, body="oops"))
        config = loopback_config(max_consecutive_failures=5, max_retry_wait_seconds=0.2)
        sink = RecordingSink()

        async with Fetcher(config) as fetcher:
            outcome = await run_crawl(
                CrawlPlan(start_url=site.url("/"), use_sitemap=False, respect_robots=False),
                fetcher,
                sink,
            )

        assert outcome.counts.failed == 30
        assert len(tracker.arrivals) == 5  # then the crawler left the host alone
        reasons = [result.reason for result in sink.results if result.status == "failed"]
        assert reasons.count("host-unavailable") == 25
