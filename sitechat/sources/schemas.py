"""Bodies of the source routes: file sources, re-sync schedules and the runs' diffs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from sitechat.chatbots.schemas import (
    QaAnswer,
    QaSourceCreate,
    SourceRead,
    TextContent,
    TextSourceCreate,
)
from sitechat.core.fields import QaQuestion, SourceTitle
from sitechat.models.chatbots import SyncSchedule


def _check_file_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("a file URL is http(s)://host/path")
    if parts.username or parts.password:
        raise ValueError("a file URL carries no credentials")
    return value


FileUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_check_file_url)]


class FileUrlSourceCreate(BaseModel):
    """A file (PDF, DOCX, HTML, Markdown, text) fetched from a URL, parsed in a job, and
    fetched again on its `sync_schedule`. To upload a file, send multipart/form-data."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["file"]
    url: FileUrl
    title: SourceTitle | None = None
    sync_schedule: SyncSchedule = SyncSchedule.off


SourceCreate = Annotated[
    TextSourceCreate | QaSourceCreate | FileUrlSourceCreate, Field(discriminator="kind")
]


class SourceUpdate(BaseModel):
    """What can change on a source, by its kind: a website's or a fetched file's schedule, a
    text source's title and content, a Q&A source's question and answer. An uploaded file is
    replaced with `PUT .../file`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "minProperties": 1,
            "examples": [
                {"sync_schedule": "weekly"},
                {"content": "# Refunds\n\nRefunds are issued within 30 days of purchase."},
                {"answer": "Yes: every order ships with a prepaid return label."},
            ],
        },
    )

    sync_schedule: SyncSchedule | None = Field(
        default=None,
        description="Re-sync a website or a file fetched from a URL: `off`, `daily` or "
        "`weekly` (the plan's `syncs_per_week` allows daily or only weekly).",
    )
    title: SourceTitle | None = Field(default=None, description="A text source's title.")
    content: TextContent | None = Field(default=None, description="A text source's text.")
    question: QaQuestion | None = Field(default=None, description="A Q&A source's question.")
    answer: QaAnswer | None = Field(default=None, description="A Q&A source's answer.")

    @model_validator(mode="after")
    def _changes_something(self) -> SourceUpdate:
        if not self.changed():
            raise ValueError("name at least one field to change")
        return self

    def changed(self) -> set[str]:
        """The fields the request sets (null is not a value for any of them)."""
        return {name for name in self.model_fields_set if getattr(self, name) is not None}


RunKind = Literal["file", "crawl"]


class RunRead(BaseModel):
    """One run of a source: a file parsed (upload, replacement, scheduled fetch) or a crawl
    (for a website), with how many of its pages were new, changed, unchanged or removed."""

    id: uuid.UUID
    kind: RunKind = Field(description="`file`: a file run; `crawl`: see `/v1/crawls/{id}`.")
    trigger: str = Field(examples=["upload", "replace", "schedule", "manual"])
    status: str = Field(examples=["queued", "running", "completed", "failed"])
    error: str | None
    file_name: str | None = None
    http_requests: int | None = Field(
        default=None, description="Requests made (a scheduled fetch; one 304 when unchanged)."
    )
    pages_new: int
    pages_changed: int
    pages_unchanged: int
    pages_removed: int
    pages_indexed: int = Field(description="Pages (re-)indexed: counted against the plan.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class PageChange(BaseModel):
    page: str = Field(description="The page within the file (`page-4`, `section-pricing`).")
    title: str
    page_number: int | None
    change: Literal["new", "changed", "unchanged", "removed"]


class RunDetail(RunRead):
    diff: list[PageChange] = Field(
        default_factory=list,
        description="Per page of a file run; a crawl's pages are at `/v1/crawls/{id}/pages`.",
    )


class SourceDetail(SourceRead):
    """A source with its processing status and its latest run."""

    file_type: str | None = None
    file_bytes: int | None = None
    pages: int = Field(description="Pages of the source in the index.")
    next_sync_at: datetime | None = None
    last_synced_at: datetime | None = None
    last_run: RunRead | None = None
