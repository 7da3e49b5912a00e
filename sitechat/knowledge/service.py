"""Retrieval: the passages of one chatbot that best match a question, best first.

The lexical ranking (PostgreSQL full-text search, see `repository`) always runs. When dense
retrieval is on (pgvector and an embedder, see `dense`), the question's nearest chunks form a
second ranking and `reciprocal_rank_fusion` merges the two; with one list the fusion keeps its
order and scores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.knowledge import repository
from sitechat.knowledge.dense import dense_ranking, dense_retrieval, embed_question
from sitechat.knowledge.indexing import SEARCH_LANGUAGES
from sitechat.knowledge.passages import Passage
from sitechat.models.chatbots import Chatbot

DEFAULT_TOP_K = 8
MAX_TOP_K = 20
# Below this many all-terms hits the question is probably phrased in words the pages do not
# all share ("how do I ..."), so chunks matching only some of its terms are added.
MIN_ALL_TERMS_HITS = 3
# The usual constant of reciprocal rank fusion (Cormack et al.): damps the top ranks' lead.
RRF_K = 60
MAX_QUESTION_CHARS = 4_000
# One long page (a C-API section, the glossary) can otherwise fill every slot and crowd out the
# page that answers the question: at most this many passages per page, and the ranking is read
# this many times deeper than top_k so there is something to fill the freed slots with.
MAX_PASSAGES_PER_PAGE = 2
CANDIDATES_PER_SLOT = 4


def top_k_for(chatbot: Chatbot, requested: int | None = None) -> int:
    configured = requested if requested is not None else chatbot.retrieval.get("top_k")
    if not isinstance(configured, int) or isinstance(configured, bool):
        configured = DEFAULT_TOP_K
    return max(1, min(configured, MAX_TOP_K))


def search_language(chatbot: Chatbot) -> str:
    """The text-search configuration to parse questions with; the index was built with it."""
    return chatbot.language if chatbot.language in SEARCH_LANGUAGES else "simple"


def _passage(hit: repository.ChunkHit, score: float | None = None) -> Passage:
    return Passage(
        chunk_id=hit.chunk_id,
        source_id=hit.source_id,
        url=hit.url,
        title=hit.title,
        heading=hit.heading,
        text=hit.content,
        score=hit.score if score is None else score,
    )


async def lexical_ranking(
    session: AsyncSession, chatbot: Chatbot, question: str, limit: int
) -> list[repository.ChunkHit]:
    """All-terms matches first; topped up with any-term matches when there are too few."""
    language = search_language(chatbot)
    hits = await repository.search_all_terms(session, chatbot.id, language, question, limit)
    if len(hits) >= min(MIN_ALL_TERMS_HITS, limit):
        return hits
    seen = {hit.chunk_id for hit in hits}
    extra = await repository.search_any_term(session, chatbot.id, language, question, limit)
    hits.extend(hit for hit in extra if hit.chunk_id not in seen)
    return hits[:limit]


async def _rankings(
    session: AsyncSession, chatbot: Chatbot, question: str, limit: int
) -> list[list[repository.ChunkHit]]:
    dense = dense_retrieval()
    if dense is None:
        return [await lexical_ranking(session, chatbot, question, limit)]
    # The embedder's round trip overlaps the lexical query instead of adding to it.
    embedding = asyncio.create_task(embed_question(dense, question))
    try:
        lexical = await lexical_ranking(session, chatbot, question, limit)
        question_vector = await embedding
    finally:
        embedding.cancel()  # a no-op once done; stops the call if the lexical query failed
    if question_vector is None:
        return [lexical]
    nearest = await dense_ranking(session, dense, chatbot.id, question_vector, limit)
    return [lexical, nearest] if nearest else [lexical]


def _page_of(passage: Passage) -> object:
    # Text sources have no URL: each is one "page".
    return passage.url if passage.url is not None else passage.source_id


def capped_per_page(passages: Sequence[Passage], per_page: int, limit: int) -> list[Passage]:
    """The first `limit` passages, skipping any beyond `per_page` from the same page."""
    kept: list[Passage] = []
    taken: dict[object, int] = {}
    for passage in passages:
        page = _page_of(passage)
        if taken.get(page, 0) < per_page:
            kept.append(passage)
            taken[page] = taken.get(page, 0) + 1
            if len(kept) == limit:
                break
    return kept


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[repository.ChunkHit]], limit: int
) -> list[Passage]:
    """Merge ranked lists by summing 1 / (RRF_K + rank); one list keeps its order and scores."""
    if len(rankings) == 1:
        return [_passage(hit) for hit in rankings[0][:limit]]
    fused: dict[object, float] = {}
    first_hit: dict[object, repository.ChunkHit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + 1.0 / (RRF_K + rank)
            first_hit.setdefault(hit.chunk_id, hit)
    best = sorted(fused, key=lambda chunk_id: fused[chunk_id], reverse=True)[:limit]
    return [_passage(first_hit[chunk_id], fused[chunk_id]) for chunk_id in best]


async def retrieve(
    session: AsyncSession, chatbot: Chatbot, question: str, limit: int | None = None
) -> list[Passage]:
    """The chatbot's best passages for the question (at most `limit`, default its top_k)."""
    question = question.strip()[:MAX_QUESTION_CHARS]
    if not question:
        return []
    top_k = top_k_for(chatbot, limit)
    depth = top_k * CANDIDATES_PER_SLOT
    ranked = reciprocal_rank_fusion(await _rankings(session, chatbot, question, depth), depth)
    return capped_per_page(ranked, MAX_PASSAGES_PER_PAGE, top_k)
