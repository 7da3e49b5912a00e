"""A follow-up question read with the one before it.

Visitors chat: "do you hire out bikes?", then "how much for an electric one?". Alone, the
second names nothing the site can be searched for ("electric one"), so retrieval finds nothing
close and the visitor gets the fallback. When a question's own passages do not hold an answer
(the evidence rule of `evidence.py`) and the visitor asked something before in this
conversation, the two are read together, the earlier first: retrieval searches for both and the
answerer quotes for both. That reading is used only when its passages do hold an answer; a new
subject ("ok, where do i park?") is answered on its own, since its own passages already do.
The visitor's own words are what is stored and shown; only retrieval and the answerer read
the joined question (docs/decisions/0027).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.chat.answerer import Turn
from sitechat.chat.evidence import answer_sources, answerable, evidence_of
from sitechat.knowledge.dense import DenseRetrieval
from sitechat.knowledge.passages import Passage
from sitechat.knowledge.service import retrieve_for_answer
from sitechat.models.chatbots import Chatbot


@dataclass(frozen=True)
class Reading:
    """How a question is read: the text retrieval searched for (the question, or the previous
    question and this one), the passages an answer may quote, and the unfamiliar terms."""

    query: str
    passages: list[Passage]
    unfamiliar_terms: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return answerable(evidence_of(self.passages, self.unfamiliar_terms))


async def _read(
    session: AsyncSession, chatbot: Chatbot, query: str, dense: DenseRetrieval | None
) -> Reading:
    retrieved = await retrieve_for_answer(session, chatbot, query, dense=dense)
    return Reading(query, answer_sources(retrieved.passages), retrieved.unfamiliar_terms)


def previous_question(history: Sequence[Turn]) -> str | None:
    """The visitor's last question before this one, if any."""
    return next((turn.content for turn in reversed(history) if turn.role == "user"), None)


async def read_in_context(
    session: AsyncSession,
    chatbot: Chatbot,
    question: str,
    history: Sequence[Turn],
    *,
    dense: DenseRetrieval | None,
) -> Reading:
    """The question's passages; for a follow-up its own passages cannot answer, those of the
    previous question and this one read together, when they can."""
    alone = await _read(session, chatbot, question, dense)
    previous = previous_question(history)
    if alone.answerable or previous is None:
        return alone
    together = await _read(session, chatbot, f"{previous.strip()}\n{question}", dense)
    return together if together.answerable else alone
