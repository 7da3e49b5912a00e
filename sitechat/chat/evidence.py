"""Whether the sources hold an answer, judged from the retrieval evidence, before any answerer
runs: the extractive answerer and the model get the same passages and the same decision.

Three signals, calibrated on the tune split of the visitor question sets (bench/answers;
docs/decisions, "When to say I don't know"):

- **closeness**: how much closer in meaning the question is to its nearest passage than to
  the chatbot's average chunk (`Passage.closeness`: the cosine similarity minus the question's
  mean similarity to all the chatbot's chunks, docs/decisions/0023, shrunk toward 0 for a
  chatbot of few chunks, 0025). Questions the site
  answers stand out from the site's average far more than questions it does not, whatever
  their words; the raw similarity says less, since a vague question is near everything;
- **agreement**: the lexical and semantic rankings put the same passage near their tops. Two
  rankings that fail in different ways rarely agree by chance on an unanswerable question;
- **unfamiliar terms**: name-like words of the question the sources do not know
  (`knowledge.familiarity`): "pytorch" on a Python docs bot, "Patroni" on PostgreSQL's. The
  question is about something else, however near its other words come to a passage.

A question asking for the site's e-mail address, postal address or phone number
(`chat/values.py`) is answerable when one of the first passages states one: a contact list
resembles "email address?" too little in meaning for closeness to say so. So is a question
whose meaningful words (two at least) one sentence of the first passages says all of: a text
source that lists many facts in one chunk ("Our hygienist works Tuesday to Saturday. Free
Wi-Fi in the waiting room.") is far in meaning from "do you have wi-fi" as a whole, though
one of its sentences answers it. On the visitor sets no question the rule refused had such a
sentence, so no figure moved. So is a question asking for a value (`chat/values.py`: a price, a
time, a duration) when a unit of the first passages holds one and says all the question's other
words but one ("The confirmation link is valid for 24 hours."); no figure moved either.

The sources are answerable when the nearest passage is close (`CLOSE`), or closer than
`NEAR` and the rankings agree; a question naming an unfamiliar term needs a passage closer
than `FAMILIAR_CLOSE`, and is refused without a semantic ranking. Otherwise, without a
closeness (a server without pgvector, before a chatbot's vectors and their mean exist) there
is no calibrated evidence: the answerer's own rule decides (the extractive answerer's
sentence coverage, the model's instructions).

Link lists (index, search and table-of-contents pages, `crawling.extract.is_link_list`, and
chunks that are nothing but a list of short entries, as a table of contents is once its links
are gone) are not sources at all (`answer_sources`): they name every subject and explain none.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from sitechat.chat.quotes import Unit, split_passages
from sitechat.chat.sentences import content_terms
from sitechat.chat.values import ValueKind, wanted_value
from sitechat.crawling.extract import is_link_list
from sitechat.knowledge.passages import LEXICAL, SEMANTIC, Passage

# Calibrated on the sets' tune splits (bench/answers prints the curve): docs/decisions/0023;
# NEAR lowered from 0.30 for the small sites' questions (no documentation question moves).
CLOSE = 0.35
NEAR = 0.27
FAMILIAR_CLOSE = 0.55
# Agreement: a passage within this rank in both rankings, among the first passages.
AGREEMENT_RANK = 3
AGREEMENT_PASSAGES = 3
# Passages searched for the e-mail address, postal address or phone number asked for.
CONTACT_PASSAGES = 5
# Passages searched for a sentence saying all of the question's words, and how many words.
STATED_PASSAGES = 3
MIN_STATED_TERMS = 2


# A chunk of at least this many list entries, this short on median, and no prose at all is a
# table of contents.
TOC_MIN_ENTRIES = 6
TOC_MAX_MEDIAN_CHARS = 90
_LIST_ENTRY = re.compile(r"^\s*(?:[-*+]|\d+(?:\.\d+)*[.)]?)\s+\S")


def is_table_of_contents(text: str) -> bool:
    """A chunk that only lists entries (section titles, questions) without saying anything."""
    entries: list[int] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not _LIST_ENTRY.match(line):
            return False
        entries.append(len(stripped))
    return len(entries) >= TOC_MIN_ENTRIES and statistics.median(entries) <= TOC_MAX_MEDIAN_CHARS


@dataclass(frozen=True)
class Evidence:
    """What retrieval says about a question; None where the semantic ranking is missing."""

    closeness: float | None
    agreement: bool
    passages: int
    unfamiliar_terms: tuple[str, ...] = ()
    # The question asks for the site's e-mail address, postal address or phone number and a
    # first passage states one: "email address?" is answered however little it resembles a
    # contact list.
    contact_stated: bool = False
    # A sentence of the first passages says every meaningful word of the question (two at
    # least): "do you have wi-fi" and "Free Wi-Fi in the waiting room."; or holds the value
    # asked for and says all its other words but one.
    words_stated: bool = False


def answer_sources(passages: Sequence[Passage]) -> list[Passage]:
    """The passages an answer may quote, best first: link lists and tables of contents left
    out."""
    return [
        p
        for p in passages
        if not is_link_list(p.text, url=p.url) and not is_table_of_contents(p.text)
    ]


def evidence_of(
    passages: Sequence[Passage], unfamiliar_terms: Sequence[str] = (), question: str = ""
) -> Evidence:
    closeness = max((p.closeness for p in passages if p.closeness is not None), default=None)
    agreement = any(
        p.rankings.get(SEMANTIC, AGREEMENT_RANK + 1) <= AGREEMENT_RANK
        and p.rankings.get(LEXICAL, AGREEMENT_RANK + 1) <= AGREEMENT_RANK
        for p in passages[:AGREEMENT_PASSAGES]
    )
    asked = wanted_value(question) if question else None
    contact_stated = (
        asked is not None
        and asked.names_itself
        and any(asked.holds.search(p.text) for p in passages[:CONTACT_PASSAGES])
    )
    terms = content_terms(question)
    units = split_passages(passages[:CONTACT_PASSAGES])
    all_said = len(terms) >= MIN_STATED_TERMS and any(
        terms <= unit.terms for unit in units if unit.passage_index < STATED_PASSAGES
    )
    words_stated = all_said or _value_stated(asked, terms, units)
    # The words asking for a value are not names of something else ("whats ur adress").
    asking = asked.asking if asked is not None else frozenset()
    return Evidence(
        closeness,
        agreement,
        len(passages),
        tuple(term for term in unfamiliar_terms if term not in asking),
        contact_stated,
        words_stated,
    )


def answerable(
    evidence: Evidence,
    close: float = CLOSE,
    near: float = NEAR,
    familiar_close: float = FAMILIAR_CLOSE,
) -> bool:
    """True when the evidence says the sources hold an answer (or cannot say: no semantic
    ranking, no calibration, nothing unfamiliar asked; the answerer decides)."""
    if evidence.passages == 0:
        return False
    if evidence.unfamiliar_terms:
        return evidence.closeness is not None and evidence.closeness >= familiar_close
    if evidence.closeness is None or evidence.contact_stated or evidence.words_stated:
        return True
    return evidence.closeness >= close or (evidence.agreement and evidence.closeness >= near)


def _value_stated(asked: ValueKind | None, terms: frozenset[str], units: Sequence[Unit]) -> bool:
    """A unit of the first passages holds the value the question asks for (a price, a time, a
    duration, a table's row for "which") and says all of the question's other words (three at
    least) but one: "The confirmation link is valid for 24 hours" for "how long is the link in
    the email to confirm my account valid"."""
    if asked is None or asked.names_itself:
        return False
    subject = terms - asked.asking
    if len(subject) < MIN_STATED_TERMS + 1:
        return False
    return any(len(subject - unit.terms) <= 1 and asked.holds.search(unit.text) for unit in units)
