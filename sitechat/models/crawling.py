"""Crawl jobs and what each did with every URL it met (the pages themselves are knowledge)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sitechat.models.base import Base, IdMixin, enum_type


class CrawlStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_active(self) -> bool:
        return self in (CrawlStatus.queued, CrawlStatus.running)


class PageOutcome(StrEnum):
    indexed = "indexed"
    unchanged = "unchanged"
    skipped = "skipped"
    failed = "failed"


class CrawlTrigger(StrEnum):
    manual = "manual"  # asked for through the API
    schedule = "schedule"  # the source's sync_schedule: conditional requests, see ADR


class CrawlJob(IdMixin, Base):
    __tablename__ = "crawl_jobs"
    __table_args__ = (
        # At most one queued-or-running crawl per chatbot, enforced by the database.
        Index(
            "uq_crawl_jobs_one_active_per_chatbot",
            "chatbot_id",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        Index(
            "uq_crawl_jobs_idempotency",
            "chatbot_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        Index("ix_crawl_jobs_chatbot", "chatbot_id", "id"),
        Index("ix_crawl_jobs_source", "source_id", "id"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    chatbot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chatbots.id", ondelete="CASCADE"))
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    status: Mapped[CrawlStatus] = mapped_column(enum_type(CrawlStatus, "crawl_status"))
    start_url: Mapped[str] = mapped_column(String(2048))
    # What the crawl asked for, and what it was granted (capped by the plan and the month's
    # allowance when it was queued); a retry and a re-sync ask for `requested_pages` again.
    requested_pages: Mapped[int] = mapped_column(Integer)
    max_pages: Mapped[int] = mapped_column(Integer)
    max_depth: Mapped[int] = mapped_column(Integer)
    include_paths: Mapped[list[str]] = mapped_column(JSONB, default=list)
    exclude_paths: Mapped[list[str]] = mapped_column(JSONB, default=list)
    use_sitemap: Mapped[bool]
    respect_robots: Mapped[bool]
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    trigger: Mapped[CrawlTrigger] = mapped_column(
        enum_type(CrawlTrigger, "crawl_trigger"),
        default=CrawlTrigger.manual,
        server_default="manual",
    )
    pages_discovered: Mapped[int] = mapped_column(Integer, default=0)
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    pages_indexed: Mapped[int] = mapped_column(Integer, default=0)
    pages_skipped: Mapped[int] = mapped_column(Integer, default=0)
    pages_failed: Mapped[int] = mapped_column(Integer, default=0)
    pages_new: Mapped[int] = mapped_column(Integer, default=0)
    pages_changed: Mapped[int] = mapped_column(Integer, default=0)
    pages_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    pages_removed: Mapped[int] = mapped_column(Integer, default=0)
    pages_unvisited: Mapped[int] = mapped_column(Integer, default=0)
    # Pages only scripts write (crawling/browser.py): rendered in the headless browser, or
    # left out because the crawl had no browser to render them with.
    pages_rendered: Mapped[int] = mapped_column(Integer, default=0)
    pages_needing_browser: Mapped[int] = mapped_column(Integer, default=0)
    bytes_fetched: Mapped[int] = mapped_column(BigInteger, default=0)
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class CrawlPage(IdMixin, Base):
    """What one crawl did with one URL: indexed, unchanged, skipped or failed, and why."""

    __tablename__ = "crawl_pages"
    __table_args__ = (Index("uq_crawl_pages_job_url", "crawl_job_id", "url", unique=True),)

    crawl_job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("crawl_jobs.id", ondelete="CASCADE"))
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    page_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pages.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(String(2048))
    outcome: Mapped[PageOutcome] = mapped_column(enum_type(PageOutcome, "page_outcome"))
    reason: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(1000))
    status_code: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    # The page's outgoing links, so a resumed job continues from here without fetching again.
    links: Mapped[list[str] | None] = mapped_column(JSONB)
    # A link list's validators: the next scheduled crawl asks for it conditionally too.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    rendered: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime]
