from __future__ import annotations

import itertools

from sitechat.knowledge.chunking import chunk_markdown


def sentences(topic: str, count: int) -> str:
    return " ".join(f"{topic} sentence number {n} is here." for n in range(count))


class TestChunking:
    def test_chunks_carry_their_heading_path(self) -> None:
        markdown = (
            "Intro before any heading.\n\n# Install\n\nGeneral steps.\n\n"
            "## On Linux\n\nUse apt.\n\n### Debian\n\nUse apt-get.\n\n## On macOS\n\nUse brew.\n\n"
            "# Usage\n\nRun it."
        )

        chunks = chunk_markdown(markdown)

        assert [(chunk.heading_path, chunk.text) for chunk in chunks] == [
            ((), "Intro before any heading."),
            (("Install",), "General steps."),
            (("Install", "On Linux"), "Use apt."),
            (("Install", "On Linux", "Debian"), "Use apt-get."),
            (("Install", "On macOS"), "Use brew."),
            (("Usage",), "Run it."),
        ]
        assert [chunk.position for chunk in chunks] == list(range(6))

    def test_chunks_carry_the_anchor_of_their_nearest_heading_with_one(self) -> None:
        markdown = (
            "Intro.\n\n# Install {#install}\n\nGeneral steps.\n\n"
            "## On Linux\n\nUse apt.\n\n## On macOS {#macos}\n\nUse brew."
        )

        chunks = chunk_markdown(markdown)

        assert [(chunk.heading_path, chunk.anchor) for chunk in chunks] == [
            ((), None),
            (("Install",), "install"),
            (("Install", "On Linux"), "install"),  # no id of its own: its section's
            (("Install", "On macOS"), "macos"),
        ]

    def test_an_overlap_never_starts_inside_a_code_block(self) -> None:
        code = "```\n" + "\n".join(f"line_{n} = {n}" for n in range(12)) + "\n```"
        markdown = "# Guide\n\n" + sentences("Intro", 2) + "\n\n" + code + "\n\n"
        markdown += "After the code.\n\n" + sentences("Outro", 8)

        chunks = chunk_markdown(markdown, max_chars=400, overlap_chars=120)

        for chunk in chunks:
            fences = [line for line in chunk.text.splitlines() if line.startswith("```")]
            assert len(fences) % 2 == 0, chunk.text

    def test_long_sections_are_split_within_the_cap_with_overlap(self) -> None:
        markdown = "# Guide\n\n" + "\n\n".join(sentences(f"P{n}", 4) for n in range(20))

        chunks = chunk_markdown(markdown, max_chars=400, overlap_chars=80)

        assert len(chunks) > 3
        assert all(len(chunk.text) <= 400 for chunk in chunks)
        assert all(chunk.heading_path == ("Guide",) for chunk in chunks)
        for previous, current in itertools.pairwise(chunks):
            overlap = previous.text[-40:]
            assert overlap in current.text  # the tail of one chunk opens the next

    def test_one_huge_paragraph_is_split_on_sentences(self) -> None:
        chunks = chunk_markdown(sentences("Long", 60), max_chars=300, overlap_chars=50)

        assert len(chunks) > 5
        assert all(len(chunk.text) <= 300 for chunk in chunks)
        assert all(chunk.text.rstrip().endswith(".") for chunk in chunks)

    def test_a_long_list_is_split_between_items_that_stay_on_their_own_lines(self) -> None:
        items = [f"- Item {n} says one thing. It then says a second thing." for n in range(12)]

        chunks = chunk_markdown("\n".join(items), max_chars=300, overlap_chars=60)

        assert len(chunks) > 2
        for chunk in chunks:
            lines = chunk.text.splitlines()
            # Every item is a line of its own; none is run into the one before it.
            assert all(line.count("- Item") <= 1 for line in lines), chunk.text
            assert sum(line.startswith("- Item") for line in lines) >= 2, chunk.text

    def test_code_block_is_never_split_when_it_fits(self) -> None:
        code = "```python\n" + "\n".join(f"x{n} = {n}  # value" for n in range(15)) + "\n```"
        markdown = "# API\n\n" + sentences("Before", 6) + "\n\n" + code + "\n\nAfter."

        chunks = chunk_markdown(markdown, max_chars=400, overlap_chars=50)

        assert sum(code in chunk.text for chunk in chunks) == 1
        assert all(chunk.text.count("```") % 2 == 0 for chunk in chunks)

    def test_code_block_larger_than_the_cap_is_split_into_fenced_pieces(self) -> None:
        lines = [f"print('line {n}')" for n in range(100)]
        markdown = "```python\n" + "\n".join(lines) + "\n```"

        chunks = chunk_markdown(markdown, max_chars=300, overlap_chars=50)

        assert len(chunks) > 1
        for chunk in chunks:
            assert len(chunk.text) <= 300
            assert chunk.text.startswith("```python\n") and chunk.text.endswith("\n```")
        rejoined = [
            line
            for chunk in chunks
            for line in chunk.text.split("\n")
            if not line.startswith("```")
        ]
        assert rejoined == lines

    def test_headings_inside_code_blocks_are_code(self) -> None:
        markdown = "# Shell\n\n```bash\n# not a heading\necho hi\n```"

        chunks = chunk_markdown(markdown)

        assert len(chunks) == 1
        assert chunks[0].heading_path == ("Shell",)
        assert "# not a heading" in chunks[0].text

    def test_empty_markdown_has_no_chunks(self) -> None:
        assert chunk_markdown("") == []
        assert chunk_markdown("# Only a heading") == []


class TestNotes:
    """A text a customer pastes (a text source): facts under no heading are a chunk each."""

    def test_a_paragraph_of_facts_is_a_chunk_per_fact(self) -> None:
        notes = (
            "We are open Monday to Saturday from 7am to 6pm. It is closed on bank holidays. "
            "A sourdough loaf costs £4.50. We deliver within 5 miles for £3. Delivery is free "
            "over £25. Our prices are listed below:\n\n- Croissant: £1.80\n- Baguette: £2.20"
        )

        chunks = [chunk.text for chunk in chunk_markdown(notes, notes=True)]

        assert chunks == [
            # "It..." refers back, "Delivery..." goes on about delivering, and a list stays
            # whole with the sentence introducing it.
            "We are open Monday to Saturday from 7am to 6pm. It is closed on bank holidays.",
            "A sourdough loaf costs £4.50.",
            "We deliver within 5 miles for £3. Delivery is free over £25.",
            "Our prices are listed below:\n\n- Croissant: £1.80\n- Baguette: £2.20",
        ]

    def test_sections_under_headings_are_packed_as_pages_are(self) -> None:
        notes = "# Hours\n\nWe open at 7am. A loaf costs £4.\n\n# Delivery\n\nWe deliver."

        assert chunk_markdown(notes, notes=True) == chunk_markdown(notes)
        assert [c.text for c in chunk_markdown(notes, notes=True)] == [
            "We open at 7am. A loaf costs £4.",
            "We deliver.",
        ]

    def test_a_page_is_not_cut_into_facts(self) -> None:
        page = "We are open from 7am. A sourdough loaf costs £4.50."

        assert [c.text for c in chunk_markdown(page)] == [page]

    def test_a_long_code_block_in_notes_is_split_into_fenced_pieces(self) -> None:
        lines = "\n".join(f"print('line number {n} of the script')" for n in range(40))
        notes = f"Run this script:\n\n```\n{lines}\n```"

        chunks = [chunk.text for chunk in chunk_markdown(notes, max_chars=400, notes=True)]

        assert len(chunks) > 1
        for text in chunks:
            code = text[text.index("```") :]
            assert code.startswith("```\n") and code.endswith("\n```"), text
