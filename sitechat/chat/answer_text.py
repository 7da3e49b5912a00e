"""The Markdown text of an answer cut to the chatbot's length (`max_answer_chars`), and its
citation marker placed where it stays a marker.

An answer quotes Markdown: sentences, list items, tables and fenced code blocks. A cut that
left a code block open would turn the rest of the answer, its `[n]` marker included, into
code in the widget; a marker on a closing fence's line keeps the fence from closing.
"""

from __future__ import annotations

import re

from sitechat.chat.answerer import shorten

# A fenced code block's opening line ("```", "~~~~ python") and a closing one (its fence alone).
_FENCE_OPENING = re.compile(r" {0,3}(`{3,}|~{3,})[^`]*")
_FENCE_CLOSING = re.compile(r" {0,3}(`{3,}|~{3,})\s*")
CUT_MARK = "…"
# A line cut to fewer characters than this ("Th…") says nothing: the cut falls before it.
MIN_CUT_LINE_CHARS = 12


def _closes(line: str, fence: str) -> bool:
    closing = _FENCE_CLOSING.fullmatch(line)
    return closing is not None and closing[1][0] == fence[0] and len(closing[1]) >= len(fence)


def shorten_markdown(text: str, max_chars: int) -> str:
    """Cut Markdown text so that it fits in max_chars, leaving it well-formed.

    Lines are kept whole while they fit; the line the cut falls in is cut at a word's end (not
    inside a `code span`), unless next to nothing of it would be left or it is a table's row:
    then the cut falls before it. A fenced code block is
    never left open, which would turn the rest of the answer, its citation mark included, into
    code: it keeps the whole lines that fit and is closed, or, when not one line fits, the cut
    falls before it. Only a block the text opens with, with nothing before it to keep, is cut
    inside its first line. The cut is marked by "…", on a line of its own after a code block or
    a table (a "|" row it ended would read as one of its cells)."""
    if len(text) <= max_chars:
        return text
    kept: list[str] = []
    fence: str | None = None  # the open code block's fence
    block_start = 0  # where in `kept` the open block's opening fence is
    for line in text.split("\n"):
        if fence is None:
            opening = _FENCE_OPENING.fullmatch(line)
            if len(_with_cut_mark([*kept, line])) <= max_chars or not line.strip():
                kept.append(line)
                if opening is not None:
                    fence, block_start = opening[1], len(kept) - 1
                continue
            room = max_chars - len("\n".join(kept)) - (1 if kept else 0)
            cut = _cut_line(line, room)
            if opening is not None or (cut is None and any(k.strip() for k in kept)):
                break  # the cut falls before the block, the table row, the line
            return "\n".join([*kept, cut or _cut_anywhere(line, room)])
        if _closes(line, fence):
            closed = [*kept, line]
            if len(_with_cut_mark(closed)) > max_chars:
                return _close_block(kept, fence, block_start, max_chars)
            kept, fence = closed, None
            continue
        if len(_with_cut_mark([*kept, line, fence])) > max_chars:
            return _close_block(kept, fence, block_start, max_chars, line)
        kept.append(line)
    if fence is not None:  # a block the text never closed, cut at its end
        return _close_block(kept, fence, block_start, max_chars)
    return _with_cut_mark(kept)


def _close_block(
    kept: list[str], fence: str, block_start: int, max_chars: int, next_line: str = ""
) -> str:
    """The text cut inside the code block opened at `kept[block_start]`: closed after the
    lines that fit, or cut before the block when none does."""
    if len(kept) > block_start + 1:
        return _with_cut_mark([*kept, fence])
    before = kept[:block_start]
    if any(line.strip() for line in before):
        return _with_cut_mark(before)
    # The text opens with the block: its first line, cut, is all there is to keep.
    room = max_chars - len("\n".join([*kept, "", fence, CUT_MARK]))
    if room <= len(CUT_MARK):
        return CUT_MARK
    return _with_cut_mark([*kept, _cut_anywhere(next_line, room), fence])


def _cut_anywhere(line: str, max_chars: int) -> str:
    """The line cut to `max_chars` at a word's end if one is near, else inside a word."""
    return (
        shorten(line, max_chars)
        if len(line) > max_chars
        else line[: max(max_chars - 1, 0)] + CUT_MARK
    )


def _with_cut_mark(lines: list[str]) -> str:
    """The kept lines and the mark of the cut."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if not lines:
        return CUT_MARK
    last = lines[-1]
    if _FENCE_CLOSING.fullmatch(last):
        return "\n".join([*lines, CUT_MARK])
    if last.lstrip().startswith("|"):
        return "\n".join([*lines, "", CUT_MARK])
    return "\n".join([*lines[:-1], last.rstrip(" ,;:") + CUT_MARK])


def _cut_line(line: str, max_chars: int) -> str | None:
    """A line of prose cut to `max_chars`, not inside a code span; None for a line not worth
    cutting: a table's row, or one of which next to nothing would be left."""
    if line.lstrip().startswith("|"):
        return None
    cut = line[: max(max_chars - len(CUT_MARK), 0)]
    cut = cut[: max(cut.rfind(" "), 0)]  # at a word's end
    if cut.count("`") % 2:
        cut = cut[: cut.rfind("`")]
    cut = cut.rstrip(" ,;:")
    return cut + CUT_MARK if len(cut) >= MIN_CUT_LINE_CHARS else None


def append_marker(text: str, marker: str) -> str:
    """The text with its citation marker at the end, on a line of its own after a code block's
    closing fence (on the fence's line it would no longer close the block) and after a table
    (where it would be read as one of its cells)."""
    last = text.rsplit("\n", 1)[-1]
    if _FENCE_CLOSING.fullmatch(last):
        return f"{text}\n{marker}"
    if last.lstrip().startswith("|"):
        return f"{text}\n\n{marker}"
    return f"{text} {marker}"


# An answer composed whole is streamed in pieces of this many words.
WORDS_PER_DELTA = 8
_DELTA_WORD = re.compile(r"\s*\S+")


def stream_pieces(text: str) -> list[str]:
    """Split an answer into word groups to stream; they join back to the exact text."""
    words = _DELTA_WORD.findall(text)
    deltas = [
        "".join(words[i : i + WORDS_PER_DELTA]) for i in range(0, len(words), WORDS_PER_DELTA)
    ]
    trailing = text[len("".join(deltas)) :]
    if trailing:
        deltas.append(trailing)
    return deltas
