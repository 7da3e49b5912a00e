"""What an uploaded file is, told by its bytes (magic numbers and structure), never its name.

A name only chooses between two readings of the same safe content: a text file called
`*.md` is read as Markdown, and a zip that cannot be opened is taken for the Word file it is
named after, so that it fails in the job with a clear "corrupt" instead of a 415.
"""

from __future__ import annotations

import codecs
import io
import zipfile
from enum import StrEnum

PDF_MAGIC = b"%PDF-"
ZIP_MAGIC = b"PK\x03\x04"
# OLE2 compound files: legacy .doc, and Office files encrypted with a password.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
DOCX_MAIN_PART = "word/document.xml"
# The PDF header may follow some junk; readers look this far for it.
PDF_HEADER_WINDOW = 1024
TEXT_SAMPLE_BYTES = 64 * 1024
_HTML_MARKERS = ("<!doctype html", "<html", "<head", "<body")
_MARKDOWN_NAMES = (".md", ".markdown", ".mdown", ".mkd")
# A text file says its encoding with a byte-order mark (Windows Notepad's "Unicode" is UTF-16
# with one), else it is UTF-8, else what Windows editors save Western text in by default:
# Windows-1252, Latin-1 with printable characters where Latin-1 has controls. UTF-32's marks
# come first, since UTF-32 LE's starts with UTF-16 LE's.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
LEGACY_TEXT_ENCODING = "cp1252"


class FileType(StrEnum):
    pdf = "pdf"
    docx = "docx"
    html = "html"
    markdown = "markdown"
    text = "text"


class UnsupportedFile(ValueError):
    """Not one of the file types SiteChat reads; the message says what it looks like."""


def detect_file_type(data: bytes, file_name: str) -> FileType:
    """The type of `data`, or `UnsupportedFile`."""
    if not data:
        raise UnsupportedFile("The file is empty.")
    if PDF_MAGIC in data[:PDF_HEADER_WINDOW]:
        return FileType.pdf
    if data.startswith(ZIP_MAGIC):
        return _zip_type(data, file_name)
    if data.startswith(OLE_MAGIC):
        raise UnsupportedFile(
            "This is a legacy or password-protected Office file; save it as .docx without a "
            "password and upload it again."
        )
    sample = data[:TEXT_SAMPLE_BYTES]
    encoding = text_encoding(data)
    text = None if encoding is None else sample.decode(encoding, errors="ignore")
    if text is None or not _looks_like_text(text):
        raise UnsupportedFile(
            "The file is neither PDF, DOCX, HTML, Markdown nor plain text (UTF-8, UTF-16 or "
            "Windows-1252)."
        )
    if len(data) == len(sample) and not text.replace("\ufeff", "").strip():
        raise UnsupportedFile("The file holds only blank space: there is no text to index.")
    head = text.lstrip("\ufeff \t\r\n").lower()
    if head.startswith("<") and any(marker in head[:4096] for marker in _HTML_MARKERS):
        return FileType.html
    if file_name.lower().endswith(_MARKDOWN_NAMES):
        return FileType.markdown
    return FileType.text


def _zip_type(data: bytes, file_name: str) -> FileType:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        if file_name.lower().endswith(".docx"):
            return FileType.docx  # a damaged Word file: the job reports it as corrupt
        raise UnsupportedFile("The file is a damaged zip archive.") from None
    if DOCX_MAIN_PART in names:
        return FileType.docx
    raise UnsupportedFile("Zip archives other than Word (.docx) files are not supported.")


def text_encoding(data: bytes) -> str | None:
    """The encoding of a text file, told by its first `TEXT_SAMPLE_BYTES`; None if it is not
    text."""
    sample = data[:TEXT_SAMPLE_BYTES]
    for mark, encoding in _BYTE_ORDER_MARKS:
        if sample.startswith(mark):
            return encoding
    if b"\x00" in sample:
        return None
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # A sample cut inside a multi-byte character is still UTF-8.
        if len(data) == len(sample) or error.start < len(sample) - 4:
            return LEGACY_TEXT_ENCODING
    return "utf-8"


def decode_text(data: bytes) -> str:
    """A text file's characters, in the encoding `text_encoding` finds (a stray invalid byte
    becomes U+FFFD)."""
    encoding = text_encoding(data) or "utf-8"
    return data.decode(encoding, errors="replace").lstrip("\ufeff").replace("\x00", "")


def _looks_like_text(text: str) -> bool:
    control = sum(1 for char in text if ord(char) < 32 and char not in "\t\n\r\f")
    return control <= len(text) // 100
