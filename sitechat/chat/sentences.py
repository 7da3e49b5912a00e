"""Text an answer is quoted from, cut into the pieces a reader sees whole: sentences, list
items and code blocks; and the stemmed terms questions and sentences are compared by."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

UnitKind = Literal["prose", "item", "code"]

_STOP_WORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing done down during each
    else few for from further get gets got had has have having he her here hers him his how
    i if in into is it its itself just let many me more most much my myself no nor not now
    of off on once only or other our ours out over own please same she should so some such
    tell than that the their theirs them then there these they this those through to too
    under until up very want was we were what when where which while who whom why will with
    would you your yours yourself
    u ur r ya pls plz whats whens wheres whos hows thats theres im ive id youre
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "dr.", "no.", "cf."})
_OPENING = "([{\"'\u201c\u2018"  # brackets and opening quotes, straight or curly

_WORD = re.compile(r"\w+")
# Lines at most this long, ending without punctuation, were broken by the page (`joined_lines`).
MAX_BROKEN_LINE_CHARS = 40
# Two sentences sharing this share of their distinct words say the same thing.
NEAR_DUPLICATE_OVERLAP = 0.8
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[`*]?[A-Z0-9])")
_LIST_ITEM = re.compile(r"^(?:[-*+•]|\d{1,3}[.)])\s+")
# An admonition's label that the page renders as a word before the text ("Note It may..."),
# or as a paragraph of its own: a label, not a sentence to quote.
_LABELS = "Note|Warning|Tip|Hint|Important|Caution|Attention|Danger|See also|Seealso"
_ADMONITION = re.compile(rf"^(?:{_LABELS})\s+(?=[A-Z`])")
_ADMONITION_LABEL = re.compile(rf"(?:{_LABELS}):?")


@lru_cache(maxsize=65_536)
def is_table_line(text: str) -> bool:
    """A line of a Markdown table as the chunker writes it: its header, separator or a row."""
    return text.startswith("|")


def stem(word: str) -> str:
    """A light suffix stripper: enough for "installs/installing/installed" to meet."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        word = word[:-3] + "y"  # copies/copied -> copy
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) >= 6:
        word = word[:-3]
    elif word.endswith("ed") and len(word) >= 5:
        word = word[:-2]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]  # running -> runn -> run
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]  # create/created/creating all become "creat"
    return word


def words(text: str) -> list[str]:
    return [w for w in (w.strip("_") for w in _WORD.findall(text.lower())) if w]


def stems(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in words(text))


def content_terms(text: str) -> frozenset[str]:
    """The stems of the words that carry meaning (stop words dropped)."""
    return frozenset(stem(w) for w in words(text) if w not in STOP_WORDS)


def split_text(text: str) -> list[tuple[UnitKind, str]]:
    """Split Markdown-ish text into sentences, list items and code blocks, in order.

    A chunk whose overlap begins inside a code block has one fence too many: its text up to
    the first fence is the cut-off end of that block, and is left out.
    """
    units: list[tuple[UnitKind, str]] = []
    prose: list[str] = []
    code: list[str] = []
    lines = text.splitlines()
    fences = [i for i, line in enumerate(lines) if line.strip().startswith(("```", "~~~"))]
    if len(fences) % 2 == 1 and fences[0] > 0:
        lines = lines[fences[0] + 1 :]
    in_fence = False
    previous_blank = True

    def flush_prose() -> None:
        paragraph = joined_lines(prose)
        if paragraph and not _ADMONITION_LABEL.fullmatch(paragraph):
            units.extend(("prose", s) for s in split_sentences(paragraph))
        prose.clear()

    def flush_code() -> None:
        block = textwrap.dedent("\n".join(code)).strip("\n")
        if block.strip():
            units.append(("code", block))
        code.clear()

    for line in lines:
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            flush_prose()
            if in_fence:
                flush_code()
            in_fence = not in_fence
        elif in_fence:
            code.append(line)
        elif not stripped:
            flush_prose()
            flush_code()
        elif stripped.startswith(">>>") or (
            line.startswith(("    ", "\t")) and (code or previous_blank)
        ):
            flush_prose()
            code.append(line)
        else:
            flush_code()
            if stripped.startswith("#"):  # a Markdown heading line: the passage heading says it
                flush_prose()
            elif _LIST_ITEM.match(stripped) or is_table_line(stripped):
                flush_prose()
                units.append(("item", stripped.replace("¶", "").rstrip()))
            else:
                prose.append(stripped)
        previous_blank = not stripped
    flush_prose()
    flush_code()
    return units


def joined_lines(lines: list[str]) -> str:
    """A paragraph's lines as one text. Short lines none of which ends with punctuation are
    the lines of an address or a list the page broke with `<br>` ("Marram House" / "14 The
    Esplanade"): joined with commas; other lines (prose wrapped by its writer) with spaces."""
    broken = len(lines) > 1 and all(
        len(line) <= MAX_BROKEN_LINE_CHARS and line[-1].isalnum() for line in lines
    )
    return (", " if broken else " ").join(lines)


def split_sentences(paragraph: str) -> Iterable[str]:
    paragraph = _ADMONITION.sub("", paragraph.replace("¶", ""))
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        # "(e.g. FTP, HTTP)": the abbreviation may follow an opening bracket or quote.
        last_word = paragraph[start : match.start() + 1].rsplit(None, 1)[-1].lower()
        last_word = last_word.lstrip(_OPENING)
        if last_word in _ABBREVIATIONS or (len(last_word) == 2 and last_word[0].isalpha()):
            continue  # "e.g. Foo" or an initial such as "J. Smith"
        sentence = paragraph[start : match.end()].strip()
        if sentence:
            yield sentence
        start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        yield tail


def normalized_words(text: str) -> tuple[str, ...]:
    """The text's words, lower case, without markup: what near-duplicates are compared by."""
    return tuple(_WORD.findall(text.lower()))


def near_duplicate(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
    """Two sentences that say the same thing: one holds the other, or they share nearly all
    their words (`fileinput.lineno()` and `fileinput.filelineno()` differ by a word or two)."""
    if not first or not second:
        return False
    a, b = " ".join(first), " ".join(second)
    if a in b or b in a:
        return True
    set_a, set_b = set(first), set(second)
    return len(set_a & set_b) / len(set_a | set_b) >= NEAR_DUPLICATE_OVERLAP
