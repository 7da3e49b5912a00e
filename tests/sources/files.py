"""Real files for the file-source tests, made with the libraries that write them."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import docx
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas


def make_pdf(
    pages: list[str], *, title: str = "Handbook", outline: dict[int, str] | None = None
) -> bytes:
    """A PDF with one line of text per page; `outline` maps 1-based page numbers to
    bookmarks."""
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer)
    document.setTitle(title)
    for number, text in enumerate(pages, start=1):
        document.drawString(72, 720, text)
        document.bookmarkPage(f"p{number}")
        if outline and number in outline:
            document.addOutlineEntry(outline[number], f"p{number}", 0)
        document.showPage()
    document.save()
    return buffer.getvalue()


def make_pdf_with_headings(sections: list[tuple[str, list[str]]]) -> bytes:
    """A PDF as a word processor exports one: per page a heading set larger than the text
    lines under it, and no outline."""
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer)
    for heading, lines in sections:
        document.setFont("Helvetica-Bold", 18)
        document.drawString(72, 740, heading)
        document.setFont("Helvetica", 10)
        for number, line in enumerate(lines):
            document.drawString(72, 712 - 14 * number, line)
        document.showPage()
    document.save()
    return buffer.getvalue()


def make_pdf_with_table(
    before: list[str],
    rows: list[tuple[str, ...]],
    after: list[str],
    *,
    one_text_object: bool = False,
) -> bytes:
    """A PDF page of text lines, a table whose cells are set in aligned columns (no ruling, as
    most PDF tables are), and more lines. Each cell is drawn on its own, as a browser's "Save
    as PDF" does, or, `one_text_object`, all moved to in one text object, as reports do."""
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer)
    document.setTitle("Price list")
    document.setFont("Helvetica-Bold", 18)
    document.drawString(72, 760, "Plans and prices")
    document.setFont("Helvetica", 10)
    y = 730.0
    for line in before:
        document.drawString(72, y, line)
        y -= 14
    y -= 10
    columns = [72 + 130 * index for index in range(len(rows[0]))]
    text = document.beginText()
    for row in rows:
        for x, cell in zip(columns, row, strict=True):
            if one_text_object:
                text.setTextOrigin(x, y)
                text.textOut(cell)
            else:
                document.drawString(x, y, cell)
        y -= 16
    if one_text_object:
        document.drawText(text)
    y -= 10
    for line in after:
        document.drawString(72, y, line)
        y -= 14
    document.showPage()
    document.save()
    return buffer.getvalue()


def make_pdf_in_two_columns(left: list[str], right: list[str]) -> bytes:
    """A page of prose set in two columns, as newsletters are: not a table."""
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer)
    document.setFont("Helvetica", 10)
    for x, lines in ((72, left), (310, right)):
        for number, line in enumerate(lines):
            document.drawString(x, 720 - 14 * number, line)
    document.showPage()
    document.save()
    return buffer.getvalue()


USER_PASSWORD = "s3cret"


def encrypt_pdf(data: bytes, password: str = USER_PASSWORD) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(sections: list[tuple[str, list[str]]], *, title: str = "Staff guide") -> bytes:
    """A Word file: a Title, then per section a Heading 1 and its paragraphs."""
    document = docx.Document()
    document.core_properties.title = title
    document.add_paragraph(title, style="Title")
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb_docx(inflated_bytes: int = 40_000_000) -> bytes:
    """A genuine Word file plus one part that inflates a thousandfold (zeros)."""
    base = make_docx([("Intro", ["Looks like a normal document."])])
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        with target.open("word/media/padding.bin", "w") as part:
            block = bytes(1_000_000)
            for _ in range(inflated_bytes // len(block)):
                part.write(block)
    return out.getvalue()


def make_png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
