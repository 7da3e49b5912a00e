"""The reference crawler: Scrapy fetching a site and following its links, nothing else.

`python -m bench.crawl.scrapy_crawl START_URL CONCURRENCY MAX_PAGES [idiomatic|tuned]` prints
one JSON line: {"pages": responses received, "seconds": from the engine's start to the spider's
close}. Both variants obey robots.txt, use the same concurrency as SiteChat's per-host limit, no
politeness delay, no telnet console, quiet logs.

- idiomatic: Scrapy's standard settings, `LinkExtractor`, `response.follow`;
- tuned: what a Scrapy expert would do for raw speed: links parsed with selectolax (lexbor), the
  spider's own set of seen URLs instead of the request fingerprint dupefilter, and the
  middlewares a docs crawl does not need (cookies, referer, offsite, URL length, depth stats,
  retries, redirects kept) switched off.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from selectolax.lexbor import LexborHTMLParser


class SiteSpider(Spider):
    name = "site"

    def __init__(self, start_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [start_url]
        origin = "{0.scheme}://{0.netloc}/".format(urlsplit(start_url))
        # allow_domains does not match IP-address hosts; a URL prefix keeps to the site.
        self.links = LinkExtractor(allow=[re.escape(origin)])
        self.pages = 0

    def parse(self, response: Response) -> Iterator[Request]:
        self.pages += 1
        if not isinstance(response, TextResponse):  # not text: nothing to follow
            return
        for link in self.links.extract_links(response):
            yield response.follow(link.url, callback=self.parse)


class TunedSiteSpider(Spider):
    name = "site-tuned"

    def __init__(self, start_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [start_url]
        self.origin = "{0.scheme}://{0.netloc}/".format(urlsplit(start_url))
        self.seen = {start_url}
        self.pages = 0

    def parse(self, response: Response) -> Iterator[Request]:
        self.pages += 1
        if not isinstance(response, TextResponse):
            return
        tree = LexborHTMLParser(response.body)
        for anchor in tree.css("a[href]"):
            href = anchor.attributes.get("href") or ""
            url = urljoin(response.url, href).partition("#")[0]
            if url.startswith(self.origin) and url not in self.seen:
                self.seen.add(url)
                yield Request(url, callback=self.parse, dont_filter=True)


def settings(concurrency: int, max_pages: int, tuned: bool) -> dict[str, Any]:
    common: dict[str, Any] = {
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "CLOSESPIDER_PAGECOUNT": max_pages,
    }
    if not tuned:
        return common
    return {
        **common,
        "COOKIES_ENABLED": False,
        "RETRY_ENABLED": False,
        "REFERER_ENABLED": False,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
            "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
        },
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
            "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
        },
    }


def main(start_url: str, concurrency: int, max_pages: int, variant: str) -> None:
    tuned = variant == "tuned"
    process = CrawlerProcess(settings=settings(concurrency, max_pages, tuned))
    spider_class: type[Spider] = TunedSiteSpider if tuned else SiteSpider
    crawler = process.create_crawler(spider_class)
    times: dict[str, float] = {}
    crawler.signals.connect(
        lambda: times.setdefault("start", time.perf_counter()),
        signal=signals.engine_started,
        weak=False,
    )
    crawler.signals.connect(
        lambda: times.setdefault("end", time.perf_counter()),
        signal=signals.spider_closed,
        weak=False,
    )
    process.crawl(crawler, start_url=start_url)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, SiteSpider | TunedSiteSpider)
    print(json.dumps({"pages": spider.pages, "seconds": times["end"] - times["start"]}))


if __name__ == "__main__":
    variant = sys.argv[4] if len(sys.argv) > 4 else "idiomatic"
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), variant)
