"""Fetching a file source's URL: the crawler's SSRF-guarded fetcher, any content type, the
plan's file size cap, and a conditional request so an unchanged file costs one 304."""

from __future__ import annotations

from dataclasses import dataclass

from sitechat.config import CrawlSettings
from sitechat.crawling.fetcher import ANY_CONTENT_TYPE, Fetcher, FetcherConfig, Validators
from sitechat.sources.parsing import FileRejected


@dataclass(frozen=True)
class FetchedFile:
    data: bytes | None
    etag: str | None
    last_modified: str | None
    not_modified: bool
    requests: int = 1


async def fetch_source_file(
    settings: CrawlSettings,
    url: str,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
) -> FetchedFile:
    """The file at `url`, or `FileRejected` saying why it could not be fetched."""
    config = FetcherConfig(
        user_agent=settings.user_agent,
        per_host_concurrency=1,
        max_bytes=max_bytes,
        timeout_seconds=settings.request_timeout_seconds,
        allowed_hosts=frozenset(settings.allowed_hosts),
        content_types=ANY_CONTENT_TYPE,
    )
    async with Fetcher(config) as fetcher:
        fetched = await fetcher.fetch(url, validators=Validators(etag, last_modified))
    if fetched.not_modified:
        return FetchedFile(None, etag, last_modified, not_modified=True)
    if not fetched.ok or fetched.body is None:
        reason = fetched.error or "empty-response"
        if reason == "http-error" and fetched.status:
            reason = f"HTTP {fetched.status}"
        if reason == "too-large":
            raise FileRejected(f"The file at the URL is larger than the plan's {max_bytes} bytes.")
        raise FileRejected(f"The file could not be fetched from its URL ({reason}).")
    return FetchedFile(fetched.body, fetched.etag, fetched.last_modified, not_modified=False)
