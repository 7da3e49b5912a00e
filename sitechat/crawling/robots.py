"""robots.txt rules for one crawl, fetched once per site through the guarded Fetcher."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog
from protego import Protego

from sitechat.crawling.fetcher import ANY_CONTENT_TYPE, Fetcher

log = structlog.get_logger()

# Google reads at most 500 KiB of a robots.txt; a larger one is almost surely not a robots file.
MAX_ROBOTS_BYTES = 512_000


@dataclass(frozen=True)
class RobotsRules:
    """The parsed rules of one site, or a blanket allow/deny when there was nothing to parse."""

    parser: Protego | None
    allow_all: bool
    sitemaps: tuple[str, ...] = ()

    @classmethod
    def allowing_everything(cls) -> RobotsRules:
        return cls(parser=None, allow_all=True)

    @classmethod
    def denying_everything(cls) -> RobotsRules:
        return cls(parser=None, allow_all=False)

    def allows(self, url: str, user_agent_token: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return bool(self.parser.can_fetch(url, user_agent_token))

    def crawl_delay(self, user_agent_token: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent_token)
        return float(delay) if delay is not None else None


def parse_robots(content: bytes) -> RobotsRules:
    text = content.decode("utf-8", errors="replace")
    parser = Protego.parse(text)
    return RobotsRules(parser=parser, allow_all=True, sitemaps=tuple(parser.sitemaps))


def user_agent_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against: ``SiteChatBot`` of
    ``SiteChatBot/0.1 (+url)``."""
    return user_agent.split("/", 1)[0].split(" ", 1)[0] or user_agent


class RobotsCache:
    """robots.txt per origin for the lifetime of one crawl; concurrent callers share one fetch."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._token = user_agent_token(fetcher.config.user_agent)
        self._rules: dict[str, asyncio.Task[RobotsRules]] = {}

    async def rules_for(self, url: str) -> RobotsRules:
        origin = _origin(url)
        task = self._rules.get(origin)
        if task is None:
            task = asyncio.ensure_future(self._load(origin))
            self._rules[origin] = task
        if task.done():
            return task.result()
        return await asyncio.shield(task)

    async def allows(self, url: str) -> bool:
        rules = await self.rules_for(url)
        return rules.allows(url, self._token)

    def close(self) -> None:
        """Stop loads still running when the crawl ends early."""
        for task in self._rules.values():
            task.cancel()

    async def _load(self, origin: str) -> RobotsRules:
        result = await self._fetcher.fetch(
            origin + "/robots.txt", content_types=ANY_CONTENT_TYPE, max_bytes=MAX_ROBOTS_BYTES
        )
        if result.ok and result.body is not None:
            rules = parse_robots(result.body)
            delay = rules.crawl_delay(self._token)
            if delay:
                self._fetcher.set_crawl_delay(origin, delay)
            return rules
        status = result.status or 0
        # A missing robots.txt (404, 410, other 4xx) means no rules. A server error, a 429 or an
        # unreachable robots.txt might hide rules we cannot see: stay off the site.
        missing = result.error == "http-error" and 400 <= status < 500 and status != 429
        if missing or result.error == "too-many-redirects":
            return RobotsRules.allowing_everything()
        log.info("crawl.robots_unavailable", origin=origin, status=status, reason=result.error)
        return RobotsRules.denying_everything()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
