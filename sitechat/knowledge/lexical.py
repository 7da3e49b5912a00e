"""The lexical ranking: BM25 over one chatbot's chunks, with OR semantics, inside PostgreSQL.

Every term of the question scores (a chunk need not hold them all), weighted by its rarity in
this chatbot's chunks (idf), saturated in its frequency and normalised by the chunk's length
(k1, b), with a bonus when the page title or the section heading holds it. Which chunks are
scored at all is the latency bound: the chunks holding the question's rarest terms, taken
rarest first until their document frequencies sum to `CANDIDATE_BUDGET`. A chunk holding
only common terms ("use", "function", "python") cannot outrank one holding a rare term by
much, and scoring every chunk that says "use" would cost a scan of most of the corpus.
Measured on the tune split: see docs/performance.md, "Retrieval".
"""

from __future__ import annotations

import math
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.knowledge import repository
from sitechat.knowledge.repository import Bm25, ChunkHit, QuestionTerms, ScoredTerm

PARAMETERS = Bm25(k1=1.2, b=0.75, title_bonus=2.0, heading_bonus=1.0)
# At most this many terms score (the rarest ones): a question pasted with a whole paragraph
# must not cost a ts_rank per word per candidate.
MAX_TERMS = 16
# The candidates' term frequencies add up to at most this (the rarest term always counts).
CANDIDATE_BUDGET = 1_000


def idf(chunk_count: int, frequency: int) -> float:
    """BM25's (Lucene's, never negative) inverse document frequency."""
    return math.log(1 + (chunk_count - frequency + 0.5) / (frequency + 0.5))


def scored_terms(terms: QuestionTerms) -> list[ScoredTerm]:
    """The question's terms, rarest first, at most `MAX_TERMS`."""
    ordered = sorted(terms.frequencies.items(), key=lambda item: (item[1], item[0]))
    return [
        ScoredTerm(lexeme, idf(terms.chunk_count, frequency))
        for lexeme, frequency in ordered[:MAX_TERMS]
    ]


def candidate_lexemes(terms: QuestionTerms, budget: int = CANDIDATE_BUDGET) -> list[str]:
    """The rarest terms whose chunks together stay within `budget` (always at least one)."""
    chosen: list[str] = []
    total = 0
    for lexeme, frequency in sorted(terms.frequencies.items(), key=lambda item: item[1]):
        if chosen and total + frequency > budget:
            break
        chosen.append(lexeme)
        total += frequency
    return chosen


async def ranking_of_terms(
    session: AsyncSession, chatbot_id: uuid.UUID, terms: QuestionTerms, limit: int
) -> list[ChunkHit]:
    """The chatbot's chunks by BM25 score for the question's `terms`, best first."""
    if not terms.frequencies:
        return []
    return await repository.rank_chunks(
        session,
        chatbot_id,
        scored_terms(terms),
        candidate_lexemes(terms),
        terms.average_length,
        PARAMETERS,
        limit,
    )
