"""All SQL of dense retrieval: `chunk_embeddings`, on servers that have pgvector.

The table is created by its migration only where the `vector` extension exists, so it is not
in the models' metadata; every statement here is plain SQL. One row per chunk: the vector of
the current embedding model (another model's row is replaced, never kept beside it).
Search is exact (no ANN index): rows are filtered by chatbot and model through
`ix_chunk_embeddings_chatbot_model`, then ordered by cosine distance (docs/decisions/0005).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from sitechat.knowledge.repository import ChunkHit

_TABLE_EXISTS_SQL = text("SELECT to_regclass('chunk_embeddings') IS NOT NULL")

# From `:after` on (keyset): a job walking the chatbot's chunks in id order does not look again
# at the ones it has passed.
_MISSING_SQL = text(
    """
    SELECT c.id, c.title, c.heading, c.content
    FROM chunks AS c
    LEFT JOIN chunk_embeddings AS e ON e.chunk_id = c.id AND e.model = :model
    WHERE c.chatbot_id = :chatbot_id AND c.id > :after AND e.chunk_id IS NULL
    ORDER BY c.id
    LIMIT :limit
    """
)

# Below every chunk id: where a walk over a chatbot's chunks starts.
FIRST_CHUNK = uuid.UUID(int=0)

# Joined with `chunks`, so a chunk deleted while its vector was computed is simply skipped.
# The vectors come as one flat `real[]` (sent in binary; row n is its n-th slice of `:dimensions`
# values), not as text: formatting and parsing 384 floats a row cost more than the insert.
_STORE_SQL = text(
    """
    INSERT INTO chunk_embeddings (chunk_id, chatbot_id, model, embedding, created_at)
    SELECT c.id, c.chatbot_id, :model,
           CAST((CAST(:embeddings AS real[]))[(v.n - 1) * :dimensions + 1 : v.n * :dimensions]
                AS vector),
           :now
    FROM unnest(CAST(:chunk_ids AS uuid[])) WITH ORDINALITY AS v(chunk_id, n)
    JOIN chunks AS c ON c.id = v.chunk_id
    ON CONFLICT (chunk_id) DO UPDATE
    SET model = EXCLUDED.model, embedding = EXCLUDED.embedding, created_at = EXCLUDED.created_at
    """
)

# Beside each row, what the question's baseline is made of (docs/decisions/0023, 0025): its dot
# product with the chatbot's mean vector, which is its mean cosine similarity to the chatbot's
# (unit) vectors, NULL while no mean of this model and size is recorded; and how many vectors
# the chatbot has. One statement, one round trip.
_SEARCH_SQL = text(
    """
    SELECT c.id, c.source_id, c.url, c.title, c.heading, c.content, 1 - nearest.distance,
           c.page_id,
           c.anchor,
           (
               SELECT -(CAST(b.embedding_centroid AS vector) <#> CAST(:embedding AS vector))
               FROM chatbots AS b
               WHERE b.id = :chatbot_id AND b.embedding_model = :model
                 AND cardinality(b.embedding_centroid) = vector_dims(CAST(:embedding AS vector))
           ),
           (SELECT b.embedded_chunks FROM chatbots AS b WHERE b.id = :chatbot_id)
    FROM (
        SELECT e.chunk_id, e.embedding <=> CAST(:embedding AS vector) AS distance
        FROM chunk_embeddings AS e
        WHERE e.chatbot_id = :chatbot_id AND e.model = :model
        ORDER BY distance
        LIMIT :limit
    ) AS nearest
    JOIN chunks AS c ON c.id = nearest.chunk_id AND c.chatbot_id = :chatbot_id
    ORDER BY nearest.distance, c.id
    """
)

# A re-chunked page: each new chunk takes the vector of an old chunk of the same page with the
# same passage text (`dense.passage_text` reads exactly these three columns).
_COPY_TO_IDENTICAL_SQL = text(
    """
    INSERT INTO chunk_embeddings (chunk_id, chatbot_id, model, embedding, created_at)
    SELECT DISTINCT ON (n.id) n.id, n.chatbot_id, e.model, e.embedding, e.created_at
    FROM chunks AS n
    JOIN chunks AS o
      ON o.page_id = n.page_id AND o.id <> ALL(CAST(:new_ids AS uuid[]))
     AND o.title = n.title AND o.heading = n.heading AND o.content = n.content
    JOIN chunk_embeddings AS e ON e.chunk_id = o.id AND e.model = :model
    WHERE n.page_id = :page_id AND n.id = ANY(CAST(:new_ids AS uuid[]))
    ORDER BY n.id
    ON CONFLICT (chunk_id) DO NOTHING
    """
)

# What `GET /v1/chatbots/{id}` shows as `indexing.embedded` (docs/decisions/0009).
_RECORD_PROGRESS_SQL = text(
    """
    UPDATE chatbots
    SET embedded_chunks = (
            SELECT count(*) FROM chunk_embeddings AS e
            WHERE e.chatbot_id = :chatbot_id AND e.model = :model
        ),
        embedding_model = :model
    WHERE id = :chatbot_id
    """
)

# The same, with the mean of the vectors (docs/decisions/0023): a second pass over them.
_RECORD_PROGRESS_AND_CENTROID_SQL = text(
    """
    UPDATE chatbots
    SET (embedded_chunks, embedding_centroid) = (
            SELECT count(*), CAST(avg(e.embedding) AS real[]) FROM chunk_embeddings AS e
            WHERE e.chatbot_id = :chatbot_id AND e.model = :model
        ),
        embedding_model = :model
    WHERE id = :chatbot_id
    """
)

_BACKLOG_SQL = text(
    """
    SELECT DISTINCT c.chatbot_id
    FROM chunks AS c
    LEFT JOIN chunk_embeddings AS e ON e.chunk_id = c.id AND e.model = :model
    WHERE e.chunk_id IS NULL
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class ChunkToEmbed:
    chunk_id: uuid.UUID
    title: str
    heading: str
    content: str


def vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form; `repr` keeps every float exactly."""
    return "[" + ",".join(repr(float(value)) for value in vector) + "]"


async def table_exists(connection: AsyncConnection | AsyncSession) -> bool:
    return bool(await connection.scalar(_TABLE_EXISTS_SQL))


_SOURCE_CHUNKS_SQL = text(
    """
    SELECT c.id, c.title, c.heading, c.content
    FROM chunks AS c
    WHERE c.source_id = :source_id
    ORDER BY c.id
    LIMIT :limit
    """
)


async def chunks_of_source(
    session: AsyncSession, source_id: uuid.UUID, limit: int
) -> list[ChunkToEmbed]:
    """The source's first `limit` chunks, in id order."""
    result = await session.execute(_SOURCE_CHUNKS_SQL, {"source_id": source_id, "limit": limit})
    return [ChunkToEmbed(*row) for row in result.all()]


async def chunks_missing_embedding(
    session: AsyncSession,
    chatbot_id: uuid.UUID,
    model: str,
    limit: int,
    after: uuid.UUID = FIRST_CHUNK,
) -> list[ChunkToEmbed]:
    """The chatbot's chunks without a vector of `model` (none yet, or another model's), in id
    order from the first id above `after`."""
    result = await session.execute(
        _MISSING_SQL, {"chatbot_id": chatbot_id, "model": model, "limit": limit, "after": after}
    )
    return [ChunkToEmbed(*row) for row in result.all()]


async def store_embeddings(
    session: AsyncSession,
    model: str,
    vectors: Sequence[tuple[uuid.UUID, Sequence[float]]],
    now: datetime,
) -> None:
    if not vectors:
        return
    dimensions = len(vectors[0][1])
    if any(len(vector) != dimensions for _, vector in vectors):
        raise ValueError("vectors of different sizes in one batch")
    await session.execute(
        _STORE_SQL,
        {
            "model": model,
            "now": now,
            "chunk_ids": [chunk_id for chunk_id, _ in vectors],
            "embeddings": list(itertools.chain.from_iterable(vector for _, vector in vectors)),
            "dimensions": dimensions,
        },
    )


# A few chunks are no background to stand out from: their mean is mostly the chunks a question
# is about (one chunk's mean is that chunk, and every question's closeness would be 0, so a
# chatbot of one text source refused its own question). The baseline is the mean similarity
# shrunk toward 0, the similarity of unrelated text, as if this many unrelated chunks were
# added: n / (n + BACKGROUND_PRIOR_CHUNKS) of it. At 10,000 chunks that is 0.995 of the mean,
# at 10 chunks 0.17 (docs/decisions/0025).
BACKGROUND_PRIOR_CHUNKS = 50


def baseline(mean_similarity: float, vectors: int) -> float:
    """The question's similarity to the chatbot's background (`BACKGROUND_PRIOR_CHUNKS`)."""
    return mean_similarity * max(vectors, 0) / (max(vectors, 0) + BACKGROUND_PRIOR_CHUNKS)


@dataclass(frozen=True)
class Nearest:
    """The chunks nearest a question, and the question's similarity to the chatbot's
    background (`baseline`; None before the chatbot's mean vector is recorded)."""

    hits: list[ChunkHit]
    baseline: float | None = None
    # The chatbot's vectors, as the embedding job last counted them.
    vectors: int = 0


async def nearest_chunks(
    session: AsyncSession,
    chatbot_id: uuid.UUID,
    model: str,
    embedding: Sequence[float],
    limit: int,
) -> Nearest:
    """The chatbot's chunks closest to `embedding` (cosine), score = cosine similarity."""
    result = await session.execute(
        _SEARCH_SQL,
        {
            "chatbot_id": chatbot_id,
            "model": model,
            "embedding": vector_literal(embedding),
            "limit": limit,
        },
    )
    rows = result.all()
    hits = [ChunkHit(*row[:-2]) for row in rows]
    mean_similarity, vectors = rows[0][-2:] if rows else (None, 0)
    if mean_similarity is None:
        return Nearest(hits, vectors=vectors or 0)
    return Nearest(hits, baseline(float(mean_similarity), vectors or 0), vectors or 0)


async def chatbots_with_backlog(session: AsyncSession, model: str, limit: int) -> list[uuid.UUID]:
    """Chatbots having chunks without a vector of `model` (new embedder, failed jobs)."""
    result = await session.execute(_BACKLOG_SQL, {"model": model, "limit": limit})
    return list(result.scalars().all())


async def copy_vectors_to_identical_chunks(
    session: AsyncSession, page_id: uuid.UUID, new_chunk_ids: Sequence[uuid.UUID], model: str
) -> int:
    result = await session.execute(
        _COPY_TO_IDENTICAL_SQL,
        {"page_id": page_id, "new_ids": list(new_chunk_ids), "model": model},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def record_progress(
    session: AsyncSession, chatbot_id: uuid.UUID, model: str, centroid: bool = False
) -> None:
    """Count the chatbot's vectors of `model` onto its row (its indexing progress), and with
    `centroid` their mean too."""
    statement = _RECORD_PROGRESS_AND_CENTROID_SQL if centroid else _RECORD_PROGRESS_SQL
    await session.execute(statement, {"chatbot_id": chatbot_id, "model": model})
