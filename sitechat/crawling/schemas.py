"""Request and response bodies for crawls, the pages they found and their progress."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sitechat.models.crawling import CrawlStatus, PageOutcome

MAX_PATH_PATTERNS = 50
DEFAULT_MAX_DEPTH = 5
MAX_DEPTH = 20

PathPattern = Annotated[str, StringConstraints(min_length=1, max_length=300)]


class CrawlCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://docs.example.com/",
                    "max_pages": 200,
                    "exclude_paths": ["/blog/*"],
                    "idempotency_key": "docs-2026-01-15",
                }
            ]
        },
    )

    url: Annotated[str, StringConstraints(min_length=1, max_length=2048, strip_whitespace=True)] = (
        Field(description="Start URL; the crawl stays on its site (scheme, host and port).")
    )
    max_pages: int | None = Field(
        default=None,
        ge=1,
        description="Pages to index at most; above the plan's `crawl_max_pages` it is 402 "
        "`quota-exceeded` (with `limit_value`), above the server's cap 422. Null: the server "
        "default, within the plan's cap.",
    )
    max_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=0, le=MAX_DEPTH)
    include_paths: list[PathPattern] = Field(
        default_factory=list,
        max_length=MAX_PATH_PATTERNS,
        description="Glob patterns on the URL path (`/docs/*`, or `/docs` for it and below); "
        "when set, only matching pages are indexed. The start URL is always fetched for its "
        "links, but indexed only if it matches too; a crawl that finds no matching page fails "
        "and keeps the pages indexed before.",
    )
    exclude_paths: list[PathPattern] = Field(
        default_factory=list,
        max_length=MAX_PATH_PATTERNS,
        description="Glob patterns of paths never indexed nor followed; they win over "
        "`include_paths` (the start URL is still followed for its links).",
    )
    use_sitemap: bool = Field(
        default=True, description="Also start from robots.txt `Sitemap:` lines and /sitemap.xml."
    )
    respect_robots: bool = True
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="Sending the same key again for this chatbot returns the crawl it "
        "started (200) instead of starting another.",
    )


class CrawlRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    chatbot_id: uuid.UUID
    source_id: uuid.UUID
    status: CrawlStatus
    start_url: str
    requested_pages: int = Field(
        description="The pages asked for (`max_pages` of the request, or the server default)."
    )
    max_pages: int = Field(
        description="The pages this crawl may index: `requested_pages`, less when less is left "
        "of the plan's month (or, for a retry or a scheduled re-sync, above the plan's cap)."
    )
    max_depth: int
    include_paths: list[str]
    exclude_paths: list[str]
    use_sitemap: bool
    respect_robots: bool
    idempotency_key: str | None
    pages_discovered: int
    pages_fetched: int
    pages_indexed: int = Field(description="Pages now searchable: new, changed and unchanged.")
    pages_skipped: int
    pages_failed: int
    pages_new: int
    pages_changed: int
    pages_unchanged: int = Field(description="Same content as the last crawl; not re-indexed.")
    pages_removed: int = Field(description="Pages of the last crawl gone from the site.")
    pages_unvisited: int = Field(
        description="URLs found but never fetched because the crawl stopped first (its page "
        "budget, time or byte budget, a cancel); 0 when it saw the whole site."
    )
    pages_rendered: int = Field(
        description="Pages whose HTML had next to no text but loaded scripts, rendered in the "
        "headless browser (`SITECHAT_CRAWL_BROWSER`) and read from the DOM it built."
    )
    pages_needing_browser: int = Field(
        description="Such pages left out because no browser is configured (page reason "
        "`needs-browser`) or it would not start (`browser-unavailable`); 0 when none."
    )
    bytes_fetched: int
    stop_reason: str | None = Field(
        description=(
            "completed, max-pages, time-budget, byte-budget, cancelled, error, or "
            "nothing-indexed (the crawl failed: `error` says why no page was indexed, such as "
            "its start page's HTTP status or no page matching `include_paths`)."
        )
    )
    error: str | None
    attempts: int
    cancel_requested_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CrawlPageRead(BaseModel):
    """What the crawl did with one URL."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    outcome: PageOutcome
    reason: str | None = Field(
        description="Why it was skipped or failed (`robots-disallowed`; `outside-path-filters`: "
        "the start page, outside `include_paths` / `exclude_paths`, followed for its links only, "
        "or a page that a link inside them redirected to, or named as canonical, outside them)."
    )
    title: str | None
    status_code: int | None
    bytes: int
    depth: int
    page_id: uuid.UUID | None = Field(description="The stored page, for indexed pages.")
    rendered: bool = Field(description="Its text came from the headless browser's DOM.")
    created_at: datetime


class PageRead(BaseModel):
    """A stored page: its extracted text as Markdown."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    chatbot_id: uuid.UUID
    source_id: uuid.UUID
    url: str
    title: str
    status_code: int | None
    content_type: str | None
    bytes: int
    language: str | None
    content: str
    content_hash: str
    fetched_at: datetime


class CrawlProgress(BaseModel):
    """The body of each `progress` and `done` event of the events stream."""

    id: uuid.UUID
    status: CrawlStatus
    pages_discovered: int
    pages_fetched: int
    pages_indexed: int
    pages_skipped: int
    pages_failed: int
    pages_removed: int
    pages_unvisited: int
    stop_reason: str | None
    error: str | None
