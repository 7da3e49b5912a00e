"""The conversation export's rows: one per message, with every citation of an answer named.

Many cited pages have no URL (text and Q&A sources, an uploaded file's pages), so the
`citations` column lists each citation as `[n] Title <where>`, one per line, in the answer's
`[n]` order: `where` is the URL when there is one, else what identifies the source
(`text source <id>`, `Q&A source <id>`, `file "handbook.pdf", source <id>`; a source deleted
since is `source <id>, deleted`), the id being the one `GET /v1/chatbots/{id}/sources/{id}`
takes. `cited_urls` keeps listing the URLs alone, as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sitechat.analytics.repository import CitedSource

EXPORT_HEADER = (
    "conversation_id",
    "conversation_started_at",
    "channel",
    "conversation_status",
    "conversation_title",
    "message_id",
    "message_at",
    "role",
    "message_status",
    "content",
    "fallback",
    "latency_ms",
    "cited_urls",
    "feedback",
    "citations",
)
# The query's columns: the message's up to its latency, then its citations and feedback.
_CITATIONS_COLUMN = 12
_KIND_NAMES = {"text": "text source", "qa": "Q&A source", "website": "website source"}


def citations_of(row: Sequence[Any]) -> list[dict[str, Any]]:
    """A row's stored citations (an answer's; others have none), malformed entries left out."""
    stored = row[_CITATIONS_COLUMN]
    if not isinstance(stored, list):
        return []
    return [citation for citation in stored if isinstance(citation, dict)]


def cited_source_ids(rows: Sequence[Sequence[Any]]) -> set[uuid.UUID]:
    """The sources cited without a URL in `rows`: the ones a citation must be named by."""
    return {
        source_id
        for row in rows
        for citation in citations_of(row)
        if not citation.get("url") and (source_id := _uuid_or_none(citation.get("source_id")))
    }


def export_row(row: Sequence[Any], sources: Mapping[uuid.UUID, CitedSource]) -> list[Any]:
    """A query row as the CSV line `EXPORT_HEADER` names."""
    citations = citations_of(row)
    urls = " ".join(str(citation["url"]) for citation in citations if citation.get("url"))
    entries = "\n".join(citation_entry(citation, sources) for citation in citations)
    return [*row[:_CITATIONS_COLUMN], urls, row[_CITATIONS_COLUMN + 1], entries]


def citation_entry(citation: Mapping[str, Any], sources: Mapping[uuid.UUID, CitedSource]) -> str:
    """`[n] Title <URL or source>` on one line."""
    title = _one_line(citation.get("title"))
    head = f"[{_one_line(citation.get('number'))}] {title}".rstrip()
    where = _one_line(citation.get("url")) or _source_named(citation, sources)
    return f"{head} <{where}>" if where else head


def _source_named(citation: Mapping[str, Any], sources: Mapping[uuid.UUID, CitedSource]) -> str:
    source_id = _uuid_or_none(citation.get("source_id"))
    if source_id is None:
        return ""
    source = sources.get(source_id)
    if source is None:
        return f"source {source_id}, deleted"
    if source.kind == "file":
        name = _one_line(source.file_name).replace('"', "'")
        return f'file "{name}", source {source_id}' if name else f"file source {source_id}"
    return f"{_KIND_NAMES.get(source.kind, 'source')} {source_id}"


def _one_line(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
