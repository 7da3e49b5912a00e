"""Plain BM25 over the same chunks, computed exactly in Python: the bar the lexical ranking
must reach.

Every chunk holding any term of the question is scored (no candidate budget), with the term
frequencies and lengths of the stored `search_vector` (title, heading and text alike, no field
bonus), k1 = 1.2, b = 0.75, Lucene's idf, and no per-page cap: the textbook ranking over the
tokens PostgreSQL's parser produces.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.knowledge.passages import Passage
from sitechat.knowledge.service import search_language
from sitechat.models.chatbots import Chatbot

K1, B = 1.2, 0.75

_POSTINGS = text(
    "SELECT c.id, u.lexeme, coalesce(array_length(u.positions, 1), 1) "
    "FROM chunks AS c, unnest(c.search_vector) AS u WHERE c.chatbot_id = :chatbot_id"
)
_CHUNKS = text(
    "SELECT id, source_id, url, title, heading, content FROM chunks WHERE chatbot_id = :chatbot_id"
)
_QUESTION = text(
    "SELECT coalesce(array_agg(DISTINCT lexeme), '{}') FROM unnest("
    "to_tsvector(CAST(:language AS regconfig), :question)) AS u"
)


@dataclass
class Index:
    postings: dict[str, list[tuple[uuid.UUID, int]]]
    lengths: dict[uuid.UUID, int]
    chunks: dict[uuid.UUID, tuple[uuid.UUID, str | None, str, str, str]]

    @property
    def average_length(self) -> float:
        return sum(self.lengths.values()) / max(len(self.lengths), 1)


_indexes: dict[uuid.UUID, Index] = {}


async def index_of(session: AsyncSession, chatbot_id: uuid.UUID) -> Index:
    if chatbot_id not in _indexes:
        postings: dict[str, list[tuple[uuid.UUID, int]]] = defaultdict(list)
        lengths: Counter[uuid.UUID] = Counter()
        for chunk_id, lexeme, frequency in await session.execute(
            _POSTINGS, {"chatbot_id": chatbot_id}
        ):
            postings[lexeme].append((chunk_id, frequency))
            lengths[chunk_id] += frequency
        rows = await session.execute(_CHUNKS, {"chatbot_id": chatbot_id})
        chunks = {row[0]: tuple(row[1:]) for row in rows}
        _indexes[chatbot_id] = Index(dict(postings), dict(lengths), chunks)
    return _indexes[chatbot_id]


async def plain_bm25(
    session: AsyncSession, chatbot: Chatbot, question: str, limit: int
) -> list[Passage]:
    index = await index_of(session, chatbot.id)
    parsed = await session.execute(
        _QUESTION, {"language": search_language(chatbot), "question": question}
    )
    count, average = len(index.lengths), index.average_length
    scores: dict[uuid.UUID, float] = defaultdict(float)
    for lexeme in parsed.scalar_one():
        postings = index.postings.get(lexeme, [])
        idf = math.log(1 + (count - len(postings) + 0.5) / (len(postings) + 0.5))
        for chunk_id, tf in postings:
            norm = K1 * (1 - B + B * index.lengths[chunk_id] / average)
            scores[chunk_id] += idf * tf * (K1 + 1) / (tf + norm)
    passages = []
    for chunk_id, score in sorted(scores.items(), key=lambda item: -item[1])[:limit]:
        source_id, url, title, heading, content = index.chunks[chunk_id]
        passages.append(Passage(chunk_id, source_id, url, title, heading, content, score))
    return passages
