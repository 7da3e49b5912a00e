"""All SQL of the knowledge store: pages, and lexical retrieval over one chatbot's chunks.

Both queries filter on `chatbot_id` first thing, so a chatbot can never retrieve another
chatbot's (or workspace's) text. They match through the GIN index on `search_vector` and rank
with `ts_rank(..., 32)` (term frequency, scaled to 0..1), which honours the A/B/C weights
written at indexing time: a title match outranks a heading match, which outranks body text.
`ts_rank` rather than `ts_rank_cd`: on the python3.11-doc evaluation (`bench/chat`) it lifts
recall@1 from 0.51 to 0.62 and answers with the key fact from 0.49 to 0.58 at equal latency;
cover density rewards chunks where the question's common words sit close together, which is
how a long page about something else wins.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.knowledge import Page

# Normalization flag 32 divides the rank by itself + 1: scores in [0, 1) that compare across
# queries, which the fusion of several rankings (and thresholds) can rely on.
RANK_NORMALIZATION = 32

_SELECT_RANKED = """
SELECT c.id, c.source_id, c.url, c.title, c.heading, c.content,
       ts_rank(c.search_vector, q.query, {normalization}) AS score
FROM chunks AS c, ({query}) AS q(query)
WHERE c.chatbot_id = :chatbot_id AND c.search_vector @@ q.query
ORDER BY score DESC, c.id
LIMIT :limit
"""

# Every term must appear (websearch syntax: "quoted phrases", OR, -exclusions).
_ALL_TERMS_QUERY = "SELECT websearch_to_tsquery(CAST(:language AS regconfig), :question)"

# Any term may appear. Built from PostgreSQL's own parsing of the question (so stemming and stop
# words match the index) by turning its AND / phrase operators into OR; the text form of a
# tsquery quotes every lexeme, so the operators are the only unquoted `&` and `<n>` in it.
_ANY_TERM_QUERY = (
    "SELECT CAST(regexp_replace("
    "CAST(plainto_tsquery(CAST(:language AS regconfig), :question) AS text), "
    "' (&|<->|<[0-9]+>) ', ' | ', 'g') AS tsquery)"
)

# The any-term query can match most of a large corpus when the question holds a common word;
# ranking is then the cost, so only this many matches (in index order) are ranked. All-terms
# matches are few and always ranked in full.
MAX_ANY_TERM_CANDIDATES = 2_000

_SELECT_RANKED_CANDIDATES = """
SELECT c.id, c.source_id, c.url, c.title, c.heading, c.content,
       ts_rank(c.search_vector, c.query, {normalization}) AS score
FROM (
    SELECT chunks.*, q.query
    FROM chunks, ({query}) AS q(query)
    WHERE chunks.chatbot_id = :chatbot_id AND chunks.search_vector @@ q.query
    LIMIT {candidates}
) AS c
ORDER BY score DESC, c.id
LIMIT :limit
"""

_ALL_TERMS_SQL = text(
    _SELECT_RANKED.format(normalization=RANK_NORMALIZATION, query=_ALL_TERMS_QUERY)
)
_ANY_TERM_SQL = text(
    _SELECT_RANKED_CANDIDATES.format(
        normalization=RANK_NORMALIZATION,
        query=_ANY_TERM_QUERY,
        candidates=MAX_ANY_TERM_CANDIDATES,
    )
)


@dataclass(frozen=True)
class ChunkHit:
    chunk_id: uuid.UUID
    source_id: uuid.UUID
    url: str | None
    title: str
    heading: str
    content: str
    score: float


async def _search(
    session: AsyncSession,
    statement: object,
    chatbot_id: uuid.UUID,
    language: str,
    question: str,
    limit: int,
) -> list[ChunkHit]:
    result = await session.execute(
        statement,  # type: ignore[call-overload]
        {"chatbot_id": chatbot_id, "language": language, "question": question, "limit": limit},
    )
    return [ChunkHit(*row) for row in result.all()]


async def search_all_terms(
    session: AsyncSession, chatbot_id: uuid.UUID, language: str, question: str, limit: int
) -> list[ChunkHit]:
    """Chunks containing every term of the question (websearch semantics), best first."""
    return await _search(session, _ALL_TERMS_SQL, chatbot_id, language, question, limit)


async def search_any_term(
    session: AsyncSession, chatbot_id: uuid.UUID, language: str, question: str, limit: int
) -> list[ChunkHit]:
    """Chunks containing at least one term of the question, best first."""
    return await _search(session, _ANY_TERM_SQL, chatbot_id, language, question, limit)


# -- pages ------------------------------------------------------------------------------------


async def get_page(
    session: AsyncSession, workspace_id: uuid.UUID, page_id: uuid.UUID
) -> Page | None:
    statement = select(Page).where(Page.id == page_id, Page.workspace_id == workspace_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def find_page_for_update(
    session: AsyncSession, source_id: uuid.UUID, url: str
) -> Page | None:
    statement = select(Page).where(Page.source_id == source_id, Page.url == url).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()
