"""File types by content, pages and sections, and the child process's limits."""

from __future__ import annotations

import pypdf
import pytest

from sitechat.sources.filetypes import FileType, UnsupportedFile, detect_file_type
from sitechat.sources.parse_process import TOO_COSTLY, ProcessLimits, parse_in_child
from sitechat.sources.parsing import FileRejected, ParseLimits, parse_file, split_sections
from tests.sources.files import (
    make_docx,
    make_pdf,
    make_pdf_in_two_columns,
    make_pdf_with_table,
    make_png,
    zip_bomb_docx,
)


class TestDetectFileType:
    @pytest.mark.parametrize(
        ("data", "name", "expected"),
        [
            (make_pdf(["One page."]), "notes.txt", FileType.pdf),
            (make_docx([("A", ["b"])]), "scan.pdf", FileType.docx),
            (b"<!DOCTYPE html><html><body>Hi</body></html>", "a.txt", FileType.html),
            (b"# Title\n\nText", "readme.md", FileType.markdown),
            (b"# Title\n\nText", "readme.txt", FileType.text),
            ("Grüße aus Köln".encode(), "a.bin", FileType.text),
        ],
    )
    def test_by_content(self, data: bytes, name: str, expected: FileType) -> None:
        assert detect_file_type(data, name) is expected

    @pytest.mark.parametrize(
        "data",
        [
            make_png(),
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100),  # legacy or encrypted Office
            b"PK\x03\x04" + bytes(50),  # a damaged zip that is not named .docx
            b"\x00\x01\x02binary",
            b"",
        ],
    )
    def test_anything_else_is_refused(self, data: bytes) -> None:
        with pytest.raises(UnsupportedFile):
            detect_file_type(data, "file.pdf")


class TestSections:
    def test_a_lone_title_cuts_at_the_next_level(self) -> None:
        markdown = "# Guide\n\nIntro text.\n\n## Install\n\nRun it.\n\n## Use\n\nClick."
        pages = split_sections(markdown, "Guide", ParseLimits())
        assert [(page.locator, page.title) for page in pages] == [
            ("section-start", "Guide"),
            ("section-install", "Guide: Install"),
            ("section-use", "Guide: Use"),
        ]

    def test_headings_inside_code_do_not_cut(self) -> None:
        markdown = "## A\n\n```\n## not a heading\n```\n\n## B\n\ntext"
        pages = split_sections(markdown, "Doc", ParseLimits())
        assert [page.locator for page in pages] == ["section-a", "section-b"]

    def test_same_headings_get_distinct_locators(self) -> None:
        pages = split_sections("## FAQ\n\na\n\n## FAQ\n\nb", "Doc", ParseLimits())
        assert [page.locator for page in pages] == ["section-faq", "section-faq-2"]

    def test_too_many_sections_are_refused(self) -> None:
        markdown = "\n\n".join(f"## S{n}\n\ntext {n}" for n in range(5))
        with pytest.raises(FileRejected, match="at most 3"):
            split_sections(markdown, "Doc", ParseLimits(max_pages=3))


class TestPdfTables:
    @pytest.mark.parametrize("one_text_object", [False, True])
    def test_a_table_set_in_columns_keeps_its_rows(self, one_text_object: bool) -> None:
        """Its cells came one per line, or its rows run together, inside the page's
        paragraph: "...include VAT. Plan Monthly price Messages Starter EUR 19 1,000..."."""
        pdf = make_pdf_with_table(
            ["Choose the plan that fits your team. All prices include VAT."],
            [
                ("Plan", "Monthly price", "Messages"),
                ("Starter", "EUR 19", "1,000"),
                ("Growth", "EUR 49", "5,000"),
            ],
            ["Annual billing saves two months on every plan."],
            one_text_object=one_text_object,
        )

        (page,) = parse_file(pdf, FileType.pdf, "prices.pdf", ParseLimits()).pages

        assert page.markdown == (
            "### Plans and prices\n\n"
            "Choose the plan that fits your team. All prices include VAT.\n\n"
            "| Plan | Monthly price | Messages |\n"
            "| --- | --- | --- |\n"
            "| Starter | EUR 19 | 1,000 |\n"
            "| Growth | EUR 49 | 5,000 |\n\n"
            "Annual billing saves two months on every plan."
        )

    def test_prose_set_in_two_columns_is_no_table(self) -> None:
        left = [
            "Our bakery opened its doors in the spring",
            "of 1998 on a quiet corner of the old town",
            "and has baked bread every morning since.",
        ]
        right = [
            "Each loaf is shaped by hand and rests",
            "overnight before it meets the stone oven",
            "that our founder built with his brother.",
        ]

        (page,) = parse_file(
            make_pdf_in_two_columns(left, right), FileType.pdf, "news.pdf", ParseLimits()
        ).pages

        assert "|" not in page.markdown
        assert all(line in page.markdown for line in left + right)


class TestPdfTitles:
    @pytest.mark.parametrize("placeholder", ["untitled", "Untitled document", "Document1"])
    def test_a_writers_placeholder_title_gives_way_to_the_files_name(
        self, placeholder: str
    ) -> None:
        pdf = make_pdf(["Wear your trays for 60 minutes."], title=placeholder)

        document = parse_file(pdf, FileType.pdf, "whitening-guide", ParseLimits())

        assert document.title == "whitening-guide"
        assert document.pages[0].title == "whitening-guide, page 1"

    def test_a_real_title_is_kept(self) -> None:
        pdf = make_pdf(["Wear your trays for 60 minutes."], title="Home whitening: your guide")

        document = parse_file(pdf, FileType.pdf, "whitening-guide", ParseLimits())

        assert document.title == "Home whitening: your guide"


class TestLimits:
    def test_a_pdf_with_too_many_pages(self) -> None:
        with pytest.raises(FileRejected, match="at most 2 are read"):
            parse_file(make_pdf(["a", "b", "c"]), FileType.pdf, "a.pdf", ParseLimits(max_pages=2))

    def test_a_docx_inflating_past_the_cap(self) -> None:
        with pytest.raises(FileRejected, match="zip bomb"):
            parse_file(
                zip_bomb_docx(3_000_000),
                FileType.docx,
                "a.docx",
                ParseLimits(max_unzipped_bytes=2_000_000),
            )

    async def test_the_child_is_killed_past_its_time(self) -> None:
        with pytest.raises(FileRejected) as refused:
            await parse_in_child(
                make_pdf(["a"]), FileType.pdf, "a.pdf", ParseLimits(), ProcessLimits(seconds=0.01)
            )
        assert str(refused.value) == TOO_COSTLY

    async def test_a_child_out_of_memory_is_a_failed_file(self) -> None:
        with pytest.raises(FileRejected) as refused:
            await parse_in_child(
                make_pdf(["word " * 300] * 200),
                FileType.pdf,
                "a.pdf",
                ParseLimits(),
                ProcessLimits(memory_bytes=30_000_000),
            )
        assert str(refused.value) == TOO_COSTLY

    async def test_whatever_the_memory_limit_a_file_is_read_whole_or_too_costly(self) -> None:
        # Not "damaged", not "no text": a library loaded or a page read under the limit
        # fails for want of memory, which is what the owner must be told.
        pdf = make_pdf(["a"])
        for megabytes in range(30, 62, 4):
            try:
                document = await parse_in_child(
                    pdf,
                    FileType.pdf,
                    "a.pdf",
                    ParseLimits(),
                    ProcessLimits(memory_bytes=megabytes * 1_000_000),
                )
            except FileRejected as refused:
                assert str(refused) == TOO_COSTLY, megabytes
            else:
                assert [page.markdown for page in document.pages] == ["a"], megabytes

    def test_a_page_read_out_of_memory_is_not_a_page_without_text(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def out_of_memory(*args: object, **kwargs: object) -> str:
            raise MemoryError

        monkeypatch.setattr(pypdf.PageObject, "extract_text", out_of_memory)
        with pytest.raises(MemoryError):
            parse_file(make_pdf(["a"]), FileType.pdf, "a.pdf", ParseLimits())

    async def test_within_limits_the_child_parses(self) -> None:
        document = await parse_in_child(
            make_pdf(["first", "second"], title="T"),
            FileType.pdf,
            "a.pdf",
            ParseLimits(),
            ProcessLimits(),
        )
        assert [(page.locator, page.title) for page in document.pages] == [
            ("page-1", "T, page 1"),
            ("page-2", "T, page 2"),
        ]
