"""Heading-aware chunking of page Markdown for retrieval.

A chunk never spans two sections, so its heading path says exactly where it comes from (the
citation shows "Install > On Linux"). Inside a section, blocks are packed up to ``max_chars``;
consecutive chunks of one section share ``overlap_chars`` of text so a sentence cut at a chunk
edge is still found whole. Code blocks are kept whole unless one alone exceeds the cap; then it
is split on line boundaries and every piece is fenced again so it still reads as code.

A heading written with a trailing `{#id}` (the crawler keeps the page's heading ids that way)
gives its chunks, and those of its subsections without an id of their own, that anchor: a
citation links to `url#anchor`, the nearest heading the page can be scrolled to.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# A chunk's heading path is stored as one string, its headings joined by this.
HEADING_SEPARATOR = " > "
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(`{3,}|~{3,})")
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+")
_ANCHOR_SUFFIX = re.compile(r"\s*\{#([A-Za-z][\w.:-]{0,199})\}$")
# The overlap that starts a chunk begins at a sentence when one starts within its first part:
# a chunk that opens mid-sentence reads badly when quoted.
_OVERLAP_SENTENCE_START = re.compile(r"[.!?]\s+(?=[A-Z`\"'(])")
# Notes (`_facts`): a sentence ends before a capital, a digit or a quote; one that opens with
# a word referring back belongs with the one before, as one sharing a subject word (five
# letters or more, not a common one); a block of list items or table rows stays whole.
_FACT_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
# A sentence opening with one of these leans on the one before it ("It is closed on bank
# holidays."): the chunker keeps it with that one, the answerer quotes that one with it.
_BACK_REFERENCES_TEXT = """
    this that these those it its they their them such however otherwise also then thus
    therefore previously instead here but so both either neither
"""
_BACK_REFERENCES = frozenset(_BACK_REFERENCES_TEXT.split())
_FIRST_WORD = re.compile(r"[A-Za-z]+")
_LISTED = re.compile(r"^\s*(?:[-*+]|\d+[.)]|\|)\s")
_SUBJECT_WORD = re.compile(r"[A-Za-z]{5,}")
_COMMON_WORDS_TEXT = """
    about above after again always among because before being below between could every first
    other their there these those through under until where which while would should never
    often please still thanks thank today whether within without
"""
_COMMON_WORDS = frozenset(_COMMON_WORDS_TEXT.split())


@dataclass(frozen=True)
class TextChunk:
    heading_path: tuple[str, ...]
    text: str
    position: int
    anchor: str | None = None


@dataclass
class _Block:
    text: str
    is_code: bool = False


@dataclass
class _Section:
    heading_path: tuple[str, ...]
    anchor: str | None = None
    blocks: list[_Block] = field(default_factory=list)


def chunk_markdown(
    markdown: str, *, max_chars: int = 1500, overlap_chars: int = 200, notes: bool = False
) -> list[TextChunk]:
    """The text's chunks in reading order. With `notes` (a text a customer pasted), prose
    under no heading is cut into its facts (`_facts`) instead of packed."""
    if max_chars < 100:
        raise ValueError("max_chars must be at least 100")
    overlap_chars = max(0, min(overlap_chars, max_chars // 2))
    chunks: list[TextChunk] = []
    for section in _sections(markdown):
        if notes and not section.heading_path:
            pieces = _facts(section.blocks, max_chars, overlap_chars)
        else:
            pieces = _pack_section(section.blocks, max_chars, overlap_chars)
        for text in pieces:
            chunks.append(TextChunk(section.heading_path, text, len(chunks), section.anchor))
    return chunks


def _facts(blocks: list[_Block], max_chars: int, overlap_chars: int) -> Iterator[str]:
    """Notes without a heading, a chunk per fact: a paragraph of prose is cut into its
    sentences, a sentence kept with the one before when it refers back ("It...", "This..."),
    follows one that introduces it ("...as follows:") or goes on about its subject; a list, a
    table or code stays whole, with the sentence introducing it. A shop's notes pasted as one
    paragraph ("We are open... We deliver... We bake a vegan loaf...") made one passage far in
    meaning from "when r u open" (ADR 0034)."""
    facts: list[list[_Block]] = []  # a fact's blocks, packed together (code stays code)
    for block in blocks:
        if block.is_code or _LISTED.match(block.text):
            if facts and facts[-1][-1].text.endswith(":"):
                facts[-1].append(block)
            else:
                facts.append([block])
            continue
        previous, previous_words = "", set[str]()
        for sentence in _FACT_END.split(block.text.strip()):
            words = _subject_words(sentence)
            if previous and (
                opens_leaning_back(sentence) or previous.endswith(":") or words & previous_words
            ):
                facts[-1][-1] = _Block(f"{facts[-1][-1].text} {sentence}")
            else:
                facts.append([_Block(sentence)])
            previous, previous_words = sentence, words
    for fact in facts:
        yield from _pack_section(fact, max_chars, overlap_chars)


def split_anchor(heading: str) -> tuple[str, str | None]:
    """A heading's text and its `{#id}` anchor, if it ends with one."""
    match = _ANCHOR_SUFFIX.search(heading)
    if match is None:
        return heading, None
    return heading[: match.start()], match.group(1)


def _sections(markdown: str) -> Iterator[_Section]:
    headings: list[tuple[int, str, str | None]] = []
    section = _Section(heading_path=())
    for block, heading in _blocks(markdown):
        if heading is None:
            section.blocks.append(block)
            continue
        if section.blocks:
            yield section
        level, heading_text = heading
        title, anchor = split_anchor(heading_text)
        while headings and headings[-1][0] >= level:
            headings.pop()
        headings.append((level, title, anchor))
        nearest = next((a for _, _, a in reversed(headings) if a), None)
        section = _Section(heading_path=tuple(text for _, text, _ in headings), anchor=nearest)
    if section.blocks:
        yield section


def _blocks(markdown: str) -> Iterator[tuple[_Block, tuple[int, str] | None]]:
    """Paragraph-like blocks, code blocks and headings, in document order."""
    lines = markdown.replace("\r\n", "\n").split("\n")
    paragraph: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        heading = _HEADING.match(line)
        if (fence or heading or not line.strip()) and paragraph:
            yield _Block("\n".join(paragraph)), None
            paragraph = []
        if fence:
            end = _closing_fence(lines, index, fence.group(1))
            yield _Block("\n".join(lines[index : end + 1]), is_code=True), None
            index = end + 1
            continue
        if heading:
            yield _Block(""), (len(heading.group(1)), heading.group(2))
        elif line.strip():
            paragraph.append(line)
        index += 1
    if paragraph:
        yield _Block("\n".join(paragraph)), None


def opens_leaning_back(text: str) -> bool:
    """Whether the text's first word refers to what came before ("It...", "This...")."""
    first = _FIRST_WORD.match(text)
    return first is not None and first.group().lower() in _BACK_REFERENCES


def _subject_words(text: str) -> set[str]:
    """What a sentence is about, for telling whether the next one goes on about it: its words
    of five letters or more, by their first five ("We deliver..." and "Delivery is free...")."""
    words = (w.lower() for w in _SUBJECT_WORD.findall(text))
    return {w[:5] for w in words if w not in _COMMON_WORDS}


def _closing_fence(lines: list[str], start: int, opening: str) -> int:
    for index in range(start + 1, len(lines)):
        stripped = lines[index].strip()
        if stripped.startswith(opening[0] * len(opening)) and not stripped.strip(opening[0]):
            return index
    return len(lines) - 1  # an unclosed fence runs to the end, as Markdown renders it


def _pack_section(blocks: list[_Block], max_chars: int, overlap_chars: int) -> Iterator[str]:
    parts: list[str] = []
    size = 0
    last_was_code = False
    for block in blocks:
        for piece in _fit(block, max_chars, overlap_chars):
            if parts and size + 2 + len(piece.text) > max_chars:
                emitted = "\n\n".join(parts)
                yield emitted
                overlap = "" if last_was_code else _tail(emitted, overlap_chars)
                parts = (
                    [overlap] if overlap and len(overlap) + 2 + len(piece.text) <= max_chars else []
                )
                size = len(parts[0]) if parts else 0
            size += (2 if parts else 0) + len(piece.text)
            parts.append(piece.text)
            last_was_code = piece.is_code
    if parts:
        yield "\n\n".join(parts)


def _fit(block: _Block, max_chars: int, overlap_chars: int) -> list[_Block]:
    if len(block.text) <= max_chars:
        return [block]
    if block.is_code:
        return [_Block(text, is_code=True) for text in _split_code(block.text, max_chars)]
    # Leave room for the overlap that will precede every piece after the first.
    budget = max_chars - overlap_chars - 2
    return [_Block(text) for text in _split_text(block.text, budget)]


def _split_code(code_block: str, max_chars: int) -> list[str]:
    lines = code_block.split("\n")
    opening = lines[0]
    fence = _FENCE.match(opening)
    closing = fence.group(1) if fence else "```"
    body = lines[1:-1] if len(lines) > 1 and lines[-1].strip().startswith(closing) else lines[1:]
    budget = max_chars - len(opening) - len(closing) - 2
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in body:
        for segment in _hard_wrap(line, budget):
            if current and size + 1 + len(segment) > budget:
                pieces.append("\n".join([opening, *current, closing]))
                current, size = [], 0
            size += (1 if current else 0) + len(segment)
            current.append(segment)
    if current:
        pieces.append("\n".join([opening, *current, closing]))
    return pieces


def _split_text(text: str, max_chars: int) -> list[str]:
    """Pieces of at most `max_chars`, cut between lines (a list's items), then sentences, then
    words; a piece keeps its lines on lines of their own."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        joiner = "\n"
        for sentence in _SENTENCE_END.split(line):
            for segment in _words_within(sentence, max_chars):
                candidate = f"{current}{joiner}{segment}" if current else segment
                if len(candidate) > max_chars:
                    pieces.append(current)
                    candidate = segment
                current, joiner = candidate, " "
    if current:
        pieces.append(current)
    return pieces


def _words_within(sentence: str, max_chars: int) -> Iterator[str]:
    if len(sentence) <= max_chars:
        yield sentence
        return
    current = ""
    for word in sentence.split():
        for segment in _hard_wrap(word, max_chars):
            candidate = f"{current} {segment}" if current else segment
            if len(candidate) > max_chars:
                yield current
                candidate = segment
            current = candidate
    if current:
        yield current


def _hard_wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    return [text[start : start + width] for start in range(0, len(text), width)]


def _tail(text: str, overlap_chars: int) -> str:
    """The last ``overlap_chars`` of ``text``, starting at a word boundary."""
    if overlap_chars <= 0 or not text:
        return ""
    tail = text[-overlap_chars:]
    if "```" in tail or "~~~" in tail:
        # Text after a code block's closing fence only: an overlap that opened inside the
        # block would start the next chunk with code and no opening fence.
        tail = tail[max(tail.rfind("```"), tail.rfind("~~~")) + 3 :].lstrip("`~")
    if len(tail) < len(text):
        sentence = _OVERLAP_SENTENCE_START.search(tail, 0, len(tail) // 2)
        if sentence is not None:
            return tail[sentence.end() :].strip()
        space = tail.find(" ")
        tail = tail[space + 1 :] if space != -1 else tail
    return tail.strip()


def content_hash(markdown: str) -> str:
    """What a page is compared by across crawls and file versions: its Markdown, whitespace
    runs folded, so re-wrapped text is no change."""
    return hashlib.sha256(" ".join(markdown.split()).encode()).hexdigest()
