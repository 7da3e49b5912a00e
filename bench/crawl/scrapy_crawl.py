"""The reference crawler: Scrapy fetching a site and following its links, nothing else.

`python -m bench.crawl.scrapy_crawl START_URL CONCURRENCY MAX_PAGES` prints one JSON line:
{"pages": responses received, "seconds": from the engine's start to the spider's close}.
Settings are Scrapy's standard ones except what the comparison fixes: robots.txt obeyed, the
same concurrency as SiteChat's per-host limit, no politeness delay, no telnet, quiet logs.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor


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


def main(start_url: str, concurrency: int, max_pages: int) -> None:
    process = CrawlerProcess(
        settings={
            "ROBOTSTXT_OBEY": True,
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "DOWNLOAD_DELAY": 0,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "ERROR",
            "CLOSESPIDER_PAGECOUNT": max_pages,
        }
    )
    crawler = process.create_crawler(SiteSpider)
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
    assert isinstance(spider, SiteSpider)
    print(json.dumps({"pages": spider.pages, "seconds": times["end"] - times["start"]}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
