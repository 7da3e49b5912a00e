"""The headless browser of the crawler (`crawling/browser.py`), on the machine's real Chromium:
what it renders, that every request it makes goes through the crawler's SSRF guard, its limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from sitechat.core.ssrf import system_lookup
from sitechat.crawling.browser import BrowserConfig, PageRenderer, RenderResult
from sitechat.crawling.extract import extract_page, needs_browser
from sitechat.crawling.fetcher import Fetcher, FetcherConfig
from tests.crawling.conftest import LocalSite, Reply, html_page, loopback_config
from tests.crawling.script_site import (
    SECRET,
    escape_attempts,
    internal_server,
    orchard_app,
    shell_page,
)
from tests.crawling.site import wait_until

INTERNAL_NAME = "internal.test"
# Chromium keeps pages it takes for public (a document answered by interception has no
# address) away from loopback on its own. Turned off, so that the guards of the crawler are all
# that stands between a page and the internal server: what these tests are about.
NO_LOCAL_NETWORK_CHECKS = ("--disable-features=LocalNetworkAccessChecks",)


@pytest.fixture
def internal() -> Iterator[LocalSite]:
    """A server on another loopback address that no test allow-lists: the "internal service"
    a page must never reach. Whatever reaches it is in its `hits`."""
    server = LocalSite(host="127.0.0.2")
    internal_server(server)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _lookup(host: str, port: int) -> list[str]:
    """The system resolver, except a name that points at the internal server, as a DNS
    record pointing inward would."""
    if host == INTERNAL_NAME:
        return ["127.0.0.2"]
    return await system_lookup(host, port)


async def _render(
    chromium: Path,
    url: str,
    fetcher_config: FetcherConfig | None = None,
    **browser: object,
) -> RenderResult:
    config = BrowserConfig(executable=str(chromium), **browser)  # type: ignore[arg-type]
    async with Fetcher(fetcher_config or loopback_config(), lookup=_lookup) as fetcher:
        document = await fetcher.fetch(url)
        assert document.ok, document.error
        async with PageRenderer(config, fetcher) as renderer:
            return await renderer.render(document)


def _text(result: RenderResult, url: str) -> str:
    assert result.html is not None, result.error
    return extract_page(result.html, url).markdown


class TestDetection:
    def test_a_shell_that_loads_scripts_needs_a_browser(self) -> None:
        assert needs_browser(extract_page(shell_page("App"), "http://127.0.0.1/"))

    def test_a_short_page_without_scripts_does_not(self) -> None:
        page = extract_page(html_page("Hi", "<p>Closed on Sundays.</p>"), "http://127.0.0.1/")
        assert not needs_browser(page)

    def test_a_server_rendered_page_with_scripts_does_not(self) -> None:
        body = "<h1>Opening hours</h1>" + "<p>We open at nine and close at six.</p>" * 10
        page = extract_page(
            html_page("Hours", body, head="<script src='/analytics.js'></script>"),
            "http://127.0.0.1/",
        )
        assert not needs_browser(page)

    def test_data_scripts_are_not_scripts_that_run(self) -> None:
        head = '<script type=\'application/ld+json\'>{"@type": "Thing"}</script>'
        page = extract_page(html_page("Data", "", head=head), "http://127.0.0.1/")
        assert not needs_browser(page)


class TestRendering:
    async def test_text_written_by_a_script_from_fetched_json(
        self, chromium: Path, site: LocalSite
    ) -> None:
        orchard_app(site)

        result = await _render(chromium, site.url("/"))

        text = _text(result, site.url("/"))
        assert "# Quinces" in text
        assert "poach it slowly with honey" in text
        assert "Loading" not in text
        # The document came from the crawler's fetch; the browser asked for the rest.
        assert site.hits["/"] == 1
        assert site.hits["/app.js"] == 1 and site.hits["/content.json"] == 1
        assert result.requests == 2 and result.bytes_fetched > 0

    async def test_what_a_page_does_not_need_is_never_fetched(
        self, chromium: Path, site: LocalSite
    ) -> None:
        extra = (
            'new Image().src = "/photo.png";'
            'const sheet = document.createElement("link");'
            'sheet.rel = "stylesheet"; sheet.href = "/style.css"; document.head.appendChild(sheet);'
            'fetch("/form", {method: "POST", body: "x"}).catch(() => {});'
        )
        orchard_app(site, extra_js=extra)

        result = await _render(chromium, site.url("/"))

        assert "Quinces" in _text(result, site.url("/"))
        assert site.hits["/photo.png"] == 0 and site.hits["/style.css"] == 0
        assert site.hits["POST /form"] == 0
        assert result.refused >= 3


class TestSsrfGuard:
    async def test_no_request_of_the_page_reaches_an_internal_address(
        self, chromium: Path, site: LocalSite, internal: LocalSite
    ) -> None:
        site.routes["/hop"] = Reply(status=302, headers={"Location": internal.url("/secret.json")})
        orchard_app(site, extra_js=escape_attempts(internal.origin, internal.port, site.origin))

        result = await _render(chromium, site.url("/"), extra_args=NO_LOCAL_NETWORK_CHECKS)

        text = _text(result, site.url("/"))
        assert "Quinces" in text  # the page itself rendered
        assert SECRET not in (result.html or "")
        assert sum(internal.hits.values()) == 0, internal.hits
        assert site.hits["/hop"] == 1  # the site's own redirect was fetched, its target refused

    async def test_the_same_page_does_reach_it_when_the_operator_allows_it(
        self, chromium: Path, site: LocalSite, internal: LocalSite
    ) -> None:
        """The control of the test above: the internal server is reachable, and a request that
        reached it would show; only the guard kept it out."""
        site.routes["/hop"] = Reply(status=302, headers={"Location": internal.url("/secret.json")})
        orchard_app(site, extra_js=escape_attempts(internal.origin, internal.port, site.origin))
        allowing = loopback_config(allowed_hosts=frozenset({"127.0.0.1", "127.0.0.2"}))

        result = await _render(
            chromium, site.url("/"), fetcher_config=allowing, extra_args=NO_LOCAL_NETWORK_CHECKS
        )

        assert SECRET in (result.html or "")
        assert internal.hits["/secret.json"] >= 1
        # What is not a page's script or data stays out even then.
        for path in ("/pixel.png", "/frame", "/popup", "/socket", "POST /beacon"):
            assert internal.hits[path] == 0, path

    async def test_an_unguarded_browser_would_have_reached_it(
        self, chromium: Path, site: LocalSite, internal: LocalSite
    ) -> None:
        """The other control: the same page in a plain Chromium (no proxy, requests going to
        the network as they are) reaches the internal server by requests and by a WebSocket,
        so the first test's empty log means the guards held, not that nothing was tried."""
        site.routes["/hop"] = Reply(status=302, headers={"Location": internal.url("/secret.json")})
        orchard_app(site, extra_js=escape_attempts(internal.origin, internal.port, site.origin))
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium), headless=True, args=list(NO_LOCAL_NETWORK_CHECKS)
            )
            try:
                page = await browser.new_page()
                await page.goto(site.url("/"), wait_until="load")

                async def both_reached() -> bool:
                    return internal.hits["/secret.json"] >= 1 and internal.hits["/socket"] >= 1

                await wait_until(both_reached)
            finally:
                await browser.close()


class TestLimits:
    async def test_a_page_that_never_loads_times_out(self, chromium: Path, site: LocalSite) -> None:
        orchard_app(site)
        site.routes["/app.js"] = Reply(body="", content_type="text/javascript", delay_seconds=3)
        site.page("/", shell_page("Slow").replace(" defer", ""))  # a blocking script

        result = await _render(chromium, site.url("/"), page_timeout_seconds=1.0)

        assert (result.html, result.error) == (None, "render-timeout")

    async def test_a_page_that_keeps_polling_is_read_as_it_stands(
        self, chromium: Path, site: LocalSite
    ) -> None:
        orchard_app(site, extra_js='setInterval(() => fetch("/poll").catch(() => {}), 100);')
        site.routes["/poll"] = Reply(body="{}", content_type="application/json")

        result = await _render(chromium, site.url("/"), settle_seconds=1.0)

        assert "Quinces" in _text(result, site.url("/"))

    async def test_requests_beyond_the_cap_are_refused(
        self, chromium: Path, site: LocalSite
    ) -> None:
        extra = "".join(f'fetch("/extra-{n}").catch(() => {{}});' for n in range(5))
        orchard_app(site, extra_js=extra)

        result = await _render(chromium, site.url("/"), max_requests_per_page=3)

        assert result.requests == 3
        assert site.hits["/app.js"] == 1
        assert sum(site.hits[f"/extra-{n}"] for n in range(5)) + site.hits["/content.json"] == 2

    async def test_a_dom_larger_than_a_page_may_be_is_not_read(
        self, chromium: Path, site: LocalSite
    ) -> None:
        orchard_app(site, extra_js='say("x".repeat(20000));')

        result = await _render(chromium, site.url("/"), loopback_config(max_bytes=10_000))

        assert (result.html, result.error) == (None, "too-large")

    async def test_a_browser_that_cannot_start_is_reported(
        self, tmp_path: Path, site: LocalSite
    ) -> None:
        orchard_app(site)

        result = await _render(tmp_path / "no-chromium-here", site.url("/"))

        assert (result.html, result.error) == (None, "browser-unavailable")
