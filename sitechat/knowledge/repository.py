"""All SQL of the knowledge store: pages, and lexical retrieval over one chatbot's chunks.

Lexical retrieval is BM25 computed by PostgreSQL (docs/decisions/0008-lexical-ranking.md):

- `question_terms` parses the question with the indexer's own field expression and reads, in the
  same statement, each lexeme's document frequency and the chatbot's chunk count and total
  length from `knowledge_term_stats` (kept by triggers on `chunks`).
- `rank_chunks` takes as candidates the chunks holding one of the rarest terms (through the GIN
  index on `search_vector`) and scores each with BM25 over every term of the question. A term's
  frequency in a chunk is read back from `ts_rank` with unit weights, which for one lexeme is
  sum(1/j^2, j = 1..tf) / (pi^2/6) and so invertible; a second `ts_rank` with weights only on
  the title (A) and heading (B) positions adds the field bonus (BM25F-style, to the term
  frequency before saturation). The document length is `search_length`.

Both filter on `chatbot_id` first thing, so a chatbot can never retrieve another chatbot's (or
workspace's) text.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import TextClause, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.chatbots import Chatbot
from sitechat.models.knowledge import Page


@dataclass(frozen=True)
class ChunkHit:
    chunk_id: uuid.UUID
    source_id: uuid.UUID
    url: str | None
    title: str
    heading: str
    content: str
    score: float
    page_id: uuid.UUID | None = None
    anchor: str | None = None


@dataclass(frozen=True)
class QuestionTerms:
    """The question's lexemes that occur in the chatbot's chunks, with their document
    frequencies, the chatbot's corpus size, and the question's lexemes no chunk holds."""

    frequencies: dict[str, int]
    chunk_count: int
    total_length: int
    unseen: frozenset[str] = frozenset()

    @property
    def average_length(self) -> float:
        return self.total_length / self.chunk_count if self.chunk_count else 0.0


_QUESTION_TERMS = text(
    """
WITH q AS (
    SELECT DISTINCT u.lexeme
    FROM unnest(
        to_tsvector(CAST(:language AS regconfig), :question)
        || sitechat_code_terms(CAST(:language AS regconfig), :question)
    ) AS u
)
SELECT q.lexeme, coalesce(s.chunks, 0), coalesce(s.positions, 0)
FROM (SELECT lexeme FROM q UNION ALL SELECT '') AS q
LEFT JOIN knowledge_term_stats AS s ON s.chatbot_id = :chatbot_id AND s.lexeme = q.lexeme
"""
)


async def question_terms(
    session: AsyncSession, chatbot_id: uuid.UUID, language: str, question: str
) -> QuestionTerms:
    rows = await session.execute(
        _QUESTION_TERMS, {"chatbot_id": chatbot_id, "language": language, "question": question}
    )
    frequencies: dict[str, int] = {}
    unseen: set[str] = set()
    chunk_count = total_length = 0
    for lexeme, chunks, positions in rows.all():
        if lexeme == "":
            chunk_count, total_length = int(chunks), int(positions)
        elif chunks > 0:
            frequencies[lexeme] = int(chunks)
        else:
            unseen.add(lexeme)
    return QuestionTerms(frequencies, chunk_count, total_length, frozenset(unseen))


@dataclass(frozen=True)
class ScoredTerm:
    lexeme: str
    idf: float


@dataclass(frozen=True)
class Bm25:
    """BM25 parameters; `title_bonus` / `heading_bonus` are added to a term's frequency in a
    chunk whose title / heading holds it."""

    k1: float
    b: float
    title_bonus: float
    heading_bonus: float


def tsquery_literal(lexeme: str) -> str:
    """One lexeme as tsquery text, matched as is (no parsing, no stemming)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


# H2(tf) = sum(1/j^2, j = 1..tf); ts_rank of one lexeme with unit weights is H2(tf) / (pi^2/6),
# and tf ~= 1 / (pi^2/6 - H2(tf)) - 1/2 (the tail of the series); the constant below makes an
# absent term exactly 0 and one occurrence 0.94.
_PI2_6 = 1.64493406685
_TERM = (
    "greatest(1 / greatest({pi2_6} * (1 - ts_rank('{{1,1,1,1}}', c.v, CAST(:q{i} AS tsquery))),"
    " 0.001) - 1 / {pi2_6}, 0)"
    " + {pi2_6} * ts_rank(CAST(:fields AS float4[]), c.v, CAST(:q{i} AS tsquery)) * :field_scale"
    " AS x{i}"
)


@cache
def _ranking_statement(terms: int) -> TextClause:
    frequencies = ", ".join(_TERM.format(i=i, pi2_6=_PI2_6) for i in range(terms))
    score = " + ".join(
        f"CAST(:idf{i} AS float8) * r.x{i} / (r.x{i} + c.norm)" for i in range(terms)
    )
    # Only numbered bind parameters are formatted in: no value reaches the SQL text.
    statement = f"""
SELECT k.id, k.source_id, k.url, k.title, k.heading, k.content, ranked.score, k.page_id,
       k.anchor
FROM (
    SELECT c.id, ({score}) * (:k1 + 1) AS score
    FROM (
        SELECT id, search_vector AS v,
               :k1 * (1 - :b + :b * coalesce(search_length, 0) / CAST(:average_length AS float8))
               AS norm
        FROM chunks
        WHERE chatbot_id = :chatbot_id AND search_vector @@ CAST(:candidates AS tsquery)
    ) AS c
    CROSS JOIN LATERAL (SELECT {frequencies} OFFSET 0) AS r
    ORDER BY score DESC, c.id
    LIMIT :limit
) AS ranked
JOIN chunks AS k ON k.id = ranked.id
ORDER BY ranked.score DESC, k.id
"""  # noqa: S608
    return text(statement)


async def rank_chunks(
    session: AsyncSession,
    chatbot_id: uuid.UUID,
    terms: Sequence[ScoredTerm],
    candidate_lexemes: Sequence[str],
    average_length: float,
    parameters: Bm25,
    limit: int,
) -> list[ChunkHit]:
    """The chatbot's chunks holding one of `candidate_lexemes`, best BM25 score over `terms`
    first."""
    if not terms or not candidate_lexemes:
        return []
    field_scale = max(parameters.title_bonus, parameters.heading_bonus, 1e-9)
    values: dict[str, object] = {
        "chatbot_id": chatbot_id,
        "candidates": " | ".join(tsquery_literal(lexeme) for lexeme in candidate_lexemes),
        "average_length": max(average_length, 1.0),
        "k1": parameters.k1,
        "b": parameters.b,
        # ts_rank's weights, in the order D, C, B, A, must lie in [0, 1]: scaled back after.
        "fields": [
            0.0,
            0.0,
            parameters.heading_bonus / field_scale,
            parameters.title_bonus / field_scale,
        ],
        "field_scale": field_scale,
        "limit": limit,
    }
    for index, term in enumerate(terms):
        values[f"q{index}"] = tsquery_literal(term.lexeme)
        values[f"idf{index}"] = term.idf
    result = await session.execute(_ranking_statement(len(terms)), values)
    return [ChunkHit(*row) for row in result.all()]


async def get_chatbot(
    session: AsyncSession, workspace_id: uuid.UUID, chatbot_id: uuid.UUID
) -> Chatbot | None:
    """The workspace's chatbot (None for another workspace's: a 404 like a missing one)."""
    statement = select(Chatbot).where(
        Chatbot.id == chatbot_id, Chatbot.workspace_id == workspace_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


# -- pages ------------------------------------------------------------------------------------


async def get_page(
    session: AsyncSession, workspace_id: uuid.UUID, page_id: uuid.UUID
) -> Page | None:
    statement = select(Page).where(Page.id == page_id, Page.workspace_id == workspace_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def page_ids_by_url(
    session: AsyncSession, source_id: uuid.UUID, urls: list[str]
) -> dict[str, uuid.UUID]:
    statement = select(Page.url, Page.id).where(Page.source_id == source_id, Page.url.in_(urls))
    return {url: page_id for url, page_id in (await session.execute(statement)).all()}


async def find_page_for_update(
    session: AsyncSession, source_id: uuid.UUID, url: str
) -> Page | None:
    statement = select(Page).where(Page.source_id == source_id, Page.url == url).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()
