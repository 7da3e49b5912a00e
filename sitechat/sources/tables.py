"""Tables in files, written as Markdown tables: a price list's rows stay rows.

A PDF has no tables, only text drawn at positions. pypdf's plain text, which the page's
paragraphs and headings are read from, gives a table's cells one per line or its rows with
the cells run together, and the page's paragraph swallows them: "...include VAT. Plan Monthly
price Messages Starter EUR 19 1,000 Growth EUR 49...". So a page whose text is drawn at the
same place on several lines, well right of their start (`ColumnStarts`, fed while the plain
text is read), is read again in pypdf's layout mode, which keeps each line's layout in spaces.
There, lines parted by the same gutters (columns of blank positions) are a table's rows, a
line under a row with its first column blank the wrap of that row's cells (`layout_tables`);
they make a table when there are enough of them and they read as one: cells that are names
and values, not sentences (prose set in two columns, a definition list), no column of
bullets (a list), no column nearly empty. The table's lines in the plain text, found by their
characters (`table_lines`), are replaced by the Markdown table; a table not found there is
left as the plain text reads it.

Not handled: a row whose first cell wraps too is read as two rows, and a table without
gutters (cells set close together, or told apart by rules alone) stays text.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

# A table has a header and at least two rows; a page sets text in columns when as many of its
# lines start a piece of text at the same place (beyond the line's own start).
MIN_TABLE_ROWS = 3
# A piece of text starting this far (in points, half an inch) right of its line's start may
# be a cell of a column; closer, it is a list item's text after its bullet or number.
MIN_COLUMN_OFFSET = 36
# ... on lines at most this far apart (in points: a row of three lines of small text).
MAX_ROW_HEIGHT = 40
# Cells are apart where at least this many positions of layout mode's text are blank in
# every row (a space between words is one).
MIN_GUTTER = 2
# A table's cells are names and values ("Growth", "EUR 49"); lines of prose set in two
# columns hold many words each.
MAX_MEDIAN_CELL_WORDS = 4
# ... and at most this share of them ends a sentence or a clause.
MAX_CLAUSE_CELLS = 0.25
_CLAUSE_ENDS = (".", "!", "?", ";", ":")
# A list's bullet (a dot, a square, a dash) or its item's number or letter: "3.", "b)".
_LIST_MARK = re.compile(r"[\u2022\u00b7\u25aa\u25e6\u2023\u2219*+\u2013\u2014-]|\(?\w{1,3}[.)]")
# A word layout mode parts after its capital ("T   ime"): its next letters were drawn apart,
# kerned, and their place is estimated.
_SPLIT_WORD = re.compile(r"(?<![A-Za-z])([A-Z]) {2,}(?=[a-z])")
_TEXT_SHOWING = frozenset({b"Tj", b"TJ", b"'", b'"'})

TableRows = list[list[str]]


@dataclass(frozen=True, slots=True)
class FoundTable:
    rows: TableRows
    text: str  # its text in the order its layout's lines read it, without spaces

    @property
    def text_by_cells(self) -> str:
        """Its text cell by cell, a wrapped cell's lines together, without spaces."""
        return "".join("".join(cell.split()) for row in self.rows for cell in row)


class ColumnStarts:
    """Where the page's pieces of text start (pypdf's `visitor_operand_before`), to tell
    whether it sets some of them in columns: a table's cells start at the same x on each of
    its rows; a bold word inside a sentence does not line up with another line's."""

    def __init__(self) -> None:
        self._starts: dict[int, set[int]] = {}  # y -> the x of each piece on that line

    def visit(self, operator: Any, operands: Any, cm: Any, tm: Any) -> None:
        if operator not in _TEXT_SHOWING:
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        self._starts.setdefault(round(y), set()).add(round(x))

    def in_columns(self) -> bool:
        """Whether, on as many lines close together as a table has rows, a piece of text
        starts at the same place, well right of the line's start. (Close: a row's wrapped
        cells and the cells set in the middle of its height put lines between them.)"""
        runs: dict[int, tuple[int, int]] = {}  # x -> lines with a piece there, the last's y
        for y in sorted(self._starts):
            first = min(self._starts[y])
            for x in self._starts[y]:
                if x - first < MIN_COLUMN_OFFSET:
                    continue
                count, last = runs.get(x, (0, y))
                count = count + 1 if y - last <= MAX_ROW_HEIGHT else 1
                if count >= MIN_TABLE_ROWS:
                    return True
                runs[x] = (count, y)
        return False


def layout_tables(layout_text: str) -> list[FoundTable]:
    """The tables of a page's layout-mode text."""
    tables: list[FoundTable] = []
    block = _Block()
    for line in [*layout_text.splitlines(), ""]:
        if block.takes_wrap(line):
            block.add(line, wrapped=True)
        elif block.takes_row(line):
            block.add(line)
        else:
            table = block.table()
            if table is not None:
                tables.append(table)
            block = _Block()
            if block.takes_row(line):  # a row, but not of the block before: a table starts
                block.add(line)
    return tables


class _Block:
    """Consecutive lines of layout-mode text that split at the same gutters."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.wrapped: set[int] = set()  # lines that go on with the cells of the row above
        self.used: list[bool] = []  # the positions where a line of the block has text
        self.widest = 0  # the most cells a line of the block has of its own

    def takes_row(self, line: str) -> bool:
        """A line of cells of its own that keeps the block's gutters: a row. A line whose text
        spans a gutter of the lines before it (a sentence above a table's header) is none, nor
        one whose gutters the lines before it span. (A wide cell may bridge the gap between
        two columns of shorter text: "Range" over "-32768 to +32767"... "up to 131072 digits
        before the decimal point".)"""
        own = len(_column_spans(_used_positions(line)))
        return own >= 2 and len(_column_spans(self._with(line))) >= max(own, self.widest)

    def takes_wrap(self, line: str) -> bool:
        """Text under the cells of the row above, its first column blank: their wrap."""
        own = _used_positions(line)
        return (
            bool(self.lines)
            and any(own)
            and not any(own[: _column_spans(self.used)[0][1]])
            and len(_column_spans(self._with(line))) >= self.widest
        )

    def add(self, line: str, wrapped: bool = False) -> None:
        if wrapped:
            self.wrapped.add(len(self.lines))
        self.lines.append(line)
        self.widest = max(self.widest, len(_column_spans(_used_positions(line))))
        self.used = self._with(line)

    def table(self) -> FoundTable | None:
        if len(self.lines) - len(self.wrapped) < MIN_TABLE_ROWS:
            return None
        columns = _column_spans(self.used)
        rows: TableRows = []
        for index, line in enumerate(self.lines):
            cells = [_cell(line[start:end]) for start, end in columns]
            if index in self.wrapped:
                above = zip(rows[-1], cells, strict=True)
                rows[-1] = [" ".join(filter(None, pair)) for pair in above]
            else:
                rows.append(cells)
        if not _reads_as_table(rows):
            return None
        return FoundTable(rows, "".join("".join(line.split()) for line in self.lines))

    def _with(self, line: str) -> list[bool]:
        own = _used_positions(line)
        return [a or b for a, b in zip_longest(self.used, own, fillvalue=False)]


def _used_positions(line: str) -> list[bool]:
    """Where the line has text; a word parted after its capital (`_SPLIT_WORD`) is text
    across the gap."""
    used = [not char.isspace() for char in line]
    for split in _SPLIT_WORD.finditer(line):
        used[split.start() : split.end()] = [True] * (split.end() - split.start())
    return used


def _cell(text: str) -> str:
    return " ".join(_SPLIT_WORD.sub(r"\1", text).split())


def _column_spans(used: Sequence[bool]) -> list[tuple[int, int]]:
    """The (start, end) of each column of text: parted where at least `MIN_GUTTER` positions
    are blank in every line (`used` is where any line has text)."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    blank = 0
    for position, is_used in enumerate([*used, *([False] * MIN_GUTTER)]):
        if is_used:
            if start is None:
                start = position
            blank = 0
            continue
        blank += 1
        if start is not None and blank == MIN_GUTTER:
            spans.append((start, position - MIN_GUTTER + 1))
            start = None
    return spans


def _reads_as_table(rows: TableRows) -> bool:
    """Whether the rows read as a table's: each column filled in most rows (not a running
    header's page number over a list), no column of bullets or item numbers (a list), and
    short cells that are names and values, not sentences or clauses ("Output variable
    containing the length.", "INTEGER;", a table of contents' "Introduction . . . .")."""
    cells = [cell for row in rows for cell in row if cell]
    columns = list(zip(*rows, strict=True))
    return (
        all(2 * sum(bool(cell) for cell in column) >= len(rows) for column in columns)
        and not any(_is_list_marks(column) for column in columns)
        and statistics.median(len(cell.split()) for cell in cells) <= MAX_MEDIAN_CELL_WORDS
        and MAX_CLAUSE_CELLS * len(cells) >= sum(cell.endswith(_CLAUSE_ENDS) for cell in cells)
    )


def _is_list_marks(column: Sequence[str]) -> bool:
    return all(_LIST_MARK.fullmatch(cell) for cell in column if cell)


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as a Markdown table, the first row its header."""
    lines = ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    if len(lines) > 1:
        lines.insert(1, "|" + " --- |" * len(rows[0]))
    return "\n".join(lines)


def table_lines(lines: Sequence[str], tables: Sequence[FoundTable]) -> dict[int, tuple[int, str]]:
    """Where each table is in the page's plain-text lines: the index of its first line ->
    the index after its last and the table as Markdown. The plain text reads the table's
    text a cell or a row per line, in the order of the layout's lines or cell by cell (a
    wrapped cell's lines together): the lines from the one that starts it that hold the
    same characters, however ordered and spaced, are the table's."""
    found: dict[int, tuple[int, str]] = {}
    compact = ["".join(line.split()) for line in lines]
    start = 0
    for table in tables:
        for first in range(start, len(lines)):
            end = _end_of(compact, first, table)
            if end is not None:
                found[first] = (end, markdown_table(table.rows))
                start = end
                break
    return found


def _end_of(compact: Sequence[str], first: int, table: FoundTable) -> int | None:
    """The index after the lines from `first` that together hold the table's text."""
    opening = compact[first]
    if not opening or not (
        table.text.startswith(opening) or table.text_by_cells.startswith(opening)
    ):
        return None
    wanted, held = Counter(table.text), Counter[str]()
    for index in range(first, len(compact)):
        held.update(compact[index])
        if any(held[char] > wanted[char] for char in compact[index]):
            return None
        if held == wanted:
            return index + 1
    return None
