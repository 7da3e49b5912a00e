"""The default answerer: composes an answer from the retrieved text itself, with no model.

It splits the passages into sentences (list items and code blocks stay whole), weighs the
question's terms by how rare they are among those sentences, and quotes the sentences that
cover the question best, grouped by source with `[n]` markers. When nothing covers enough of
the question it answers with the chatbot's fallback message: it never writes a word that is
not in the sources.
"""

from __future__ import annotations

import math
import re
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from sitechat.chat.answerer import (
    AnswerEvent,
    AnswerMeta,
    AnswerSettings,
    Citation,
    CitationsReady,
    TextDelta,
    Turn,
    Usage,
    citation_for,
    shorten,
)
from sitechat.knowledge.passages import Passage

# A sentence must cover at least this share of the question's (rarity-weighted) terms for the
# answerer to answer at all; below it the sources are judged not to contain the answer.
MIN_COVERAGE = 0.55
# Further sentences join the answer when they score at least this share of the best one; a
# sentence from another source must come closer, or cover part of the question that the
# answer so far does not, so that answers stay on the question.
RELATIVE_CUTOFF = 0.6
OTHER_SOURCE_CUTOFF = 0.8
MIN_NEW_COVERAGE = 0.2
# No sentence joins the answer below this coverage, whatever else it has going for it.
MIN_SUPPORT_COVERAGE = 0.3
MAX_SELECTED_UNITS = 5
# A heading or page title that names a query term supports a sentence under it, at this weight.
HEADING_WEIGHT = 0.5
QA_MATCH_THRESHOLD = 0.7
QA_HEADING_PREFIX = "Q: "
WORDS_PER_DELTA = 8
# Items or code lines that follow a sentence ending with ":" are kept together with it.
MAX_FOLLOWING_UNITS = 8

_STOP_WORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing done down during each
    else few for from further get gets got had has have having he her here hers him his how
    i if in into is it its itself just let many me more most much my myself no nor not now
    of off on once only or other our ours out over own please same she should so some such
    tell than that the their theirs them then there these they this those through to too
    under until up very want was we were what when where which while who whom why will with
    would you your yours yourself
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "dr.", "no.", "cf."})

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[`*]?[A-Z0-9])")
_LIST_ITEM = re.compile(r"^(?:[-*+•]|\d{1,3}[.)])\s+")
_DELTA_WORD = re.compile(r"\s*\S+")

UnitKind = Literal["prose", "item", "code"]


@lru_cache(maxsize=65_536)
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


def _words(text: str) -> list[str]:
    return [w for w in (w.strip("_") for w in _WORD.findall(text.lower())) if w]


def _stems(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in _words(text))


def content_terms(text: str) -> frozenset[str]:
    """The stems of the words that carry meaning (stop words dropped)."""
    return frozenset(stem(w) for w in _words(text) if w not in STOP_WORDS)


@dataclass(frozen=True, slots=True)
class _Unit:
    """A quotable piece of a passage: a sentence, a list item or a whole code block."""

    passage_index: int
    position: int
    kind: UnitKind
    text: str
    terms: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Scored:
    unit: _Unit
    matched: frozenset[str]
    coverage: float
    rank_score: float


class ExtractiveAnswerer:
    """Answers by quoting the best-matching sentences of the passages, with citations."""

    def __init__(self, min_coverage: float = MIN_COVERAGE) -> None:
        self._min_coverage = min_coverage

    async def aclose(self) -> None:
        """Nothing to release; present to satisfy the `Answerer` protocol."""

    async def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        settings: AnswerSettings,
    ) -> AsyncIterator[AnswerEvent]:
        text, citations = self.compose(question, passages, settings)
        for delta in _deltas(text):
            yield TextDelta(delta)
        yield CitationsReady(citations)
        yield AnswerMeta(fallback=not citations)
        yield Usage()

    def compose(
        self, question: str, passages: Sequence[Passage], settings: AnswerSettings
    ) -> tuple[str, list[Citation]]:
        """Return the answer text and its citations; no citations means the fallback."""
        budget = settings.max_answer_chars
        qa_index = _matching_qa_passage(question, passages)
        if qa_index is not None:
            qa = passages[qa_index]
            answer = shorten(qa.text.strip(), budget - len(" [1]"))
            return f"{answer} [1]", [citation_for(1, qa, qa.text)]

        query_terms = content_terms(question)
        units = _split_passages(passages)
        if not query_terms or not units:
            return settings.fallback_message, []
        weights = term_weights(units, query_terms)
        scored = _score_units(units, weights, passages)
        if not scored or scored[0].coverage < self._min_coverage:
            return settings.fallback_message, []
        selected = _select_units(scored, units, weights, passages, budget)
        return _render(selected, passages, budget)


def best_snippet(text: str, reference: str) -> str:
    """The sentence of `text` that shares most terms with `reference` (e.g. an answer)."""
    reference_terms = content_terms(reference)
    best_sentence, best_overlap = "", -1
    for kind, unit in _split_text(text):
        overlap = len(content_terms(unit) & reference_terms) if kind != "code" else -1
        if overlap > best_overlap:
            best_sentence, best_overlap = unit, overlap
    return best_sentence or text


def _matching_qa_passage(question: str, passages: Sequence[Passage]) -> int | None:
    """The Q&A passage whose question matches this one closely, if any."""
    asked = content_terms(question) or _stems(question)
    best_index, best_similarity = None, 0.0
    for index, passage in enumerate(passages):
        if not passage.heading.startswith(QA_HEADING_PREFIX) or not passage.text.strip():
            continue
        stored_question = passage.heading[len(QA_HEADING_PREFIX) :]
        stored = content_terms(stored_question) or _stems(stored_question)
        union = asked | stored
        similarity = len(asked & stored) / len(union) if union else 0.0
        if similarity > best_similarity:
            best_index, best_similarity = index, similarity
    return best_index if best_similarity >= QA_MATCH_THRESHOLD else None


# --- splitting ---------------------------------------------------------------------------


def _split_passages(passages: Sequence[Passage]) -> list[_Unit]:
    """All units of all passages, without the repeats that overlapping chunks produce."""
    units: list[_Unit] = []
    seen: set[str] = set()
    for passage_index, passage in enumerate(passages):
        for position, (kind, text) in enumerate(_split_text(passage.text)):
            key = " ".join(text.lower().split())
            if key in seen:
                continue
            seen.add(key)
            units.append(_Unit(passage_index, position, kind, text, content_terms(text)))
    return units


def _split_text(text: str) -> list[tuple[UnitKind, str]]:
    """Split Markdown-ish text into sentences, list items and code blocks, in order."""
    units: list[tuple[UnitKind, str]] = []
    prose: list[str] = []
    code: list[str] = []
    in_fence = False
    previous_blank = True

    def flush_prose() -> None:
        if prose:
            units.extend(("prose", s) for s in _split_sentences(" ".join(prose)))
            prose.clear()

    def flush_code() -> None:
        block = textwrap.dedent("\n".join(code)).strip("\n")
        if block.strip():
            units.append(("code", block))
        code.clear()

    for line in text.splitlines():
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
            elif _LIST_ITEM.match(stripped) or stripped.startswith("|"):
                flush_prose()
                units.append(("item", stripped))
            else:
                prose.append(stripped)
        previous_blank = not stripped
    flush_prose()
    flush_code()
    return units


def _split_sentences(paragraph: str) -> Iterable[str]:
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        last_word = paragraph[start : match.start() + 1].rsplit(None, 1)[-1].lower()
        if last_word in _ABBREVIATIONS or (len(last_word) == 2 and last_word[0].isalpha()):
            continue  # "e.g. Foo" or an initial such as "J. Smith"
        sentence = paragraph[start : match.end()].strip()
        if sentence:
            yield sentence
        start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        yield tail


# --- scoring -----------------------------------------------------------------------------


def term_weights(units: Sequence[_Unit], query_terms: frozenset[str]) -> dict[str, float]:
    """Weigh each query term by its rarity among the units, between 0.5 and 1.

    The rarity is BM25's idf, scaled so that a term no unit contains weighs 1: a question
    about something the passages never mention cannot be "covered" by its incidental words.
    A term every unit contains still weighs half, since it shows the passages are on topic.
    """
    unit_count = len(units)
    document_frequency = dict.fromkeys(query_terms, 0)
    for unit in units:
        for term in unit.terms & query_terms:
            document_frequency[term] += 1
    absent_idf = math.log(1 + (unit_count + 0.5) / 0.5)
    return {
        term: 0.5 + 0.5 * math.log(1 + (unit_count - df + 0.5) / (df + 0.5)) / absent_idf
        for term, df in document_frequency.items()
    }


def _score_units(
    units: Sequence[_Unit], weights: dict[str, float], passages: Sequence[Passage]
) -> list[_Scored]:
    """Score every unit that shares a term with the question, best first."""
    query_terms = frozenset(weights)
    total_weight = sum(weights.values())
    heading_terms = [content_terms(f"{p.title} {p.heading}") & query_terms for p in passages]
    scored: list[_Scored] = []
    for unit in units:
        matched = unit.terms & query_terms
        if not matched:
            continue
        supporting = heading_terms[unit.passage_index] - matched
        covered = sum(weights[t] for t in matched) + HEADING_WEIGHT * sum(
            weights[t] for t in supporting
        )
        coverage = covered / total_weight
        rank_prior = 0.03 * (1 - unit.passage_index / len(passages))
        rank_score = coverage * _kind_factor(unit) + rank_prior
        scored.append(_Scored(unit, matched, coverage, rank_score))
    scored.sort(key=lambda s: s.rank_score, reverse=True)
    return scored


def _kind_factor(unit: _Unit) -> float:
    """Prefer explanatory sentences of ordinary length over fragments, code and walls."""
    if unit.kind == "code":
        return 0.85
    if len(unit.terms) < 3:
        return 0.7
    if len(unit.text) > 400:
        return 0.9
    return 1.0


# --- selecting and rendering -------------------------------------------------------------


def _select_units(
    scored: Sequence[_Scored],
    units: Sequence[_Unit],
    weights: dict[str, float],
    passages: Sequence[Passage],
    budget: int,
) -> list[_Unit]:
    """Pick the best unit and the runners-up that fit, with the items/code they introduce."""
    best = scored[0]
    best_source = _source_of(best.unit, passages)
    total_weight = sum(weights.values())
    index_of = {(u.passage_index, u.position): i for i, u in enumerate(units)}
    selected: list[_Unit] = []
    covered: set[str] = set()
    for candidate in scored:
        if len(selected) >= MAX_SELECTED_UNITS or candidate.coverage < MIN_SUPPORT_COVERAGE:
            break
        if candidate.unit in selected:
            continue
        cutoff = (
            RELATIVE_CUTOFF
            if _source_of(candidate.unit, passages) == best_source
            else OTHER_SOURCE_CUTOFF
        )
        new_coverage = sum(weights[t] for t in candidate.matched - covered) / total_weight
        if candidate.rank_score < cutoff * best.rank_score and new_coverage < MIN_NEW_COVERAGE:
            continue
        bundle = [u for u in _with_context(candidate.unit, units, index_of) if u not in selected]
        for attempt in (bundle, [candidate.unit]):
            if len(_compose_text([*selected, *attempt], passages)[0]) <= budget:
                selected.extend(attempt)
                covered |= candidate.matched
                break
        else:
            if not selected:
                return [best.unit]  # too long even alone: `_render` shortens it
    return selected


def _source_of(unit: _Unit, passages: Sequence[Passage]) -> tuple[uuid.UUID, object]:
    # A file's pages have no URL of their own: its page tells them apart.
    passage = passages[unit.passage_index]
    return passage.source_id, passage.page_id or passage.url


def _with_context(
    unit: _Unit, units: Sequence[_Unit], position_of: dict[tuple[int, int], int]
) -> list[_Unit]:
    """The unit plus the list/code it introduces, or the sentence that introduces it."""
    index = position_of[(unit.passage_index, unit.position)]
    bundle = [unit]
    if unit.kind == "prose" and unit.text.endswith(":"):
        for following in units[index + 1 : index + 1 + MAX_FOLLOWING_UNITS]:
            if following.passage_index != unit.passage_index or following.kind == "prose":
                break
            bundle.append(following)
    elif unit.kind != "prose":
        for earlier in reversed(units[max(0, index - MAX_FOLLOWING_UNITS) : index]):
            if earlier.passage_index != unit.passage_index:
                break
            if earlier.kind == "prose":
                if earlier.text.endswith(":"):
                    bundle.insert(0, earlier)
                break
    return bundle


def _compose_text(
    selected: Sequence[_Unit], passages: Sequence[Passage]
) -> tuple[str, list[list[_Unit]]]:
    """The answer text for these units, and their groups in citation order.

    Units are grouped by source page, groups ordered by their most relevant unit (the order
    of `selected`), and each group is read in document order.
    """
    groups: dict[tuple[uuid.UUID, object], list[_Unit]] = {}
    for unit in selected:
        groups.setdefault(_source_of(unit, passages), []).append(unit)
    ordered = [sorted(g, key=lambda u: (u.passage_index, u.position)) for g in groups.values()]
    text = "\n\n".join(_render_group(g, n) for n, g in enumerate(ordered, 1))
    return text, ordered


def _render_group(units: Sequence[_Unit], number: int) -> str:
    lines: list[str] = []
    line_kinds: list[UnitKind] = []
    for unit in units:
        if unit.kind == "prose" and line_kinds and line_kinds[-1] == "prose":
            lines[-1] += " " + unit.text
            continue
        lines.append(f"```\n{unit.text}\n```" if unit.kind == "code" else unit.text)
        line_kinds.append(unit.kind)
    marker = f"[{number}]"
    text_lines = [i for i, kind in enumerate(line_kinds) if kind != "code"]
    if text_lines:
        lines[text_lines[-1]] += " " + marker
    else:
        lines.append(marker)
    return "\n".join(lines)


def _render(
    selected: Sequence[_Unit], passages: Sequence[Passage], budget: int
) -> tuple[str, list[Citation]]:
    text, groups = _compose_text(selected, passages)
    citations = []
    for number, group in enumerate(groups, 1):
        cited = passages[min(u.passage_index for u in group)]
        snippet = " ".join(u.text for u in group if u.kind != "code") or group[0].text
        citations.append(citation_for(number, cited, snippet))
    if len(text) > budget:  # only a single over-long unit gets here
        text = shorten(text, budget - len(" [1]")) + " [1]"
        citations = citations[:1]
    return text, citations


def _deltas(text: str) -> list[str]:
    """Split the answer into word groups to stream; they join back to the exact text."""
    words = _DELTA_WORD.findall(text)
    deltas = [
        "".join(words[i : i + WORDS_PER_DELTA]) for i in range(0, len(words), WORDS_PER_DELTA)
    ]
    trailing = text[len("".join(deltas)) :]
    if trailing:
        deltas.append(trailing)
    return deltas
