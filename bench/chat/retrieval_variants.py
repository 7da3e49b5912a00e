"""Retrieval variants measured against the current ranking, to back tuning proposals.

None of these is product code: each is the smallest stand-in that shows what a change to
`sitechat/search` would buy, on the same chunks and questions as the evaluation.

- `current`: `sitechat.knowledge.service.retrieve` as shipped (`ts_rank`, at most two chunks per
  page in the top k since the page cap below was adopted).
- `page cap 2`: the lexical ranking with at most two chunks per page in the top k (what
  `retrieve` now does), so one long page (the C-API's thread-state section, the glossary)
  cannot fill every slot.
- `idf`: ranks by the question terms' rarity in the chatbot's chunks (BM25's idf, from
  `ts_stat`), counting a term once more when it is in the title or heading (weights A/B);
  candidates are the chunks holding at least one selective term (in at most 5% of chunks),
  so common words ("python", "use", "function") neither flood nor rank the candidates.
  `ts_rank_cd` has no notion of term rarity, which is the main cause of the misses.
- `idf + page cap 2`: both.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.knowledge import repository
from sitechat.knowledge.passages import Passage
from sitechat.knowledge.service import (
    lexical_ranking,
    reciprocal_rank_fusion,
    retrieve,
    search_language,
    top_k_for,
)
from sitechat.models.chatbots import Chatbot

Ranker = Callable[[AsyncSession, Chatbot, str], Awaitable[list[Passage]]]

SELECTIVE_SHARE = 0.05
CANDIDATES_PER_SLOT = 4

_QUESTION_LEXEMES = text(
    "SELECT array(SELECT unnest(tsvector_to_array("
    "to_tsvector(CAST(:language AS regconfig), :question))))"
)
_CHUNK_COUNT = text("SELECT count(*) FROM chunks WHERE chatbot_id = :chatbot_id")
_IDF_RANKED = text(
    """
WITH q AS (SELECT unnest(CAST(:lexemes AS text[])) AS lexeme,
                  unnest(CAST(:weights AS float8[])) AS weight)
SELECT c.id, c.source_id, c.url, c.title, c.heading, c.content,
       (SELECT sum(q.weight * (
            CAST(c.search_vector @@ CAST(quote_literal(q.lexeme) AS tsquery) AS int)
          + CAST(c.search_vector @@ CAST(quote_literal(q.lexeme) || '\\:AB' AS tsquery) AS int)))
        FROM q) AS score
FROM (SELECT * FROM chunks
      WHERE chatbot_id = :chatbot_id AND search_vector @@ CAST(:candidates AS tsquery)
      LIMIT 2000) AS c
ORDER BY score DESC, c.id
LIMIT :limit
"""
)


@dataclass
class DocumentFrequencies:
    """Per chatbot: how many chunks hold each lexeme (what an index-time table would keep)."""

    chunks: int
    by_lexeme: dict[str, int]


_frequencies: dict[uuid.UUID, DocumentFrequencies] = {}


async def document_frequencies(session: AsyncSession, chatbot_id: uuid.UUID) -> DocumentFrequencies:
    if chatbot_id not in _frequencies:
        chunks = int((await session.execute(_CHUNK_COUNT, {"chatbot_id": chatbot_id})).scalar_one())
        # ts_stat takes a query text; the id is a UUID object, so it cannot carry SQL.
        stat_query = f"SELECT search_vector FROM chunks WHERE chatbot_id = '{chatbot_id}'"
        rows = await session.execute(
            text("SELECT word, ndoc FROM ts_stat(:query)"), {"query": stat_query}
        )
        _frequencies[chatbot_id] = DocumentFrequencies(chunks, {w: int(n) for w, n in rows.all()})
    return _frequencies[chatbot_id]


def _tsquery_literal(lexeme: str) -> str:
    return "'" + lexeme.replace("'", "''") + "'"


async def idf_ranking(
    session: AsyncSession, chatbot: Chatbot, question: str, limit: int
) -> list[repository.ChunkHit]:
    language = search_language(chatbot)
    stats = await document_frequencies(session, chatbot.id)
    parsed = await session.execute(_QUESTION_LEXEMES, {"language": language, "question": question})
    lexemes = [lexeme for lexeme in parsed.scalar_one() if lexeme in stats.by_lexeme]
    if not lexemes:
        return []
    frequency = stats.by_lexeme
    weights = [
        math.log(1 + (stats.chunks - frequency[x] + 0.5) / (frequency[x] + 0.5)) for x in lexemes
    ]
    selective = [x for x in lexemes if frequency[x] <= SELECTIVE_SHARE * stats.chunks]
    candidates = selective or [min(lexemes, key=frequency.__getitem__)]
    rows = await session.execute(
        _IDF_RANKED,
        {
            "lexemes": lexemes,
            "weights": weights,
            "chatbot_id": chatbot.id,
            "candidates": " | ".join(_tsquery_literal(x) for x in candidates),
            "limit": limit,
        },
    )
    return [repository.ChunkHit(*row) for row in rows.all()]


RankingFunction = Callable[[AsyncSession, Chatbot, str, int], Awaitable[list[repository.ChunkHit]]]


def capped_per_page(ranking: RankingFunction, per_page: int) -> Ranker:
    async def rank(session: AsyncSession, chatbot: Chatbot, question: str) -> list[Passage]:
        top_k = top_k_for(chatbot)
        hits = await ranking(session, chatbot, question, top_k * CANDIDATES_PER_SLOT)
        kept: list[repository.ChunkHit] = []
        per_url: dict[str | None, int] = {}
        for hit in hits:
            if per_url.get(hit.url, 0) < per_page:
                kept.append(hit)
                per_url[hit.url] = per_url.get(hit.url, 0) + 1
        return reciprocal_rank_fusion([kept], top_k)

    return rank


async def _idf_only(session: AsyncSession, chatbot: Chatbot, question: str) -> list[Passage]:
    top_k = top_k_for(chatbot)
    return reciprocal_rank_fusion([await idf_ranking(session, chatbot, question, top_k)], top_k)


async def _current(session: AsyncSession, chatbot: Chatbot, question: str) -> list[Passage]:
    return await retrieve(session, chatbot, question)


VARIANTS: dict[str, Ranker] = {
    "current": _current,
    "page cap 2": capped_per_page(lexical_ranking, 2),
    "idf": _idf_only,
    "idf + page cap 2": capped_per_page(idf_ranking, 2),
}
PROPOSED = "idf + page cap 2"
