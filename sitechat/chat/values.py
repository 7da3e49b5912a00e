"""What a visitor's question asks for when it wants a value, and where a page states it.

A small business's visitors ask "how much", "when are you open", "what's your email":
the answer is a value the site writes in a price table's row, an opening-hours list or a
contact line, rarely in a sentence sharing the question's words ("Drop your bike off any time
during opening hours." shares "open" but says no hour). `wanted_value` names what a unit
holding the value looks like, so the extractive answerer can prefer it (`VALUE_WEIGHT` in
`extractive.py`), and `table_rows` quotes a row that answers under its table's header. The
words are English, like the rest of the extractive answerer's rules (docs/decisions/0026).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sitechat.chat.quotes import TABLE_SEPARATOR, Unit
from sitechat.chat.sentences import content_terms, is_table_line

# A unit holding the value asked for, about the question's subject, gains this much score in
# the extractive answerer: more than retrieval's rank between two passages (0.7 at most) and a
# section headed with the question's words (0.4) together: "how much is a filling" wants the
# price row, not the "Fillings" section ranked first.
VALUE_WEIGHT = 1.2
# A table row that answers brings the rows beside it that match the question as well, up to
# this many rows in all ("how much is a service": the three services' prices).
MAX_TABLE_ROWS = 4
# A row matching the question only through its table's header ("what are your prices" and a
# "| Job | Price |" table) answers a question about the whole table: up to this many rows.
MAX_WHOLE_TABLE_ROWS = 12

# A value unit counts as the answer when it covers at least this share of the question's
# subject (its terms the passages hold, but the words asking for the value): a hire page's
# "£100 deposit" holds a price but is not about "bike fitting".
MIN_SUBJECT_COVERAGE = 0.45


@dataclass(frozen=True)
class ValueKind:
    """A kind of value a question asks for: the words asking for it (`asked`, and their stems
    `asking`), and what a unit holding it looks like (`holds`)."""

    asked: re.Pattern[str]
    asking: frozenset[str]
    holds: re.Pattern[str]
    # The value says what the asking words ask for by itself: an e-mail address is the
    # "email" asked for, wherever it stands; a time is not "open" (a hire's return time).
    names_itself: bool = False
    # The unit must say a word of the question in its own text, not only in its column names
    # or heading: a table's row answering "which" (not a "| Prev | Up | Next |" row).
    said_in_text: bool = False


# English visitors' words.
VALUE_KINDS = (
    ValueKind(
        re.compile(
            r"\bhow much\b|\b(?:cost|costs|price|prices|pricing|fee|fees|charges)\b"
            r"|\bcharge (?:for|of)\b",
            re.I,
        ),
        content_terms("cost price fee charge"),
        # "$1" is a placeholder in SQL and shell docs, not a price.
        re.compile(
            r"[£€]\s?\d|\$(?:\d{2,}|\d+\.\d\d)|\d\s?€|\d\s?(?:eur|euros?|dollars?|pounds?|chf)\b"
            r"|\b(?:eur|gbp|usd|chf)\s?\d|\bfree of charge\b",
            re.I,
        ),
    ),
    ValueKind(
        # "when are you open", "opening hours", "r u open on sundays"; not "can I open an
        # account" or "what happens when I cancel".
        re.compile(
            r"\b(?:opening|closing|hours|what time|(?:are|r) (?:you|u|they) (?:open|closed)"
            r"|open (?:on|at|today|tomorrow)|when\b.{0,30}\b(?:open|close)s?)\b",
            re.I,
        ),
        content_terms("time open opening close closing hours"),
        re.compile(
            r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b|\b\d{1,2}:\d{2}\b|"
            r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b",
            re.I,
        ),
    ),
    ValueKind(
        # Asked: "how long does a puncture take", "how soon can you fit me in", "custom wheels
        # how long"; not "how long ago", nor how long as what to do ("time how long my code
        # takes"), nor a count ("how many days are in february").
        re.compile(
            r"(?:^|[,.;:?!]\s*|\b(?:and|so|for)\s+)how (?:long|soon)\b(?! ago)|\bhow long\W*$", re.I
        ),
        content_terms("long soon take time"),
        re.compile(
            r"\b(?:\d+(?:[.,]\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve"
            r"|a few|several)(?:\s+|-)(?:working\s+|business\s+)?"
            r"(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b"
            r"|\b(?:same day|while you wait|next (?:working )?day|overnight)\b",
            re.I,
        ),
    ),
    ValueKind(
        # Asking for ours ("whats ur email", "email address?", "can i email you"), not naming
        # an e-mail ("password reset email not arriving", "change the email on my account").
        re.compile(
            r"\b(?:your|ur|yr|contact)\s+e-?mail\b|\be-?mail\s+(?:you|u)\b"
            r"|^\W*(?:what'?s\s+the\s+)?e-?mail(?:\s+address)?\W*$",
            re.I,
        ),
        content_terms("email mail address"),
        re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
        names_itself=True,
    ),
    ValueKind(
        # After the e-mail kind: "email address" asks for that; "adress" is asked as often.
        re.compile(r"\b(?:add?ress?|located|location|where (?:are|r) (?:you|u)|find you)\b", re.I),
        content_terms("address adress addres adres located location where find"),
        # A postcode: British ("TQ7 4HD"), five digits and a town ("10435 Berlin"), a US
        # state and ZIP code ("IL 62701").
        re.compile(
            r"\b[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}\b|\b\d{5} [A-Z][a-zäöüß]+|\b[A-Z]{2} \d{5}\b"
        ),
        names_itself=True,
    ),
    ValueKind(
        # Ours: not a bare "number" ("whats my order number"), nor the visitor's own phone
        # ("i lost my phone").
        re.compile(
            r"\b(?:(?:your|ur|yr|contact)\s+(?:tele)?phone|(?:tele)?phone\s*(?:number|no)"
            r"|(?:call|ring|phone)\s+(?:you|u))\b|^\W*(?:tele)?phone\W*$",
            re.I,
        ),
        content_terms("phone telephone call ring number"),
        re.compile(r"(?:\+|\b0)\d[\d ]{7,}\d\b"),
        names_itself=True,
    ),
)


# Last: "which rooms look at the sea" asks for the rows of a table that say so ("| The Lookout
# | ... | Full sea view |"), when no other kind of value is asked for.
WHICH_ROWS = ValueKind(
    re.compile(r"\bwhich\b", re.I), frozenset(), re.compile(r"^\|"), said_in_text=True
)


def wanted_value(question: str) -> ValueKind | None:
    """The kind of value the question asks for: a price for "how much", a time for "when are
    you open", a duration for "how long", an e-mail address, a postal address, a phone
    number; None for others."""
    kinds = (*VALUE_KINDS, WHICH_ROWS)
    return next((kind for kind in kinds if kind.asked.search(question)), None)


def self_named_terms(kind: ValueKind | None) -> frozenset[str]:
    """The terms of a question that is all stop words ("where are you", "where r u"): what it
    asks for, when the value names itself (an address); none otherwise."""
    return kind.asking if kind is not None and kind.names_itself else frozenset()


def value_subject(
    kind: ValueKind | None, weights: Mapping[str, float], held: frozenset[str]
) -> dict[str, float]:
    """The question's subject, weighted: its terms the passages hold (`held`) but the ones
    asking for the value ("bike fitting" of "do you do bike fitting and how much")."""
    asking = kind.asking if kind is not None else frozenset()
    return {term: weight for term, weight in weights.items() if term in held and term not in asking}


def answers_with_value(
    kind: ValueKind | None,
    text: str,
    covered: frozenset[str],
    subject: Mapping[str, float],
    said: frozenset[str] = frozenset(),
) -> bool:
    """Whether a unit's `text` holds the value asked for and is about the question's subject:
    it (or its heading) covers `covered` of the question's terms, at least
    `MIN_SUBJECT_COVERAGE` of the `subject`'s weight (`value_subject`); for a kind
    `said_in_text`, its own text says some of them (`said`)."""
    if kind is None or not kind.holds.search(text) or (kind.said_in_text and not said):
        return False
    total = sum(subject.values())
    found = sum(weight for term, weight in subject.items() if term in covered)
    return total == 0 or found >= MIN_SUBJECT_COVERAGE * total


def header_terms(units: Sequence[Unit]) -> dict[tuple[int, int], frozenset[str]]:
    """Each table row's header terms, by the row's (passage, position): a row means what its
    columns are called too ("| Essential | £14.95 |" under "| Plan | Monthly fee |")."""
    headers: dict[tuple[int, int], frozenset[str]] = {}
    header: frozenset[str] = frozenset()
    previous: Unit | None = None
    for unit in units:
        if previous is not None and previous.passage_index != unit.passage_index:
            header = frozenset()  # a table does not run on into another passage
        if not is_table_line(unit.text):
            header = frozenset()
        elif TABLE_SEPARATOR.match(unit.text):
            header = frozenset()
            if previous is not None and previous.passage_index == unit.passage_index:
                header = previous.terms if is_table_line(previous.text) else frozenset()
        else:
            headers[(unit.passage_index, unit.position)] = header
        previous = unit
    return headers


def lists_after(units: Sequence[Unit]) -> dict[int, str]:
    """Each sentence's list (not a table) that follows it at once, as one text, by the
    sentence's id: "...on one of our hire bikes." and the hire prices under it."""
    lists: dict[int, str] = {}
    for index, unit in enumerate(units):
        if unit.kind != "prose":
            continue
        items = []
        for item in units[index + 1 :]:
            other_passage = item.passage_index != unit.passage_index
            if item.kind != "item" or other_passage or is_table_line(item.text):
                break
            items.append(item.text)
        if items:
            lists[id(unit)] = "\n".join(items)
    return lists


def table_rows(
    passage_units: Sequence[Unit], index: int, question_terms: frozenset[str]
) -> list[Unit]:
    """A table row that answers, under its table's header (when the passage holds it), with
    the rows beside it that match the same terms of the question; every row (up to
    `MAX_WHOLE_TABLE_ROWS`) when the row names none of them: the question is about the table."""
    lead = passage_units[index]
    asked = lead.terms & question_terms
    rows = [lead]
    most = MAX_TABLE_ROWS if asked else MAX_WHOLE_TABLE_ROWS
    for step in (1, -1):
        other = index + step
        while 0 <= other < len(passage_units) and len(rows) < most:
            unit = passage_units[other]
            if not is_table_line(unit.text) or TABLE_SEPARATOR.match(unit.text):
                break
            if unit.terms & question_terms == asked:
                rows.append(unit)
            other += step
    rows.sort(key=lambda unit: unit.position)
    first = passage_units.index(rows[0])
    separator = first - 1
    while separator >= 0 and is_table_line(passage_units[separator].text):
        if TABLE_SEPARATOR.match(passage_units[separator].text):
            if separator > 0 and is_table_line(passage_units[separator - 1].text):
                return [passage_units[separator - 1], passage_units[separator], *rows]
            break
        separator -= 1
    return rows
