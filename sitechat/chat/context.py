"""A follow-up question read with the one before it.

Visitors chat: "do you hire out bikes?", then "how much for an electric one?". Alone, the
second names nothing the site can be searched for ("electric one"), so retrieval finds nothing
close and the visitor gets the fallback; or it finds something of its own that is not what was
meant ("how long will that take" after a dead e-bike battery finds the FAQ's usual repair
times). A short message (at most `MAX_FOLLOW_UP_TERMS` terms) after an earlier question is also
retrieved together with that question (joined by a line break, the earlier first), and that
reading is used when its passages hold an answer (the evidence rule of `evidence.py`) and the
message's own do not, or come `CLOSER_BY` less close; a message that neither refers back nor
goes on from the previous one is read alone when it has an answer of its own or is shaped as a
question of its own ("do you sell pizza"). A longer message says what it is about
("if something you fixed goes wrong again do i have to pay") and is read on its own. The
visitor's own words are what is stored and shown; only retrieval and the extractive answerer
read the joined question (a model answerer reads the conversation itself; docs/decisions/0027).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.chat.answerer import Turn
from sitechat.chat.evidence import Evidence, answer_sources, answerable, evidence_of
from sitechat.chat.sentences import content_terms
from sitechat.chat.values import wanted_value
from sitechat.knowledge.dense import DenseRetrieval
from sitechat.knowledge.passages import Passage
from sitechat.knowledge.service import retrieve_for_answer
from sitechat.models.chatbots import Chatbot

# A message of more terms than this says what it is about: it is read on its own.
MAX_FOLLOW_UP_TERMS = 4
# A message leans on the one before when it refers back ("how long does that take", "do they
# expire") or goes on from it ("and for 4 people?", "what about saturdays"); "do you ship to
# mars" after a price question is a question of its own, however short, and so is "and do you
# sell pizza" (English words).
# ... or sets itself against it ("what time tho" after "what days do you deliver").
_REFERRING_TEXT = """
    it its that this these those they them their then one ones he she him her tho though instead
"""
_REFERRING = frozenset(_REFERRING_TEXT.split())
_GOING_ON = re.compile(
    r"^\W*(?:ok\W+|okay\W+|thanks\W+)?(?:and|or|also|but|plus|what about|how about)\b"
    r"(?!\W+(?:do|does|can|could|will|would|is|are)\W+(?:you|u|ya|they)\b)"
)
# A question put to the business or about the visitor ("do you sell pizza", "can i bring my
# dog", "is there wifi") names its own subject: with no word referring back, it is a question
# of its own even when short, and even when the site has no answer to it. So does a "who",
# "where" or "why" question of three words or more ("who owns the shop", "where can i park"),
# and "what do i..." ("what do i bring to my first appointment").
_OWN_QUESTION = re.compile(
    r"^\W*(?:(?:ok|okay|thanks|thank you|cool|great)\W+)*"
    r"(?:(?:what\W+)?(?:do|does|did|can|could|will|would|is|are|may|should)\W+"
    r"(?:you|u|ya|i|we|there)\b|(?:who|where|why)\W+\w+\W+\w+)"
)
_WORD = re.compile(r"[a-z]+")
# Passages of the joined reading looked at for the message's own words.
SPEAKS_TO_PASSAGES = 3
# The previous question's start: a long one must not push this message out of the query.
MAX_PREVIOUS_CHARS = 500
_JOIN = "\n"  # between the previous question and the message, in a joined query
# Read together, the passages must come this much closer than the message's own to be used
# when the message alone has an answer too ("how long will that take" has one of its own).
CLOSER_BY = 0.05


@dataclass(frozen=True)
class Reading:
    """How a question is read: the text retrieval searched for (the question, or the previous
    question and this one), the passages an answer may quote, and what the evidence rule says
    of them (judged once, when they are read)."""

    query: str
    passages: list[Passage]
    evidence: Evidence = field(default_factory=lambda: evidence_of([]))

    @property
    def answerable(self) -> bool:
        return answerable(self.evidence)


async def _read(
    session: AsyncSession, chatbot: Chatbot, query: str, dense: DenseRetrieval | None
) -> Reading:
    """The query's passages, judged for what the visitor's own message asks (its words as
    retrieval read them, misspellings in the sources' spelling): a joined reading must not
    answer "and do you sell pizza" because the previous question asked a phone number its
    passages state."""
    retrieved = await retrieve_for_answer(session, chatbot, query, dense=dense)
    passages = answer_sources(retrieved.passages)
    evidence = evidence_of(passages, retrieved.unfamiliar_terms, own_words(retrieved.query))
    return Reading(retrieved.query, passages, evidence)


def one_line(text: str) -> str:
    """A question as it is read: its words on one line. Retrieval and the extractive answerer
    take line breaks for spaces, and a joined query's only line break is its seam."""
    return " ".join(text.split())


def joined(previous: str, message: str) -> str:
    """The text a follow-up is read as: the previous question's start, then the message."""
    return f"{one_line(previous)[:MAX_PREVIOUS_CHARS]}{_JOIN}{one_line(message)}"


def own_words(query: str) -> str:
    """The visitor's message of a reading's query (all of it, when nothing was joined)."""
    return query.rsplit(_JOIN, 1)[-1]


def previous_question(history: Sequence[Turn]) -> str | None:
    """The visitor's last question before this one, if any."""
    return next((turn.content for turn in reversed(history) if turn.role == "user"), None)


def leans_on_previous(message: str) -> bool:
    """Whether a message refers back ("does it hurt") or goes on from what was asked before
    ("and for 4 people?")."""
    lowered = message.lower()
    return bool(_GOING_ON.match(lowered)) or not _REFERRING.isdisjoint(_WORD.findall(lowered))


def asks_on_its_own(message: str) -> bool:
    """Whether a message is a question of its own by its shape ("do you sell pizza", "is there
    wifi"), whatever the site holds; `leans_on_previous` is asked first."""
    return bool(_OWN_QUESTION.match(message.lower()))


def _speaks_to(reading: Reading, message: str, previous: str) -> bool:
    """Whether the joined reading's first passages say something of the message's own: one of
    its words the previous question does not have ("the link" after "reset my password"), or
    the value it asks for ("how much roughly"). A new subject ("do you ship to mars" after a
    price question) finds only the previous question's passages."""
    own = content_terms(message) - content_terms(previous)
    kind = wanted_value(message)
    for passage in reading.passages[:SPEAKS_TO_PASSAGES]:
        if own & content_terms(f"{passage.title} {passage.heading} {passage.text}"):
            return True
        if kind is not None and kind.holds.search(passage.text):
            return True
    return False


def _closeness(reading: Reading) -> float:
    closeness = reading.evidence.closeness
    return -1.0 if closeness is None else closeness


async def read_in_context(
    session: AsyncSession,
    chatbot: Chatbot,
    question: str,
    history: Sequence[Turn],
    *,
    dense: DenseRetrieval | None,
) -> Reading:
    """The question's passages, or for a short follow-up those of the previous question and
    this one read together, when those hold an answer and the message's own do not (or are
    much further from it)."""
    question = one_line(question)
    alone = await _read(session, chatbot, question, dense)
    previous = previous_question(history)
    if previous is None or len(content_terms(question)) > MAX_FOLLOW_UP_TERMS:
        return alone
    leans = leans_on_previous(question)
    if not leans and (alone.answerable or asks_on_its_own(question)):
        # A new subject, answered or not: "when r u open on saturday" after a bread price
        # must not get the delivery days the two questions' words find together.
        return alone
    together = await _read(session, chatbot, joined(previous, question), dense)
    if not together.answerable or not (leans or _speaks_to(together, question, previous)):
        return alone
    if not alone.answerable or _closeness(together) >= _closeness(alone) + CLOSER_BY:
        return together
    return alone
