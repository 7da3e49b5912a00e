"""A parsed file becomes the source's pages: only what changed is written.

Each parsed page is keyed by its locator within the file (`page-4`, `section-pricing`); its
hash (title and text) decides: `unchanged` pages keep their chunks (and vectors), `changed`
pages are re-chunked, `new` ones are written, and pages the new version no longer has are
removed. The whole version is applied in one transaction, so answers see the old file or the
new one, never half of each. New and changed pages count against the plan's pages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.billing.plans import PlanCatalog
from sitechat.billing.usage import quota_status
from sitechat.knowledge.dense import DenseRetrieval
from sitechat.knowledge.writer import PageContent, PageTarget, write_page
from sitechat.models.chatbots import Source
from sitechat.sources import repository
from sitechat.sources.parsing import FileRejected, ParsedDocument, ParsedPage


@dataclass
class IngestDiff:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def indexed(self) -> int:
        return self.new + self.changed


def page_hash(page: ParsedPage) -> str:
    return hashlib.sha256(f"{page.title}\n{page.content_hash}".encode()).hexdigest()


def _entry(locator: str, title: str, page_number: int | None, change: str) -> dict[str, Any]:
    return {"page": locator, "title": title, "page_number": page_number, "change": change}


def citation_url_of(source: Source, page: ParsedPage) -> str | None:
    """What a file page's citations link to: a fetched file's URL (PDF viewers open
    `#page=4`); nothing for an uploaded file."""
    if source.url is None:
        return None
    return f"{source.url}#page={page.page_number}" if page.page_number else source.url


async def apply_document(
    session: AsyncSession,
    plans: PlanCatalog,
    dense: DenseRetrieval | None,
    source: Source,
    language: str,
    document: ParsedDocument,
    content_type: str,
    now: datetime,
) -> IngestDiff:
    """Write the document's pages into `source`; `FileRejected` if the plan has no room.

    The room is checked after the pages are written, under the workspace's quota lock that the
    caller's transaction then holds until it records the pages: taken before, the lock would
    stop the workspace's chat messages for as long as a large file takes to write (a 12 MB
    text: a minute). A rejected file's writes roll back with the transaction."""
    existing = await repository.pages_of_source(session, source.id)
    diff = IngestDiff()
    to_write: list[tuple[ParsedPage, str, bool]] = []
    for page in document.pages:
        known = existing.get(page.locator)
        digest = page_hash(page)
        if known is not None and known.content_hash == digest:
            diff.unchanged += 1
            diff.entries.append(_entry(page.locator, page.title, page.page_number, "unchanged"))
        else:
            to_write.append((page, digest, known is not None))
    target = PageTarget(
        workspace_id=source.workspace_id,
        chatbot_id=source.chatbot_id,
        source_id=source.id,
        language=language,
    )
    for page, digest, is_change in to_write:
        content = PageContent(
            url=page.locator,
            title=page.title,
            markdown=page.markdown,
            content_hash=digest,
            language=None,
            status_code=None,
            content_type=content_type,
            bytes=len(page.markdown.encode()),
            page_number=page.page_number,
            link_to_page=False,
            citation_url=citation_url_of(source, page),
        )
        await write_page(session, target, content, existing.get(page.locator), now, dense)
        change = "changed" if is_change else "new"
        diff.entries.append(_entry(page.locator, page.title, page.page_number, change))
        if is_change:
            diff.changed += 1
        else:
            diff.new += 1
    kept = {page.locator for page in document.pages}
    gone = [stored for url, stored in existing.items() if url not in kept]
    await repository.delete_pages(session, [stored.id for stored in gone])
    for stored in gone:
        diff.entries.append(_entry(stored.url, stored.title, stored.page_number, "removed"))
    diff.removed = len(gone)
    await _ensure_room(session, plans, source, len(to_write))  # last: the lock is held to commit
    return diff


async def _ensure_room(
    session: AsyncSession, plans: PlanCatalog, source: Source, pages: int
) -> None:
    if pages == 0:
        return
    status = await quota_status(session, plans, source.workspace_id, "pages_per_month")
    if pages > status.remaining:
        raise FileRejected(
            f"The file has {pages} new or changed pages to index; the {status.plan.name} plan "
            f"allows {status.remaining} more this month."
        )
