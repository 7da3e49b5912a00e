"""Retrieval variants measured against the shipped ranking, to back tuning proposals.

None of these is product code: each is the smallest stand-in that shows what a change to
`sitechat/knowledge` would buy, on the same chunks and questions as the evaluation.

- `current`: `sitechat.knowledge.service.retrieve` as shipped (BM25 inside PostgreSQL, fused
  with the semantic ranking when dense retrieval is on, at most two chunks per page).
- `lexical, no page cap`: the lexical ranking alone, without the per-page cap.

The earlier variants (`ts_rank` flags, the first idf experiment) were measured in
docs/performance.md and led to the BM25 ranking (docs/decisions/0008-lexical-ranking.md);
`bench/retrieval` measures it on the visitor-phrased question sets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.knowledge.passages import Passage
from sitechat.knowledge.service import (
    CANDIDATES_PER_SLOT,
    rankings,
    reciprocal_rank_fusion,
    retrieve,
    top_k_for,
)
from sitechat.models.chatbots import Chatbot

Ranker = Callable[[AsyncSession, Chatbot, str], Awaitable[list[Passage]]]


async def _current(session: AsyncSession, chatbot: Chatbot, question: str) -> list[Passage]:
    return await retrieve(session, chatbot, question, dense=None)  # this bench is lexical


async def _lexical_uncapped(
    session: AsyncSession, chatbot: Chatbot, question: str
) -> list[Passage]:
    top_k = top_k_for(chatbot)
    ranked = (await rankings(session, chatbot, question, top_k * CANDIDATES_PER_SLOT, None)).found
    return reciprocal_rank_fusion(ranked, top_k)


VARIANTS: dict[str, Ranker] = {
    "current": _current,
    "lexical, no page cap": _lexical_uncapped,
}
PROPOSED = "lexical, no page cap"
