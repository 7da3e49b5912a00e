"""Files -> Markdown pages with titles and headings (run in a child process: `parse_process`).

- **PDF** (pypdf): one page per PDF page, numbered, so citations can say "page 4"; the
  document outline (bookmarks) gives each page its heading, a short line set larger than
  the document's body text is a heading within the page, and text set in aligned columns is
  a Markdown table (`tables.py`). A PDF locked with a user password
  fails as `encrypted`; one locked only against editing (an empty user password) is read.
- **DOCX** (python-docx): Word's heading styles become Markdown headings, lists and tables
  are kept; the document is cut into one page per top-level section.
- **HTML**: the crawler's own extraction (main content, headings, tables); **Markdown** and
  **plain text** as they are. Both are cut into sections like a Word file.

Every page gets a content hash, so a replaced file re-indexes only the pages that changed.
Limits (`ParseLimits`) bound the pages, the text and, for zip-based files, the decompressed
size: a zip bomb is refused before anything is inflated.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sitechat.knowledge.chunking import content_hash
from sitechat.sources.filetypes import FileType, decode_text
from sitechat.sources.tables import (
    ColumnStarts,
    FoundTable,
    layout_tables,
    markdown_table,
    table_lines,
)

# A PDF line set at least this many times larger than the body text is a heading (when short
# and not a sentence): PDFs made from documents keep no heading structure but their look.
HEADING_SIZE = 1.15
MAX_PDF_HEADING_CHARS = 120
# Pages read a second time, in layout mode, for their tables (costing about as much as the
# first reading): at most this many per file, so that a long file of tables stays within the
# parsing child's time.
MAX_TABLE_PAGES = 300
# A zip entry that inflates more than this many times over is a bomb, not a document.
MAX_COMPRESSION_RATIO = 200
MAX_ZIP_ENTRIES = 5_000
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class ParseLimits:
    max_pages: int = 2_000
    max_unzipped_bytes: int = 100_000_000
    max_text_chars: int = 20_000_000


@dataclass(frozen=True)
class ParsedPage:
    locator: str  # unique within the file: "page-4", "section-2-pricing"
    title: str
    markdown: str
    page_number: int | None
    content_hash: str


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    pages: list[ParsedPage]


class FileRejected(ValueError):
    """The file cannot be indexed; the message is shown to the customer as the error."""


def parse_file(
    data: bytes, file_type: FileType, file_name: str, limits: ParseLimits
) -> ParsedDocument:
    fallback_title = PurePosixPath(file_name).stem or "Document"
    if file_type is FileType.pdf:
        document = _parse_pdf(data, fallback_title, limits)
    elif file_type is FileType.docx:
        document = _parse_docx(data, fallback_title, limits)
    else:
        document = _parse_text(data, file_type, fallback_title, limits)
    if not document.pages:
        raise FileRejected(
            "No text was found in the file (a scanned PDF needs text recognition first)."
        )
    if sum(len(page.markdown) for page in document.pages) > limits.max_text_chars:
        raise FileRejected(f"The file holds more than {limits.max_text_chars} characters of text.")
    return document


# -- PDF ----------------------------------------------------------------------------------------


def _parse_pdf(data: bytes, fallback_title: str, limits: ParseLimits) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileRejected("The PDF is encrypted with a password; upload it without one.")
        page_count = len(reader.pages)
    except FileRejected:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        if "decrypt" in str(error).lower() or "encrypt" in str(error).lower():
            raise FileRejected("The PDF is encrypted; upload it without a password.") from None
        raise FileRejected("The PDF is damaged and cannot be read.") from None
    if page_count > limits.max_pages:
        raise FileRejected(f"The PDF has {page_count} pages; at most {limits.max_pages} are read.")
    title = _pdf_title(reader) or fallback_title
    headings = _pdf_outline_headings(reader)
    texts = [_pdf_page_text(reader.pages[index]) for index in range(page_count)]
    body_size = _body_font_size([(text, sizes) for text, sizes, _ in texts])
    in_columns = [index for index, (_, _, columns) in enumerate(texts) if columns]
    tables = {index: _pdf_tables(reader.pages[index]) for index in in_columns[:MAX_TABLE_PAGES]}
    pages: list[ParsedPage] = []
    heading = ""
    for index, (text, line_sizes, _) in enumerate(texts):
        heading = headings.get(index, heading)
        large = {line for line, size in line_sizes.items() if size >= body_size * HEADING_SIZE}
        text = _tidy_pdf_text(text, large, tables.get(index, []))
        if not text:
            continue
        number = index + 1
        markdown = f"## {heading}\n\n{text}" if heading else text
        pages.append(
            ParsedPage(
                locator=f"page-{number}",
                title=f"{title}, page {number}",
                markdown=markdown,
                page_number=number,
                content_hash=content_hash(markdown),
            )
        )
    return ParsedDocument(title=title, pages=pages)


# Titles a PDF writer fills in by itself: the file's name says more to a visitor.
_PLACEHOLDER_TITLE = re.compile(r"untitled(?: document)?|document\d*|microsoft word - .*", re.I)


def _pdf_title(reader: object) -> str:
    """The PDF's own title, or "" when it has none but a writer's placeholder ("untitled")."""
    try:
        metadata = reader.metadata  # type: ignore[attr-defined]
        title = metadata.title if metadata is not None else None
    except MemoryError:
        raise  # the file costs too much: not a page without text
    except Exception:
        return ""
    title = " ".join(str(title).split())[:300] if title else ""
    return "" if _PLACEHOLDER_TITLE.fullmatch(title) else title


def _pdf_outline_headings(reader: object) -> dict[int, str]:
    """Page index -> the last top-level bookmark starting on it."""
    headings: dict[int, str] = {}
    try:
        outline = reader.outline  # type: ignore[attr-defined]
        for item in outline:
            if isinstance(item, list):
                continue  # nested bookmarks: the top level is enough for a heading
            page = reader.get_destination_page_number(item)  # type: ignore[attr-defined]
            if page is not None and page >= 0:
                headings[page] = " ".join(str(item.title).split())[:300]
    except MemoryError:
        raise
    except Exception:
        return {}
    return headings


def _pdf_page_text(page: Any) -> tuple[str, dict[str, float], bool]:
    """The page's text, each of its lines (whitespace collapsed) with the largest font size
    it is set in, and whether it sets some text in columns (a table, maybe)."""
    sizes: dict[str, float] = {}
    starts = ColumnStarts()
    line: list[str] = []
    size = 0.0

    def visit(text: str, cm: Any, tm: Any, font: Any, font_size: float) -> None:
        nonlocal size
        # The font size as drawn: scaled by the text's and the page's matrices.
        drawn = font_size * math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3])
        *ended, rest = text.split("\n")
        for piece in ended:
            line.append(piece)
            if piece.strip():
                size = max(size, drawn)
            _end_line(sizes, line, size)
            size = 0.0
        if rest.strip():
            line.append(rest)
            size = max(size, drawn)

    try:
        text = page.extract_text(visitor_text=visit, visitor_operand_before=starts.visit) or ""
    except MemoryError:
        raise
    except Exception:
        return "", {}, False
    _end_line(sizes, line, size)
    return text, sizes, starts.in_columns()


def _pdf_tables(page: Any) -> list[FoundTable]:
    """The tables of a page that sets text in columns, read from its layout."""
    try:
        layout = page.extract_text(extraction_mode="layout", layout_mode_space_vertically=False)
    except MemoryError:
        raise
    except Exception:
        return []
    return layout_tables(layout or "")


def _end_line(sizes: dict[str, float], line: list[str], size: float) -> None:
    text = " ".join("".join(line).split())
    line.clear()
    if text:
        sizes[text] = max(size, sizes.get(text, 0.0))


def _body_font_size(texts: list[tuple[str, dict[str, float]]]) -> float:
    """The font size most of the document's characters are set in."""
    characters: dict[float, int] = {}
    for _, sizes in texts:
        for line, size in sizes.items():
            characters[round(size, 1)] = characters.get(round(size, 1), 0) + len(line)
    return max(characters, key=lambda size: characters[size]) if characters else 0.0


def _is_heading(line: str, large: set[str]) -> bool:
    return (
        line in large
        and len(line) <= MAX_PDF_HEADING_CHARS
        and not line.endswith((".", ",", ";"))
        and any(char.isalpha() for char in line)
    )


def _tidy_pdf_text(text: str, large: set[str], tables: Sequence[FoundTable] = ()) -> str:
    """Paragraphs as the page sets them; a heading line (`large`, short, no sentence) becomes
    a Markdown heading instead of running into the paragraph under it, and a table's lines a
    Markdown table."""
    lines = [" ".join(line.split()) for line in text.replace("\x00", "").splitlines()]
    placed = table_lines(lines, tables)
    paragraphs: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(lines):
        if index in placed:
            if current:
                paragraphs.append("\n".join(current))
                current = []
            index, table = placed[index]
            paragraphs.append(table)
            continue
        line = lines[index]
        index += 1
        if _is_heading(line, large):
            if current:
                paragraphs.append("\n".join(current))
                current = []
            paragraphs.append(f"### {line}")
        elif line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs).strip()


# -- DOCX ---------------------------------------------------------------------------------------


def check_zip_bomb(data: bytes, limits: ParseLimits) -> None:
    """Refuse a zip whose entries would inflate past the limits, before inflating any."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise FileRejected("The Word file is damaged and cannot be read.") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise FileRejected("The Word file holds too many parts to be a document.")
    total = sum(entry.file_size for entry in entries)
    if total > limits.max_unzipped_bytes:
        raise FileRejected(
            f"The Word file would decompress to {total} bytes; at most "
            f"{limits.max_unzipped_bytes} are read (a zip bomb?)."
        )
    for entry in entries:
        if entry.file_size > 1_000_000 and entry.file_size > MAX_COMPRESSION_RATIO * max(
            entry.compress_size, 1
        ):
            raise FileRejected(
                "The Word file decompresses far beyond its size (a zip bomb?) and is refused."
            )


def _parse_docx(data: bytes, fallback_title: str, limits: ParseLimits) -> ParsedDocument:
    check_zip_bomb(data, limits)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(_docx_blocks(document))
        core_title = document.core_properties.title or ""
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise FileRejected("The Word file is damaged and cannot be read.") from error
    except Exception as error:
        raise FileRejected("The Word file is damaged and cannot be read.") from error
    markdown = "\n\n".join(blocks)
    title = " ".join(core_title.split())[:300] or _first_heading(markdown) or fallback_title
    return ParsedDocument(title=title, pages=split_sections(markdown, title, limits))


def _docx_blocks(document: object) -> Iterator[str]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for block in document.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(block, Paragraph):
            text = " ".join(block.text.split())
            if not text:
                continue
            style = (block.style.name if block.style is not None else "") or ""
            level = _heading_level(style)
            if level:
                yield f"{'#' * level} {text}"
            elif "List" in style:
                yield f"- {text}"
            else:
                yield text
        elif isinstance(block, Table):
            yield _docx_table(block)


def _heading_level(style: str) -> int:
    if style == "Title":
        return 1
    match = re.fullmatch(r"Heading ([1-6])", style)
    return int(match.group(1)) if match else 0


def _docx_table(table: object) -> str:
    rows = table.rows  # type: ignore[attr-defined]
    return markdown_table([[" ".join(cell.text.split()) for cell in row.cells] for row in rows])


# -- HTML, Markdown, text -----------------------------------------------------------------------


def _parse_text(
    data: bytes, file_type: FileType, fallback_title: str, limits: ParseLimits
) -> ParsedDocument:
    if len(data) > limits.max_text_chars * 4:
        raise FileRejected(f"The file holds more than {limits.max_text_chars} characters of text.")
    if file_type is FileType.html:
        from sitechat.crawling.extract import extract_page

        page = extract_page(data, "https://file.invalid/", content_type="text/html")
        markdown, title = page.markdown, page.title
    else:
        markdown = decode_text(data)
        title = _first_heading(markdown) if file_type is FileType.markdown else ""
    title = " ".join(title.split())[:300] or fallback_title
    return ParsedDocument(title=title, pages=split_sections(markdown, title, limits))


def _first_heading(markdown: str) -> str:
    for level, heading in _headings(markdown):
        if level == 1:
            return heading
    return ""


def _headings(markdown: str) -> Iterator[tuple[int, str]]:
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line)):
            yield len(match.group(1)), match.group(2)


def split_sections(markdown: str, title: str, limits: ParseLimits) -> list[ParsedPage]:
    """Cut at the top heading level that occurs more than once (a lone H1 is the document's
    title, so its H2s cut), one page per section; text before the first cut is a section."""
    levels = [level for level, _ in _headings(markdown)]
    cut_level = next((level for level in range(1, 7) if levels.count(level) > 1), None)
    sections: list[tuple[str, list[str]]] = [("", [])]
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match and cut_level is not None and len(match.group(1)) == cut_level:
            sections.append((match.group(2), [line]))
        else:
            sections[-1][1].append(line)
    pages: list[ParsedPage] = []
    used: set[str] = set()
    for heading, lines in sections:
        body = "\n".join(lines).strip()
        if not body or _only_headings(body):  # a title line alone is no page
            continue
        locator = _unique(f"section-{_slug(heading) or 'start'}", used)
        pages.append(
            ParsedPage(
                locator=locator,
                title=f"{title}: {heading}" if heading else title,
                markdown=body,
                page_number=None,
                content_hash=content_hash(body),
            )
        )
    if len(pages) > limits.max_pages:
        raise FileRejected(
            f"The file has {len(pages)} sections; at most {limits.max_pages} are read."
        )
    return pages


def _only_headings(body: str) -> bool:
    return all(_HEADING.match(line) or not line.strip() for line in body.splitlines())


def _slug(text: str) -> str:
    return _SLUG_JUNK.sub("-", text.lower()).strip("-")[:60]


def _unique(locator: str, used: set[str]) -> str:
    candidate, number = locator, 2
    while candidate in used:
        candidate, number = f"{locator}-{number}", number + 1
    used.add(candidate)
    return candidate
