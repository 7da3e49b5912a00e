"""The default answerer: composes an answer from the retrieved text itself, with no model.

It reads the passages as a visitor would: cut into whole sentences, list items and code blocks
(`sentences.py`), each weighed by how much of the question it covers (terms weighted by their
rarity among the passages, a heading naming a term supporting the text under it) and by how
high retrieval ranked its passage. The answer is

1. a **lead paragraph** from the best page: the sentence that answers best, the sentence
   before it when it refers back ("This...", "It..."), the sentences after it that stay on the
   subject, and the code example or list that goes with it, in reading order (a sentence
   referring back to one that cannot be quoted, cut by the chunk's edge, does not lead); a
   short section of a few sentences (a help page's "Delivery times and costs") is quoted
   whole, but for its version notes and pointers elsewhere;
   a question asking for a value (`values.py`: a price, an opening time) leads with what
   holds one: a table's rows under its header, a list with the sentence introducing it;
2. at most two **further paragraphs**, each from another page, only when that page says
   something the lead does not (it covers more of the question) and nearly as well, and is
   about the question in meaning, not only in a shared word.

Sentences cut by a chunk's edge are never quoted; a sentence that repeats one already chosen
(overlapping chunks, near-identical API entries) is quoted once. Each paragraph ends with its
`[n]` marker, numbered in reading order, and its citation links to the section
(`url#anchor`). With nothing to quote it answers the chatbot's fallback message: it never
writes a word that is not in the sources. Whether to answer at all is decided before, from the
retrieval evidence (`evidence.py`), for every answerer alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace

from sitechat.chat.answer_text import append_marker, shorten_markdown, stream_pieces
from sitechat.chat.answerer import (
    AnswerEvent,
    AnswerMeta,
    AnswerSettings,
    Citation,
    CitationsReady,
    TextDelta,
    Turn,
    citation_for,
    estimated_usage,
)
from sitechat.chat.context import own_words
from sitechat.chat.evidence import answerable, evidence_of
from sitechat.chat.quotes import (
    SENTENCE_ENDS,
    SIGNATURE,
    Paragraph,
    Unit,
    code_it_explains,
    compose_text,
    dangles,
    drop_a_reply_to_another_question,
    entry_of,
    leans_back,
    out_of_place,
    own_heading,
    quotable_before,
    render,
    split_passages,
    starts_mid_sentence,
    stored_answer,
)
from sitechat.chat.sentences import content_terms, is_table_line, near_duplicate
from sitechat.chat.values import (
    VALUE_WEIGHT,
    ValueKind,
    answers_with_value,
    header_terms,
    lists_after,
    self_named_terms,
    table_rows,
    value_subject,
    wanted_value,
)
from sitechat.knowledge.passages import Passage

# The lead sentence must cover at least this share of the question's (rarity-weighted) terms;
# below it nothing in the passages is about the question.
MIN_COVERAGE = 0.3
# Retrieval's order is strong evidence of which page answers (recall@1 well above a sentence
# matcher's): a passage's rank adds up to this much to its sentences' scores.
RANK_WEIGHT = 0.7
# A heading or page title that names a query term supports a sentence under it, at this weight.
HEADING_WEIGHT = 0.5
# ... and a unit of a section whose own heading names every term of the question ("Book a
# repair" for "how do I book a repair", not its "Cancellations" subsection) this much.
NAMED_WEIGHT = 0.4
# The lead paragraph: the lead sentence and at most this many more, within this many chars
# (code and list items not counted), and the code block that follows within this many units.
MAX_LEAD_SENTENCES = 3
MAX_PARAGRAPH_CHARS = 480
CODE_WITHIN_UNITS = 3
MAX_CODE_CHARS = 700
MAX_INTRODUCED_CODE_CHARS = 1000  # code a sentence announces ("...like this:") is its point
MAX_LIST_CHARS = 600
# Items or code lines that follow a sentence ending with ":" are kept together with it.
MAX_FOLLOWING_UNITS = 8
# A further paragraph joins the answer only when it adds: its sentence covers nearly as much
# of the question as the lead (`OTHER_PAGE_RATIO`), at least `MIN_NEW_COVERAGE` of it that the
# answer does not yet (numbers aside), and comes from one of the first `FURTHER_PASSAGES`
# passages; at most this many paragraphs, from at most this many pages (a paragraph from a
# section already cited shares its number). Read on the tune split, looser rules mostly added
# off-subject sentences that happened to share a word.
OTHER_PAGE_RATIO = 0.7
MIN_NEW_COVERAGE = 0.15
FURTHER_PASSAGES = 4
MAX_PAGES = 3
MAX_PARAGRAPHS = 3
# ... and only when its passage is not much further in meaning from the question than the
# lead's (closeness, ADR 0023): read on every split, this dropped 10 of 484 answers' further
# paragraphs, nearly all off the subject ("You are never charged for a skipped week." under
# "box never showed up"); no figure moved.
FURTHER_CLOSENESS_GAP = 0.15
# Longer units are walls (a table, a run-on list), not answers; a list item leads only when it
# is a sentence.
MAX_LEAD_CHARS = 500
# Leads tried, best first, for one whose paragraph does not dangle.
MAX_LEAD_TRIES = 3
MIN_ITEM_LEAD_WORDS = 8
# Sentences beside the point of a section: version and platform notes, and pointers to text
# elsewhere ("...are listed below.", "See Chapter 14 for...", "The tables below describe...").
_ASIDE = re.compile(
    r"^(?:(?:changed|new) in version|deprecated since|availability:|see also"
    r"|see (?:chapter|section|appendix|table|figure)s? [\dA-Z]"
    r"|the (?:tables?|figures?|examples?|sections?) (?:below|above|that follow)\b)"
    r"|\b(?:below|above|following)[.:]$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Scored:
    unit: Unit
    matched: frozenset[str]
    coverage: float
    score: float
    holds_value: bool = False  # the value the question asks for, about its subject
    introduces: bool = False  # ... in the list that follows it ("our hire bikes." + prices)
    states_contact: bool = False  # ... a phone number, e-mail or postal address: said alone


class ExtractiveAnswerer:
    """Answers by quoting the best-matching sentences of the passages, with citations."""

    reads_history = False  # a follow-up comes joined to the previous question

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
        for delta in stream_pieces(text):
            yield TextDelta(delta)
        yield CitationsReady(citations)
        yield AnswerMeta(fallback=not citations)
        yield estimated_usage(question, passages, text)

    def compose(
        self, question: str, passages: Sequence[Passage], settings: AnswerSettings
    ) -> tuple[str, list[Citation]]:
        """Return the answer text and its citations; no citations means the fallback."""
        budget = settings.max_answer_chars
        stored = stored_answer(question, passages)
        if stored is not None:
            index, entry = stored
            qa = passages[index]
            text = f"{entry} {qa.text.strip()}".strip()
            answer = shorten_markdown(text, budget - len("\n\n[1]"))
            return append_marker(answer, "[1]"), [citation_for(1, qa, qa.text)]

        wanted = wanted_value(question)
        query_terms = content_terms(question) or self_named_terms(wanted)
        units = split_passages(passages)
        if not query_terms or not units:
            return settings.fallback_message, []
        weights = term_weights(units, query_terms)
        scored = _score_units(units, weights, passages, wanted)
        by_passage = _by_passage(units)
        whole = _whole_sections(by_passage)
        leads = [s for s in scored if _can_lead(s.unit, whole, s.holds_value)]
        if _semantically_close(passages):
            # Retrieval found a passage close in meaning: a paraphrased question may share no
            # word with it, so the word coverage that decides otherwise does not apply.
            leads = leads or _opening_of_best_passage(units)
        elif not leads or leads[0].coverage < self._min_coverage:
            return settings.fallback_message, []
        if not leads:
            return settings.fallback_message, []
        # A follow-up read with the question before it (`chat/context.py`) is about its own
        # words: a further paragraph must add some of those, not of the earlier question.
        focus = content_terms(own_words(question))
        paragraphs = _choose_paragraphs(leads, by_passage, weights, passages, budget, focus)
        for paragraph in paragraphs:
            drop_a_reply_to_another_question(paragraph, passages, query_terms)
        return render(paragraphs, passages, budget)


def _by_passage(units: Sequence[Unit]) -> dict[int, list[Unit]]:
    by_passage: dict[int, list[Unit]] = {}
    for unit in units:
        by_passage.setdefault(unit.passage_index, []).append(unit)
    return by_passage


def _whole_sections(by_passage: dict[int, list[Unit]]) -> frozenset[int]:
    """The passages (by index) that are a short section's whole text, lists included."""
    return frozenset(i for i, own in by_passage.items() if _short_and_whole(own, lists=True))


def _semantically_close(passages: Sequence[Passage]) -> bool:
    evidence = evidence_of(passages)
    return evidence.closeness is not None and answerable(evidence)


def _opening_of_best_passage(units: Sequence[Unit]) -> list[_Scored]:
    """The first sentence of the best passage that can lead, when no sentence shares a word
    with the question."""
    for unit in units:
        if unit.passage_index == 0 and _can_lead(unit):
            return [_Scored(unit, frozenset(), 0.0, 0.0)]
    return []


# --- scoring -----------------------------------------------------------------------------


def term_weights(units: Sequence[Unit], query_terms: frozenset[str]) -> dict[str, float]:
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
    units: Sequence[Unit],
    weights: dict[str, float],
    passages: Sequence[Passage],
    wanted: ValueKind | None = None,
) -> list[_Scored]:
    """Score every unit that shares a term with the question, best first; one that holds the
    kind of value the question asks for (`wanted`) and is about its subject gains
    `VALUE_WEIGHT`."""
    query_terms = frozenset(weights)
    total_weight = sum(weights.values())
    heading_terms = [content_terms(f"{p.title} {p.heading}") & query_terms for p in passages]
    named = _named_by_heading(passages, query_terms)
    held = frozenset().union(*(unit.terms for unit in units)) & query_terms
    subject = value_subject(wanted, weights, held)
    headers = header_terms(units)
    lists = lists_after(units) if wanted is not None else {}
    scored: list[_Scored] = []
    for unit in units:
        matched = unit.terms & query_terms
        row_header = headers.get((unit.passage_index, unit.position), frozenset())
        context = (heading_terms[unit.passage_index] | row_header) & query_terms
        said = matched - row_header
        holds_value = unit.kind != "code" and answers_with_value(
            wanted, unit.text, matched | context, subject, said
        )
        introduces = not holds_value and answers_with_value(
            wanted, lists.get(id(unit), ""), matched | context, subject, said
        )
        holds_value |= introduces
        states_contact = holds_value and wanted is not None and wanted.names_itself
        if states_contact and wanted is not None:
            matched |= wanted.asking & query_terms  # "hello@school.example" is the e-mail
        supporting = context - matched
        # A unit sharing no word with the question counts only when it holds the value asked
        # for under a heading that names the question's subject ("Saturday: 9am to 5pm" under
        # "Opening hours" for "when are you open").
        if not matched and not (holds_value and supporting):
            continue
        covered = sum(weights[t] for t in matched) + HEADING_WEIGHT * sum(
            weights[t] for t in supporting
        )
        coverage = covered / total_weight
        rank_prior = RANK_WEIGHT / (1 + unit.passage_index)
        score = coverage * _kind_factor(unit) + rank_prior + VALUE_WEIGHT * holds_value
        score += NAMED_WEIGHT * named[unit.passage_index]
        scored.append(
            _Scored(unit, matched, coverage, score, holds_value, introduces, states_contact)
        )
    scored.sort(key=lambda s: s.score, reverse=True)
    return scored


def _kind_factor(unit: Unit) -> float:
    """Prefer explanatory sentences of ordinary length over fragments, items and walls."""
    if unit.kind == "code":
        return 0.85
    if len(unit.terms) < 3:
        return 0.7
    if unit.kind == "item" or len(unit.text) > 400:
        return 0.9
    return 1.0


# --- choosing what to quote --------------------------------------------------------------


def _choose_paragraphs(
    leads: Sequence[_Scored],
    by_passage: dict[int, list[Unit]],
    weights: dict[str, float],
    passages: Sequence[Passage],
    budget: int,
    focus: frozenset[str],
) -> list[Paragraph]:
    """The lead paragraph, then a paragraph per further page that adds to it some of the
    `focus` terms (the question's, or a follow-up's own)."""
    question_terms = frozenset(weights)
    total_weight = sum(weights.values())
    named = _named_by_heading(passages, question_terms)

    def lead_paragraph(candidate: _Scored) -> Paragraph:
        unit = candidate.unit
        if candidate.states_contact and not is_table_line(unit.text):
            return Paragraph(unit.passage_index, [unit], unit)  # not its section's other news
        return _lead_paragraph(
            unit, by_passage, question_terms, named[unit.passage_index], candidate.introduces
        )

    # The best lead whose paragraph reads on its own: it does not stop at "...looks like
    # this:" with nothing after, nor open with "It..." about something it does not say.
    best, lead = leads[0], lead_paragraph(leads[0])
    for candidate in leads[: MAX_LEAD_TRIES + 1]:
        paragraph = lead_paragraph(candidate)
        if not dangles(paragraph) and not leans_back(paragraph.units[0]):
            best, lead = candidate, paragraph
            break
    paragraphs = [lead]
    chosen = {id(unit) for unit in lead.units}
    covered = set(best.matched).union(*(u.terms & question_terms for u in lead.units))
    lead_passage = passages[best.unit.passage_index]
    pages = {lead_passage.page_key}
    for candidate in leads[1:]:
        if len(paragraphs) >= MAX_PARAGRAPHS:
            break
        page = passages[candidate.unit.passage_index].page_key
        new_terms = {t for t in (candidate.matched - covered) & focus if not t.isdigit()}
        new_coverage = sum(weights[t] for t in new_terms) / total_weight
        if (
            new_coverage < MIN_NEW_COVERAGE
            or candidate.coverage < OTHER_PAGE_RATIO * best.coverage
            or candidate.unit.passage_index >= FURTHER_PASSAGES
            or _far_in_meaning(passages[candidate.unit.passage_index], lead_passage)
        ):
            continue
        full = page not in pages and len(pages) >= MAX_PAGES
        # A sentence introducing the values asked for is quoted only as a lead, with its list.
        if id(candidate.unit) in chosen or candidate.introduces or full:
            continue
        if out_of_place(candidate.unit):
            continue
        paragraph = _further_paragraph(candidate.unit, by_passage[candidate.unit.passage_index])
        if dangles(paragraph) or leans_back(paragraph.units[0]):
            continue
        paragraph.units = [
            u for u in paragraph.units if id(u) not in chosen and not _repeats(u, paragraphs)
        ]
        if not paragraph.units or len(compose_text([*paragraphs, paragraph], passages)) > budget:
            continue
        paragraphs.append(paragraph)
        pages.add(page)
        chosen.update(id(u) for u in paragraph.units)
        covered |= candidate.matched
    return paragraphs


def _named_by_heading(passages: Sequence[Passage], terms: frozenset[str]) -> list[bool]:
    """Per passage: its own heading (the last of its path) names every term of the question."""
    return [terms <= content_terms(own_heading(p.heading)) for p in passages]


def _far_in_meaning(passage: Passage, lead: Passage) -> bool:
    """A passage much further in meaning from the question than the lead's: its words match
    ("safe" in "is it safe with a nut allergy" and in "a safe place for the box") but it is
    about something else. Unknown without a semantic ranking."""
    if passage.closeness is None or lead.closeness is None:
        return False
    return passage.closeness < lead.closeness - FURTHER_CLOSENESS_GAP


def _can_lead(unit: Unit, whole: frozenset[int] = frozenset(), holds_value: bool = False) -> bool:
    """A unit that reads as an answer on its own: a whole sentence of readable length, a
    short list item that is a sentence (not a bare entry), any item of a short section
    (`whole`), which is then quoted whole, or a table's row holding the value asked for
    (`holds_value`), quoted under the table's header. Other rows are not answers: a reference
    table's walls of text, a page's "Prev | Up | Next". A line holding the value is an answer
    without a full stop ("Phone: 01632 960 418")."""
    if unit.fragment or unit.kind == "code" or len(unit.text) > MAX_LEAD_CHARS:
        return False
    if unit.kind == "item":
        if is_table_line(unit.text):
            return holds_value
        return unit.passage_index in whole or len(unit.words) >= MIN_ITEM_LEAD_WORDS
    if starts_mid_sentence(unit.text) or _ASIDE.search(unit.text):
        return False  # nor a version note, nor a pointer elsewhere
    return holds_value or unit.text.rstrip("`*)\"'").endswith(SENTENCE_ENDS)


def _repeats(unit: Unit, paragraphs: Sequence[Paragraph]) -> bool:
    if unit.kind == "code":
        return any(unit.text == other.text for p in paragraphs for other in p.units)
    return any(near_duplicate(unit.words, other.words) for p in paragraphs for other in p.units)


def _lead_paragraph(
    lead: Unit,
    by_passage: dict[int, list[Unit]],
    question_terms: frozenset[str],
    names_it: bool = False,
    introduces: bool = False,
) -> Paragraph:
    """The lead sentence in its context: the sentence it leans on, what it introduces (a list
    after ":", or of the values asked), the sentences after it on the subject, and its code."""
    passage_units = by_passage[lead.passage_index]
    index = passage_units.index(lead)
    if is_table_line(lead.text):
        rows = table_rows(passage_units, index, question_terms)
        return Paragraph(lead.passage_index, rows, lead)
    if _short_and_whole(passage_units, lists=lead.kind == "item"):
        # A short section said whole (a help page's "Delivery times and costs"): its other
        # sentences are the context a visitor needs, however few words they share; not its
        # notes on versions and platforms, nor pointers to what the passage does not hold.
        kept = [u for u in passage_units if u is lead or not _ASIDE.search(u.text)]
        return Paragraph(lead.passage_index, kept, lead)
    start = _section_opening(passage_units, index, names_it)
    if start == index and leans_back(lead) and quotable_before(passage_units, index):
        start = index - 1
    chosen = list(passage_units[start : index + 1])
    signature = _signature_before(passage_units, start) or code_it_explains(passage_units, start)
    if signature is not None:
        chosen.insert(0, signature)
    subject = question_terms | lead.terms
    sentences = sum(u.kind == "prose" for u in chosen)
    prose_chars = sum(len(u.text) for u in chosen if u.kind == "prose")
    following = passage_units[index + 1 : index + 1 + MAX_FOLLOWING_UNITS]
    listing, listed_chars = False, 0
    for offset, unit in enumerate(following):
        previous = chosen[-1]
        if unit.fragment:
            break
        if unit.kind == "code":
            limit = MAX_INTRODUCED_CODE_CHARS if previous.text.endswith(":") else MAX_CODE_CHARS
            if offset < CODE_WITHIN_UNITS and len(unit.text) <= limit:
                chosen.append(unit)
            break
        if unit.kind == "item":
            # A list goes with the sentence that introduces it, within the paragraph's size;
            # an item that leads is quoted alone.
            introduced = previous.text.endswith(":") or (previous.kind == "item" and listing)
            introduced |= introduces and previous is lead
            if not introduced or listed_chars + len(unit.text) > MAX_LIST_CHARS:
                break
            chosen.append(unit)
            listing = True
            listed_chars += len(unit.text)
            continue
        leads_to_code = any(u.kind == "code" for u in following[offset + 1 : CODE_WITHIN_UNITS])
        on_subject = bool(unit.terms & subject) or previous.text.endswith(":") or leads_to_code
        if (
            (_ASIDE.search(unit.text) and not unit.text.endswith(":"))  # not what it shows
            or sentences > MAX_LEAD_SENTENCES - 1
            or prose_chars + len(unit.text) > MAX_PARAGRAPH_CHARS
            or not on_subject
        ):
            break
        chosen.append(unit)
        sentences += 1
        prose_chars += len(unit.text)
    while len(chosen) > 1 and chosen[-1] is not lead and chosen[-1].text.endswith(":"):
        chosen.pop()  # "...the following:" with nothing following reads as cut off
    return Paragraph(lead.passage_index, chosen, lead)


def _short_and_whole(passage_units: Sequence[Unit], lists: bool = False) -> bool:
    """A passage of a few whole sentences (and the code or list they introduce) that fits a
    lead paragraph: no unit cut by the chunk's edge, so it is its section's whole text."""
    code = [u for u in passage_units if u.kind == "code" and u.position >= 0]
    text = [u for u in passage_units if u.kind != "code"]  # sentences and list items
    opening = next((u for u in passage_units if u.position >= 0), None)
    return (
        # A passage opening with a list's items may be the tail of a list cut by the chunk's
        # edge: quoted whole only for an item that answers (`lists`: "Monday: closed").
        opening is not None
        and (opening.kind == "prose" or lists)
        and not any(u.fragment for u in passage_units)
        and sum(u.kind == "prose" for u in text) <= MAX_LEAD_SENTENCES + 1
        and sum(len(u.text) for u in text) <= MAX_PARAGRAPH_CHARS
        and sum(len(u.text) for u in code) <= MAX_CODE_CHARS
        and not passage_units[-1].text.endswith(":")
    )


def _section_opening(passage_units: Sequence[Unit], index: int, names_it: bool) -> int:
    """Where a lead paragraph starts when its passage is about what was asked (an entry, or a
    section whose heading names every term of the question): at the passage's first sentence,
    which says what the subject is ("A function returning another function..."), when the lead
    follows it closely; else at the lead."""
    entry = entry_of(passage_units) is not None
    first = 1 if entry else 0  # the first sentence comes after the entry's term
    if not (entry or names_it) or not first < index <= first + MAX_LEAD_SENTENCES - 1:
        return index
    opening = passage_units[first:index]
    if opening[0].fragment or any(u.kind != "prose" for u in opening):
        return index
    if sum(len(u.text) for u in opening) > MAX_PARAGRAPH_CHARS // 2:
        return index
    return first


def _signature_before(passage_units: Sequence[Unit], index: int) -> Unit | None:
    """The API entry a description belongs to (`class collections.Counter([iterable])` before
    "A Counter is a dict subclass..."), as code: the description rarely names it. Either the
    line before it, or the entry the passage's section is about (`quotes.entry_term`)."""
    previous = passage_units[index - 1] if index > 0 else None
    if previous is not None and previous.kind == "prose" and SIGNATURE.fullmatch(previous.text):
        return replace(previous, kind="code")
    return entry_of(passage_units)


def _further_paragraph(unit: Unit, passage_units: Sequence[Unit]) -> Paragraph:
    """One sentence from another page, with what it leans on or introduces."""
    index = passage_units.index(unit)
    chosen = [unit]
    if leans_back(unit) and quotable_before(passage_units, index):
        chosen.insert(0, passage_units[index - 1])
    signature = _signature_before(passage_units, index - len(chosen) + 1)
    if signature is not None:
        chosen.insert(0, signature)
    if unit.text.endswith(":"):
        for following in passage_units[index + 1 : index + 1 + MAX_FOLLOWING_UNITS]:
            if following.kind == "prose" or following.fragment:
                break
            if following.kind == "code" and len(following.text) > MAX_CODE_CHARS:
                break
            chosen.append(following)
            if following.kind == "code":
                break
    return Paragraph(unit.passage_index, chosen)
