"""Retrieval: the passages of one chatbot that best match a question, best first.

Two rankings, fused:

- **lexical** (always): BM25 inside PostgreSQL (`lexical`), which finds identifiers and rare
  words exactly;
- **semantic** (when dense retrieval is on: pgvector and an embedder, see `dense`): the
  question's nearest chunks by embedding, which finds paraphrases.

`reciprocal_rank_fusion` merges them; with one ranking its order and scores are kept. Then at
most `MAX_PASSAGES_PER_PAGE` passages per page are kept, so one long page cannot fill every
slot.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.auth.caller import Caller
from sitechat.core.errors import NotFound
from sitechat.knowledge import repository
from sitechat.knowledge.dense import DenseRetrieval, dense_ranking, embed_question
from sitechat.knowledge.indexing import SEARCH_LANGUAGES
from sitechat.knowledge.lexical import lexical_ranking
from sitechat.knowledge.passages import PageKey, Passage
from sitechat.knowledge.repository import ChunkHit
from sitechat.models.chatbots import Chatbot

DEFAULT_TOP_K = 8
MAX_TOP_K = 20
# The usual constant of reciprocal rank fusion (Cormack et al.): damps the top ranks' lead.
RRF_K = 60
MAX_QUESTION_CHARS = 4_000
# One long page (a C-API section, the glossary) can otherwise fill every slot and crowd out the
# page that answers the question: at most this many passages per page, and the rankings are
# read this many times deeper than top_k so there is something to fill the freed slots with.
MAX_PASSAGES_PER_PAGE = 2
CANDIDATES_PER_SLOT = 4

LEXICAL = "lexical"
SEMANTIC = "semantic"


def top_k_for(chatbot: Chatbot, requested: int | None = None) -> int:
    configured = requested if requested is not None else chatbot.retrieval.get("top_k")
    if not isinstance(configured, int) or isinstance(configured, bool):
        configured = DEFAULT_TOP_K
    return max(1, min(configured, MAX_TOP_K))


def search_language(chatbot: Chatbot) -> str:
    """The text-search configuration to parse questions with; the index was built with it."""
    return chatbot.language if chatbot.language in SEARCH_LANGUAGES else "simple"


async def rankings(
    session: AsyncSession,
    chatbot: Chatbot,
    question: str,
    limit: int,
    dense: DenseRetrieval | None,
) -> dict[str, list[ChunkHit]]:
    """The lexical ranking, and the semantic one when dense retrieval is on and answers."""
    language = search_language(chatbot)
    if dense is None:
        return {LEXICAL: await lexical_ranking(session, chatbot.id, language, question, limit)}
    # The embedder's work overlaps the lexical query instead of adding to it.
    embedding = asyncio.create_task(embed_question(dense, question))
    try:
        lexical = await lexical_ranking(session, chatbot.id, language, question, limit)
        question_vector = await embedding
    finally:
        embedding.cancel()  # a no-op once done; stops the call if the lexical query failed
    found = {LEXICAL: lexical}
    if question_vector is not None:
        nearest = await dense_ranking(session, dense, chatbot.id, question_vector, limit)
        if nearest:
            found[SEMANTIC] = nearest
    return found


def capped_per_page(passages: Sequence[Passage], per_page: int, limit: int) -> list[Passage]:
    """The first `limit` passages, skipping any beyond `per_page` from the same page."""
    kept: list[Passage] = []
    taken: dict[PageKey, int] = {}
    for passage in passages:
        page = passage.page_key
        if taken.get(page, 0) < per_page:
            kept.append(passage)
            taken[page] = taken.get(page, 0) + 1
            if len(kept) == limit:
                break
    return kept


def _passage(
    hit: ChunkHit, score: float, ranks: Mapping[str, int], scores: Mapping[str, float]
) -> Passage:
    return Passage(
        chunk_id=hit.chunk_id,
        source_id=hit.source_id,
        url=hit.url,
        title=hit.title,
        heading=hit.heading,
        text=hit.content,
        score=score,
        rankings=dict(ranks),
        page_id=hit.page_id,
        ranking_scores=dict(scores),
        anchor=hit.anchor,
    )


def reciprocal_rank_fusion(ranked: Mapping[str, Sequence[ChunkHit]], limit: int) -> list[Passage]:
    """Merge ranked lists by summing 1 / (RRF_K + rank); one list keeps its order and scores.
    Every passage records its rank in each list that holds it."""
    ranks: dict[object, dict[str, int]] = {}
    scores: dict[object, dict[str, float]] = {}
    first_hit: dict[object, ChunkHit] = {}
    for name, hits in ranked.items():
        for rank, hit in enumerate(hits, start=1):
            ranks.setdefault(hit.chunk_id, {}).setdefault(name, rank)
            scores.setdefault(hit.chunk_id, {}).setdefault(name, hit.score)
            first_hit.setdefault(hit.chunk_id, hit)
    if len(ranked) == 1:
        (hits,) = ranked.values()
        return [
            _passage(hit, hit.score, ranks[hit.chunk_id], scores[hit.chunk_id])
            for hit in hits[:limit]
        ]
    fused = {
        chunk_id: sum(1.0 / (RRF_K + rank) for rank in by_name.values())
        for chunk_id, by_name in ranks.items()
    }
    best = sorted(fused, key=lambda chunk_id: fused[chunk_id], reverse=True)[:limit]
    return [
        _passage(first_hit[chunk_id], fused[chunk_id], ranks[chunk_id], scores[chunk_id])
        for chunk_id in best
    ]


async def retrieve(
    session: AsyncSession,
    chatbot: Chatbot,
    question: str,
    limit: int | None = None,
    *,
    dense: DenseRetrieval | None,
) -> list[Passage]:
    """The chatbot's best passages for the question (at most `limit`, default its top_k);
    `dense` is the process's dense retrieval (`DenseSetup`), None for lexical only."""
    question = question.strip()[:MAX_QUESTION_CHARS]
    if not question:
        return []
    top_k = top_k_for(chatbot, limit)
    depth = top_k * CANDIDATES_PER_SLOT
    fused = reciprocal_rank_fusion(await rankings(session, chatbot, question, depth, dense), depth)
    return capped_per_page(fused, MAX_PASSAGES_PER_PAGE, top_k)


async def search(
    session: AsyncSession,
    caller: Caller,
    chatbot_id: uuid.UUID,
    query: str,
    limit: int,
    dense: DenseRetrieval | None,
) -> list[Passage]:
    """What the chatbot would retrieve for `query` (retrieval testing): any status, so a bot
    can be checked before it goes live."""
    chatbot = await repository.get_chatbot(session, caller.workspace_id, chatbot_id)
    if chatbot is None:
        raise NotFound("Chatbot")
    return await retrieve(session, chatbot, query, limit, dense=dense)
