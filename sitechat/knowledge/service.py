"""Retrieval: the passages of one chatbot that best match a question, best first.

Two rankings, fused:

- **lexical** (always): BM25 inside PostgreSQL (`lexical`), which finds identifiers and rare
  words exactly;
- **semantic** (when dense retrieval is on: pgvector and an embedder, see `dense`): the
  question's nearest chunks by embedding, which finds paraphrases.

`reciprocal_rank_fusion` merges them, the first passage from the page both rank highest; with
one ranking its order and scores are kept. Then at
most `MAX_PASSAGES_PER_PAGE` passages per page are kept, so one long page cannot fill every
slot.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.auth.caller import Caller
from sitechat.core.errors import NotFound
from sitechat.knowledge import repository
from sitechat.knowledge.dense import DenseRetrieval, dense_ranking, embed_question
from sitechat.knowledge.familiarity import unfamiliar_terms
from sitechat.knowledge.indexing import SEARCH_LANGUAGES
from sitechat.knowledge.lexical import ranking_of_terms
from sitechat.knowledge.passages import LEXICAL, SEMANTIC, PageKey, Passage, page_key_of
from sitechat.knowledge.repository import ChunkHit, QuestionTerms
from sitechat.knowledge.spelling import corrected_question
from sitechat.knowledge.vectors import Nearest
from sitechat.models.chatbots import Chatbot

DEFAULT_TOP_K = 8
MAX_TOP_K = 20
# The usual constant of reciprocal rank fusion (Cormack et al.): damps the top ranks' lead.
RRF_K = 60
# Each ranking's weight in the fusion (summing to 2, so a chunk first in both still scores
# 2 / 61). The semantic ranking finds a visitor's paraphrase far more often than the lexical
# one finds its words; weighted 0.7 : 0.3 the fusion's page recall@5 on the tune splits rose
# from 0.85 to 0.88 (Python docs) and 0.66 to 0.73 (PostgreSQL docs), holdout 0.88 -> 0.85
# and 0.78 -> 0.78 (ADR 0021).
RANKING_WEIGHTS = {LEXICAL: 0.6, SEMANTIC: 1.4}
# The lexical ranking's first chunk is always among the first passages: an identifier or a rare
# word matched exactly (`lru_cache`, `pg_stat_activity`) is evidence the embedder cannot see.
# Page recall@5 with it: Python tune 0.86, PostgreSQL tune 0.70 (holdout 0.85, 0.82).
LEXICAL_FIRST_WITHIN = 5
# The first passage comes from the page the two rankings put highest, each ranking a page by
# its best chunk: they often find different chunks of the page that answers ("the lexical
# ranking's table row, the semantic ranking's introduction"), which chunk-level fusion scores
# apart. Ranks of pages are few, so the constant is smaller than RRF_K: page recall@1 on the
# tune splits 0.61 -> 0.66 (Python docs), 0.45 -> 0.50 (PostgreSQL docs), docs/decisions/0028.
PAGE_RRF_K = 10
MAX_QUESTION_CHARS = 4_000
# The semantic ranking ranks only chunks that have a vector: while the embedding job is far from
# done (a fresh crawl of 500 pages takes minutes), its nearest chunks are the nearest of the
# few embedded so far, which crowded the lexical ranking's answer out of the fused list and
# left the answer rule judging a far passage (every question got the fallback for minutes
# after a crawl). Below this share of the chatbot's chunks, the semantic ranking is used only
# when its nearest chunk is as close as the answer rule's `CLOSE` (chat/evidence.py) above the
# question's baseline: a text source added meanwhile, embedded in its request, still answers a
# paraphrase; otherwise retrieval is lexical, as before any vector exists. A re-crawl adding a
# few pages keeps the semantic ranking.
SEMANTIC_MIN_COVERAGE = 0.8
PARTIAL_SEMANTIC_MIN_CLOSENESS = 0.35
# One long page (a C-API section, the glossary) can otherwise fill every slot and crowd out the
# page that answers the question: at most this many passages per page, and the rankings are
# read this many times deeper than top_k so there is something to fill the freed slots with.
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


@dataclass(frozen=True)
class Retrieved:
    """A question's passages, best first, and what the answer flow judges them with."""

    passages: list[Passage]
    # The question as searched: its misspelt words in the sources' spelling (`spelling`).
    query: str
    # Name-like words of the question the chatbot's sources do not know (`familiarity`).
    unfamiliar_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rankings:
    """A question's rankings, by name, and what else retrieval learnt of it."""

    # The question as searched: its misspelt words in the sources' spelling (`spelling`).
    question: str
    found: dict[str, list[ChunkHit]]
    # The question's lexemes as the chatbot's chunks know them.
    terms: QuestionTerms
    # The question's mean cosine similarity to the chatbot's chunks (None: not known).
    semantic_baseline: float | None = None


async def rankings(
    session: AsyncSession,
    chatbot: Chatbot,
    question: str,
    limit: int,
    dense: DenseRetrieval | None,
) -> Rankings:
    """The lexical ranking, and the semantic one (with the question's baseline similarity)
    when dense retrieval is on and answers."""
    language = search_language(chatbot)
    # The embedder's work overlaps the lexical queries instead of adding to them.
    embedding = _embedding(dense, question)
    try:
        terms = await repository.question_terms(session, chatbot.id, language, question)
        corrected = await corrected_question(session, chatbot.id, language, question, terms)
        if corrected != question:
            if embedding is not None:
                embedding.cancel()
            question, embedding = corrected, _embedding(dense, corrected)
            terms = await repository.question_terms(session, chatbot.id, language, question)
        found = {LEXICAL: await ranking_of_terms(session, chatbot.id, terms, limit)}
        question_vector = None if embedding is None else await embedding
    finally:
        if embedding is not None:
            embedding.cancel()  # a no-op once done; stops the call if a lexical query failed
    if dense is None or question_vector is None:
        return Rankings(question, found, terms)
    nearest = await dense_ranking(session, dense, chatbot.id, question_vector, limit)
    if not nearest.hits or not _complete_or_close(nearest, terms.chunk_count):
        return Rankings(question, found, terms)
    found[SEMANTIC] = nearest.hits
    return Rankings(question, found, terms, nearest.baseline)


def _embedding(
    dense: DenseRetrieval | None, question: str
) -> asyncio.Task[list[float] | None] | None:
    return None if dense is None else asyncio.create_task(embed_question(dense, question))


def _complete_or_close(nearest: Nearest, chunk_count: int) -> bool:
    """Whether the semantic ranking is worth fusing: the chatbot's chunks are nearly all
    embedded, or its nearest chunk is close (`SEMANTIC_MIN_COVERAGE`)."""
    if nearest.vectors >= SEMANTIC_MIN_COVERAGE * chunk_count:
        return True
    best = nearest.hits[0].score
    return nearest.baseline is not None and best - nearest.baseline >= (
        PARTIAL_SEMANTIC_MIN_CLOSENESS
    )


def with_closeness(passages: Sequence[Passage], baseline: float | None) -> list[Passage]:
    """The passages the semantic ranking scored, with their closeness above `baseline`."""
    if baseline is None:
        return list(passages)
    return [
        replace(passage, closeness=passage.ranking_scores[SEMANTIC] - baseline)
        if SEMANTIC in passage.ranking_scores
        else passage
        for passage in passages
    ]


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


def _page_of(hit: ChunkHit) -> PageKey:
    return page_key_of(hit.page_id, hit.url, hit.source_id)


def page_fusion(ranked: Mapping[str, Sequence[ChunkHit]]) -> dict[PageKey, float]:
    """Every page the rankings found, scored by reciprocal rank fusion of the pages' ranks
    (a page ranks where its best chunk does), `PAGE_RRF_K`."""
    scores: dict[PageKey, float] = {}
    for name, hits in ranked.items():
        weight = RANKING_WEIGHTS.get(name, 1.0)
        for rank, page in enumerate(dict.fromkeys(map(_page_of, hits)), start=1):
            scores[page] = scores.get(page, 0.0) + weight / (PAGE_RRF_K + rank)
    return scores


def reciprocal_rank_fusion(ranked: Mapping[str, Sequence[ChunkHit]], limit: int) -> list[Passage]:
    """Merge ranked lists by summing weight / (RRF_K + rank) (`RANKING_WEIGHTS`, 1 for another
    list), the best page's (`page_fusion`) best chunk first, the lexical ranking's first within
    the first `LEXICAL_FIRST_WITHIN`; one list keeps its order and scores.
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
        chunk_id: sum(
            RANKING_WEIGHTS.get(name, 1.0) / (RRF_K + rank) for name, rank in by_name.items()
        )
        for chunk_id, by_name in ranks.items()
    }
    ordered = sorted(fused, key=lambda chunk_id: fused[chunk_id], reverse=True)
    if ordered:
        # The best page's best chunk first (`PAGE_RRF_K`); `max` keeps the first of equals.
        pages = page_fusion(ranked)
        lead = max(ordered, key=lambda chunk_id: pages[_page_of(first_hit[chunk_id])])
        ordered.remove(lead)
        ordered.insert(0, lead)
    if ranked.get(LEXICAL):
        # Weighted, the lexical first would fall behind dozens of semantic neighbours.
        first = ranked[LEXICAL][0].chunk_id
        position = ordered.index(first)
        if position >= LEXICAL_FIRST_WITHIN:
            ordered.insert(LEXICAL_FIRST_WITHIN - 1, ordered.pop(position))
    best = ordered[:limit]
    return [
        _passage(first_hit[chunk_id], fused[chunk_id], ranks[chunk_id], scores[chunk_id])
        for chunk_id in best
    ]


async def retrieve_for_answer(
    session: AsyncSession,
    chatbot: Chatbot,
    question: str,
    limit: int | None = None,
    *,
    dense: DenseRetrieval | None,
) -> Retrieved:
    """The chatbot's best passages for the question (at most `limit`, default its top_k), with
    the question's unfamiliar terms; `dense` is the process's dense retrieval (`DenseSetup`),
    None for lexical only."""
    question = question.strip()[:MAX_QUESTION_CHARS]
    if not question:
        return Retrieved([], question)
    top_k = top_k_for(chatbot, limit)
    depth = top_k * CANDIDATES_PER_SLOT
    ranked = await rankings(session, chatbot, question, depth, dense)
    fused = reciprocal_rank_fusion(ranked.found, depth)
    unfamiliar = unfamiliar_terms(ranked.terms, ranked.question, search_language(chatbot))
    passages = capped_per_page(fused, MAX_PASSAGES_PER_PAGE, top_k)
    return Retrieved(
        with_closeness(passages, ranked.semantic_baseline), ranked.question, unfamiliar
    )


async def retrieve(
    session: AsyncSession,
    chatbot: Chatbot,
    question: str,
    limit: int | None = None,
    *,
    dense: DenseRetrieval | None,
) -> list[Passage]:
    """The chatbot's best passages for the question (at most `limit`, default its top_k)."""
    return (await retrieve_for_answer(session, chatbot, question, limit, dense=dense)).passages


async def search(
    session: AsyncSession,
    caller: Caller,
    chatbot_id: uuid.UUID,
    query: str,
    limit: int,
    dense: DenseRetrieval | None,
) -> Retrieved:
    """What the chatbot would retrieve for `query` (retrieval testing): any status, so a bot
    can be checked before it goes live."""
    chatbot = await repository.get_chatbot(session, caller.workspace_id, chatbot_id)
    if chatbot is None:
        raise NotFound("Chatbot")
    return await retrieve_for_answer(session, chatbot, query, limit, dense=dense)
