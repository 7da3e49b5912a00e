"""CSV exports: rows streamed in batches, cells made safe for spreadsheets.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is read by spreadsheet
programs as a formula (CSV injection); such cells get a leading `'`, as OWASP advises, since
visitors type much of what is exported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue()


async def csv_stream(
    header: Sequence[str], batches: AsyncIterator[Sequence[Sequence[Any]]]
) -> AsyncIterator[bytes]:
    """The header line, then each batch of rows, as UTF-8 with a byte-order mark (so
    spreadsheet programs read accents right)."""
    yield ("\ufeff" + csv_lines([header])).encode()
    async for batch in batches:
        if batch:
            yield csv_lines(batch).encode()


def attachment(filename: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }
