"""The pieces an extractive answer quotes, and the answer they make.

A passage is read as units a reader sees whole (`sentences.split_text`): sentences, list
items, code blocks; a unit cut by the chunk's edge is a fragment, never quoted, and a unit an
earlier passage already said (overlapping chunks) is left out. A passage from an entry's
section (a definition term the page links to, ADR 0024) starts with the entry itself, as code.
Chosen units make paragraphs, one citation number per page, in reading order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sitechat.chat.answer_text import append_marker, shorten_markdown
from sitechat.chat.answerer import Citation, citation_for
from sitechat.chat.sentences import (
    UnitKind,
    content_terms,
    is_table_line,
    near_duplicate,
    normalized_words,
    split_text,
    stems,
)
from sitechat.knowledge.chunking import HEADING_SEPARATOR, opens_leaning_back
from sitechat.knowledge.passages import PageKey, Passage

# A numbered list item's number ("4. Edit the email text...").
_STEP = re.compile(r"^\d{1,3}[.)]\s")
# A name in lower case: a parameter's or a module's ("rel_tol", "urllib.request", "os.path"),
# a function's ("autoinc()") or a special one ("__slots__"); not "e.g." nor a plain word.
_NAME_FIRST = re.compile(
    r"(?:__[a-z0-9_]+__|[a-z][a-z0-9]*(?:[._]+[a-z0-9]{2,})+|[a-z][a-z0-9_]*\(\))(?:\(\))?\s"
)
# An API entry's signature line: `[kind] name.path(arguments) [-> result]` or a dotted name.
SIGNATURE = re.compile(r"(?:[a-z]+ )?[A-Za-z_][\w.]*(?:\(.{0,160}\)(?: ?-> ?\S.{0,60})?|\.\w+)")
# A section heading that names an entry in code: "`work_mem` (`integer`)", "`-c` `--command`".
_CODE_TERM = re.compile(r"`[^`]+`(?:[ ,]+`[^`]+`)*(?: \([^()]{1,60}\))?")
SENTENCE_ENDS = (".", "!", "?", ":")
# A short line of a label and its value ("Phone: 01632 960 418") is whole without a full stop.
_LABELLED_LINE = re.compile(r"[A-Z][\w' -]{0,30}: \S.{0,80}")
# A Markdown table's line between its header and its rows: "| --- | ---: |".
TABLE_SEPARATOR = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+$")


# A whole sentence that only says yes or no.
_BARE_REPLY = re.compile(
    r"^\W*(?:yes|no|yep|nope|sure|absolutely|of course|not yet|not at the moment)\W*$",
    re.IGNORECASE,
)
# A reply that says what its yes is to only with its heading's question: "For punctures and
# small adjustments, yes." under "Can I wait while you fix it?".
ELLIPTICAL_REPLY = re.compile(r",\s*(?:yes|no)\W*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Unit:
    """A quotable piece of a passage: a sentence, a list item or a whole code block."""

    passage_index: int
    position: int  # in the passage; -1 for the entry its section names (`entry_of`)
    kind: UnitKind
    text: str
    terms: frozenset[str]
    words: tuple[str, ...]
    fragment: bool  # cut by the chunk's edge: never quoted


@dataclass
class Paragraph:
    passage_index: int
    units: list[Unit]
    # The unit that answers: an answer cut to its length keeps it, and what comes before it
    # (the sentence it leans on, a table's header).
    lead: Unit | None = None

    def kept_when_cut(self) -> int:
        """How many of the units, from the first, a cut answer keeps."""
        return next((i + 1 for i, unit in enumerate(self.units) if unit is self.lead), 1)


def split_passages(passages: Sequence[Passage]) -> list[Unit]:
    """All units of all passages in order, each said once (overlapping chunks repeat text)."""
    units: list[Unit] = []
    seen: list[tuple[str, ...]] = []
    for passage_index, passage in enumerate(passages):
        entry = entry_term(passage.heading)
        if entry is not None:
            units.append(
                Unit(passage_index, -1, "code", entry, content_terms(entry), (), fragment=False)
            )
        pieces = split_text(passage.text)
        for position, (kind, text) in enumerate(pieces):
            words = normalized_words(text)
            if kind != "code" and any(near_duplicate(words, other) for other in seen):
                continue
            if kind != "code":
                seen.append(words)
            fragment = kind == "prose" and (
                (position == 0 and starts_mid_sentence(text))
                or (
                    position == len(pieces) - 1
                    and not text.rstrip("`*)\"'").endswith(SENTENCE_ENDS)
                    and not _LABELLED_LINE.fullmatch(text)
                )
            )
            units.append(
                Unit(passage_index, position, kind, text, _terms(kind, text), words, fragment)
            )
    return units


def _terms(kind: UnitKind, text: str) -> frozenset[str]:
    """A unit's terms; a list item's number is its place, not a word of it ("7." does not
    answer "pad 7 with zeros")."""
    return content_terms(_STEP.sub("", text, count=1) if kind == "item" else text)


def best_snippet(text: str, reference: str) -> str:
    """The sentence of `text` that shares most terms with `reference` (e.g. an answer)."""
    reference_terms = content_terms(reference)
    best_sentence, best_overlap = "", -1
    for kind, unit in split_text(text):
        overlap = len(content_terms(unit) & reference_terms) if kind != "code" else -1
        if overlap > best_overlap:
            best_sentence, best_overlap = unit, overlap
    return best_sentence or text


def own_heading(heading: str) -> str:
    """A passage's own heading, the last of its path ("FAQ > Is breakfast included?")."""
    return heading.rsplit(HEADING_SEPARATOR, 1)[-1].strip()


def entry_term(heading: str) -> str | None:
    """The entry a passage's section describes, when its heading names one (a definition term
    the page links to: `shutil.copytree(src, dst, ...)`, `work_mem` (`integer`)): quoted as
    code before what the answer quotes of it, since the description rarely names it."""
    term = own_heading(heading)
    if SIGNATURE.fullmatch(term) or _CODE_TERM.fullmatch(term):
        return term.replace("`", "")
    return None


def starts_mid_sentence(text: str) -> bool:
    """Whether the text begins as a sentence's continuation does: lower case, or with a comma
    or a closing bracket. A sentence may begin with a name written in lower case, a parameter's
    or a module's ("rel_tol is the relative tolerance", "urllib.request supports...")."""
    if _NAME_FIRST.match(text.lstrip("*\"'(")):
        return False
    first = text.lstrip("*_\"'(")[:1]
    return not first or first.islower() or first in ",;)]"


def entry_of(passage_units: Sequence[Unit]) -> Unit | None:
    """The entry the passage describes (`entry_term`), the first of its units when it has one."""
    return passage_units[0] if passage_units[0].position < 0 else None


def _numbers(paragraphs: Sequence[Paragraph], passages: Sequence[Passage]) -> list[int]:
    """Each paragraph's citation number: one per section a citation links to (a page's
    `url#anchor`), in reading order; paragraphs of one section share it."""
    numbers: dict[tuple[PageKey, str | None], int] = {}
    return [
        numbers.setdefault(_cited_section(passages[p.passage_index]), len(numbers) + 1)
        for p in paragraphs
    ]


def _cited_section(passage: Passage) -> tuple[PageKey, str | None]:
    return passage.page_key, passage.anchor


def compose_text(paragraphs: Sequence[Paragraph], passages: Sequence[Passage]) -> str:
    numbers = _numbers(paragraphs, passages)
    rendered = (_render_paragraph(p.units, n) for p, n in zip(paragraphs, numbers, strict=True))
    return "\n\n".join(rendered)


def _render_paragraph(units: Sequence[Unit], number: int) -> str:
    lines, line_kinds = _rendered_lines(units)
    marker = f"[{number}]"
    text_lines = [i for i, kind in enumerate(line_kinds) if kind != "code"]
    if text_lines and is_table_line(lines[text_lines[-1]]):
        lines[text_lines[-1]] += "\n\n" + marker  # a table's last row: not a cell of it
    elif text_lines:
        lines[text_lines[-1]] += " " + marker
    else:
        lines.append(marker)
    return "\n".join(lines)


def _rendered_lines(units: Sequence[Unit]) -> tuple[list[str], list[UnitKind]]:
    """The units as Markdown lines (consecutive sentences on one), each with its kind."""
    lines: list[str] = []
    line_kinds: list[UnitKind] = []
    for unit in units:
        if unit.kind == "prose" and line_kinds and line_kinds[-1] == "prose":
            lines[-1] += " " + unit.text
            continue
        if unit.kind == "prose" and line_kinds and line_kinds[-1] == "item":
            lines[-1] += "\n"  # a sentence after a list is not the last item's continuation
        lines.append(f"```\n{unit.text}\n```" if unit.kind == "code" else unit.text)
        line_kinds.append(unit.kind)
    return lines, line_kinds


def render(
    paragraphs: list[Paragraph], passages: Sequence[Passage], budget: int
) -> tuple[str, list[Citation]]:
    while len(paragraphs) > 1 and len(compose_text(paragraphs, passages)) > budget:
        paragraphs = paragraphs[:-1]
    lead = paragraphs[0]
    while (
        len(lead.units) > lead.kept_when_cut() and len(compose_text(paragraphs, passages)) > budget
    ):
        lead.units = lead.units[:-1]  # the lead stays; what follows it goes
    if len(compose_text(paragraphs, passages)) > budget:
        # Still too long: the sentence that answers is kept over the code before it (the
        # signature of the API entry it describes).
        lead.units = [u for u in lead.units if u.kind != "code"] or lead.units
    text = compose_text(paragraphs, passages)
    citations: list[Citation] = []
    for number, paragraph in zip(_numbers(paragraphs, passages), paragraphs, strict=True):
        if number <= len(citations):
            continue  # the page is cited already, from its first paragraph
        snippet = " ".join(
            u.text
            for u in paragraph.units
            if u.kind != "code" and not TABLE_SEPARATOR.match(u.text)
        )
        citations.append(
            citation_for(number, passages[paragraph.passage_index], snippet or lead.units[0].text)
        )
    if len(text) > budget:  # only a single over-long unit gets here
        body = "\n".join(_rendered_lines(lead.units)[0])
        text = append_marker(shorten_markdown(body, budget - len(" [1]")), "[1]")
        citations = citations[:1]
    return text, citations


def drop_a_reply_to_another_question(
    paragraph: Paragraph, passages: Sequence[Passage], question_terms: frozenset[str]
) -> None:
    """A section's opening "Yes." answers its own heading's question: quoted for another
    ("is the gluten-free loaf vegan?" under "Are your breads vegan?") it says yes to what the
    visitor did not ask. It stays when the heading asks all the visitor asks."""
    first, rest = paragraph.units[0], paragraph.units[1:]
    heading = passages[paragraph.passage_index].heading
    if rest and _BARE_REPLY.match(first.text) and not question_terms <= content_terms(heading):
        paragraph.units = rest


# A Q&A source's entry (`Q: ...` heading) answers a question this close to its own.
QA_MATCH_THRESHOLD = 0.7
QA_HEADING_PREFIX = "Q: "
# A page's FAQ entry (a section headed with a question) among the first passages answers a
# question that says every word of its heading, when they are this share of the question's
# words at least (two at least) and the entry is this short (a long one is quoted as any
# section is).
FAQ_PASSAGES = 3
FAQ_MATCH_SHARE = 2 / 3
MAX_FAQ_CHARS = 480


def stored_answer(question: str, passages: Sequence[Passage]) -> tuple[int, str] | None:
    """A stored answer to the question, to quote as it is: a Q&A source's entry asked nearly
    alike, or else a page's short FAQ entry, with its question. The passage's index and the
    question to say before its text ("" for a Q&A entry)."""
    qa_index = matching_qa_passage(question, passages)
    return (qa_index, "") if qa_index is not None else matching_faq_entry(question, passages)


def matching_qa_passage(question: str, passages: Sequence[Passage]) -> int | None:
    """The Q&A passage whose question matches this one closely, if any."""
    asked = content_terms(question) or stems(question)
    best_index, best_similarity = None, 0.0
    for index, passage in enumerate(passages):
        if not passage.heading.startswith(QA_HEADING_PREFIX) or not passage.text.strip():
            continue
        stored_question = passage.heading[len(QA_HEADING_PREFIX) :]
        stored = content_terms(stored_question) or stems(stored_question)
        union = asked | stored
        similarity = len(asked & stored) / len(union) if union else 0.0
        if similarity > best_similarity:
            best_index, best_similarity = index, similarity
    return best_index if best_similarity >= QA_MATCH_THRESHOLD else None


_NAMED_IN_CODE = re.compile(r"`([^`]+)`")


def dangles(paragraph: Paragraph) -> bool:
    """Ends with a sentence announcing something ("The output looks like this:") that the
    paragraph does not hold."""
    last = paragraph.units[-1]
    return last.kind == "prose" and last.text.endswith(":")


def quotable_before(passage_units: Sequence[Unit], index: int) -> bool:
    """Whether the unit before `index` is a whole sentence a back-reference can lean on."""
    if index == 0:
        return False
    previous = passage_units[index - 1]
    return (
        previous.kind == "prose"
        and not previous.fragment
        and not SIGNATURE.fullmatch(previous.text)
    )


def leans_back(unit: Unit) -> bool:
    """It needs the sentence before ("It...") or its heading's question ("For X, yes.")."""
    leans = opens_leaning_back(unit.text)
    return unit.kind == "prose" and (leans or bool(ELLIPTICAL_REPLY.search(unit.text)))


def out_of_place(unit: Unit) -> bool:
    """A numbered step or a question: neither says anything without the steps before it or
    the answer after it ("4. Edit the email text, then click Save.", "Moving from a
    spreadsheet?"). Never a further paragraph."""
    return bool(_STEP.match(unit.text)) or (unit.kind == "prose" and unit.text.endswith("?"))


def code_it_explains(passage_units: Sequence[Unit], index: int) -> Unit | None:
    """The code block just before the sentence at `index` when the sentence names a part of
    it ("Leave out `"send": true` to create a draft" after the request): the example it
    explains."""
    if index == 0:
        return None
    code, sentence = passage_units[index - 1], passage_units[index]
    if code.kind != "code" or code.position < 0 or sentence.kind != "prose":
        return None
    return (
        code if any(name in code.text for name in _NAMED_IN_CODE.findall(sentence.text)) else None
    )


def matching_faq_entry(question: str, passages: Sequence[Passage]) -> tuple[int, str] | None:
    """A short FAQ entry of a page asked in other words ("is breakfast included in the price"
    and "Is breakfast included?" / "Yes, always."): the passage's index and its question."""
    asked = content_terms(question)
    for index, passage in enumerate(passages[:FAQ_PASSAGES]):
        entry = own_heading(passage.heading)
        terms = content_terms(entry)
        if (
            entry.endswith("?")
            and len(terms) >= 2
            and terms <= asked
            and len(terms) >= FAQ_MATCH_SHARE * len(asked)
            and len(passage.text) <= MAX_FAQ_CHARS
        ):
            return index, entry
    return None
