"""Runs of a file source: each upload, replacement or scheduled fetch, and what it changed.

Website sources run as crawl jobs (`models/crawling.py`); a file source's run is parsed in the
`sources.ingest_file` job, and its diff (per page: new, changed, unchanged, removed) is stored
here, so `GET .../sources/{id}/runs/{run_id}` shows what each version of a file changed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sitechat.models.base import Base, IdMixin, enum_type


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"


class RunTrigger(StrEnum):
    upload = "upload"  # the file was sent with POST .../sources
    # PUT .../sources/{id}/file (not named `replace`: that is a str method)
    replacement = "replace"
    schedule = "schedule"  # the source's sync_schedule fetched its URL again
    manual = "manual"  # POST .../sources/{id}/sync


class SourceRun(IdMixin, Base):
    __tablename__ = "source_runs"
    __table_args__ = (Index("ix_source_runs_source", "source_id", "id"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    chatbot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chatbots.id", ondelete="CASCADE"))
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    trigger: Mapped[RunTrigger] = mapped_column(enum_type(RunTrigger, "source_run_trigger"))
    status: Mapped[RunStatus] = mapped_column(enum_type(RunStatus, "source_run_status"))
    error: Mapped[str | None] = mapped_column(Text)
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_type: Mapped[str | None] = mapped_column(String(20))
    file_bytes: Mapped[int | None] = mapped_column(Integer)
    # The file until the job has parsed it; cleared when the run ends, so only files still
    # waiting for a worker take space.
    file_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    http_requests: Mapped[int] = mapped_column(Integer, default=0)
    pages_new: Mapped[int] = mapped_column(Integer, default=0)
    pages_changed: Mapped[int] = mapped_column(Integer, default=0)
    pages_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    pages_removed: Mapped[int] = mapped_column(Integer, default=0)
    # New and changed pages: what the run indexed, counted against the plan's pages.
    pages_indexed: Mapped[int] = mapped_column(Integer, default=0)
    # [{"page": locator, "title": ..., "page_number": n | null, "change": "new" | ...}]
    diff: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
