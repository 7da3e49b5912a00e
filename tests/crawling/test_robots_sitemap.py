from __future__ import annotations

import gzip

import pytest

from sitechat.crawling.fetcher import Fetcher
from sitechat.crawling.robots import RobotsCache, parse_robots
from sitechat.crawling.sitemap import (
    SitemapError,
    SitemapLimits,
    collect_sitemap_urls,
    parse_sitemap,
)
from tests.crawling.conftest import LocalSite, Reply

NS = "xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"


def urlset(*urls: str) -> bytes:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    return f"<?xml version='1.0' encoding='UTF-8'?><urlset {NS}>{entries}</urlset>".encode()


def sitemap_index(*urls: str) -> bytes:
    entries = "".join(f"<sitemap><loc>{url}</loc></sitemap>" for url in urls)
    return f"<?xml version='1.0'?><sitemapindex {NS}>{entries}</sitemapindex>".encode()


class TestRobots:
    def test_rules_for_our_user_agent(self) -> None:
        rules = parse_robots(
            b"User-agent: *\nDisallow: /private\n\nUser-agent: SiteChatBot\nDisallow: /no-bots\n"
            b"Sitemap: https://e.com/sitemap.xml\n"
        )
        assert not rules.allows("https://e.com/no-bots/x", "SiteChatBot")
        assert rules.allows("https://e.com/private/x", "SiteChatBot")  # our own group wins
        assert rules.sitemaps == ("https://e.com/sitemap.xml",)

    async def test_fetched_once_per_site(self, site: LocalSite, fetcher: Fetcher) -> None:
        site.routes["/robots.txt"] = Reply(body="User-agent: *\nDisallow: /x", content_type=None)
        robots = RobotsCache(fetcher)

        assert not await robots.allows(site.url("/x/1"))
        assert await robots.allows(site.url("/y"))
        assert site.hits["/robots.txt"] == 1

    @pytest.mark.parametrize(
        ("reply", "allowed"),
        [
            (Reply(status=404), True),
            (Reply(status=403), True),
            (Reply(status=500), False),
            (Reply(status=503, headers={"Retry-After": "0"}), False),
        ],
    )
    async def test_status_of_robots_decides_when_there_are_no_rules(
        self, site: LocalSite, fetcher: Fetcher, reply: Reply, allowed: bool
    ) -> None:
        site.routes["/robots.txt"] = reply
        assert await RobotsCache(fetcher).allows(site.url("/page")) is allowed


class TestSitemapParsing:
    def test_urlset_and_index(self) -> None:
        assert parse_sitemap(urlset("https://e.com/a", " https://e.com/b ")).page_urls == [
            "https://e.com/a",
            "https://e.com/b",
        ]
        index = parse_sitemap(sitemap_index("https://e.com/s1.xml.gz"))
        assert index.sitemap_urls == ["https://e.com/s1.xml.gz"] and index.page_urls == []

    def test_gzip_and_text_sitemaps(self) -> None:
        assert parse_sitemap(gzip.compress(urlset("https://e.com/z"))).page_urls == [
            "https://e.com/z"
        ]
        assert parse_sitemap(b"https://e.com/1\nhttps://e.com/2\n").page_urls == [
            "https://e.com/1",
            "https://e.com/2",
        ]

    def test_entity_expansion_bomb_is_refused(self) -> None:
        bomb = (
            b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
            b"<!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
            b"<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>]>"
            b"<urlset><url><loc>&lol3;</loc></url></urlset>"
        )
        with pytest.raises(SitemapError):
            parse_sitemap(bomb)

    def test_external_entity_is_refused(self) -> None:
        xxe = (
            b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY f SYSTEM 'file:///etc/passwd'>]>"
            b"<urlset><url><loc>&f;</loc></url></urlset>"
        )
        with pytest.raises(SitemapError):
            parse_sitemap(xxe)

    def test_gzip_bomb_is_refused(self) -> None:
        bomb = gzip.compress(b"<urlset>" + b" " * 5_000_000 + b"</urlset>")
        with pytest.raises(SitemapError):
            parse_sitemap(bomb, max_bytes=1_000_000)


class TestSitemapCollection:
    async def test_nested_indexes_are_followed_to_the_depth_cap(
        self, site: LocalSite, fetcher: Fetcher
    ) -> None:
        site.routes["/index.xml"] = Reply(
            body=sitemap_index(site.url("/nested.xml"), site.url("/pages.xml.gz")),
            content_type="application/xml",
        )
        site.routes["/nested.xml"] = Reply(
            body=sitemap_index(site.url("/deeper.xml")), content_type="text/xml"
        )
        site.routes["/deeper.xml"] = Reply(body=urlset(site.url("/deep")), content_type="text/xml")
        site.routes["/pages.xml.gz"] = Reply(
            body=gzip.compress(urlset(site.url("/a"), "https://elsewhere.com/b")),
            content_type="application/octet-stream",
        )

        def keep(url: str) -> bool:
            return url.startswith(site.origin)

        found = await collect_sitemap_urls(fetcher, [site.url("/index.xml")], keep=keep)
        shallow = await collect_sitemap_urls(
            fetcher, [site.url("/index.xml")], keep=keep, limits=SitemapLimits(max_depth=1)
        )

        assert set(found) == {site.url("/a"), site.url("/deep")}
        assert shallow == [site.url("/a")]

    async def test_missing_sitemap_yields_nothing(self, site: LocalSite, fetcher: Fetcher) -> None:
        found = await collect_sitemap_urls(fetcher, [site.url("/sitemap.xml")], keep=lambda _: True)
        assert found == []
