"""Dense retrieval: on when the database has `chunk_embeddings` (pgvector) AND an embedder is
configured; otherwise every function here is a no-op and retrieval is lexical.

The process's dense setup is chosen once at start (`start_dense_retrieval`, called by the API
lifespan and by `sitechat worker`) and provided as the `DenseSetup` component of the process
state (`core/state.py`); retrieval, the page writer and the embedding jobs are handed it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sitechat.config import EmbeddingSettings
from sitechat.core.clock import utcnow
from sitechat.knowledge import vectors
from sitechat.knowledge.embedders import Embedder, EmbeddingError, build_embedder
from sitechat.models.chatbots import Chatbot

log = structlog.get_logger()

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass(frozen=True)
class DenseRetrieval:
    embedder: Embedder
    batch_size: int = 64
    question_timeout_seconds: float = 3.0


@dataclass(frozen=True)
class DenseSetup:
    """The process's choice, made once at start: dense retrieval (`dense`), or None when
    retrieval is lexical only."""

    dense: DenseRetrieval | None


async def start_dense_retrieval(
    engine: AsyncEngine, settings: EmbeddingSettings
) -> DenseRetrieval | None:
    """Build the configured embedder and turn dense retrieval on if the database can store
    vectors. Raises `EmbedderUnavailable` when the configured embedder cannot run here."""
    if settings.provider == "none":
        return None
    async with engine.connect() as connection:
        available = await vectors.table_exists(connection)
    if not available:
        log.warning(
            "knowledge.dense_unavailable",
            reason="no chunk_embeddings table: the database has no pgvector",
            provider=settings.provider,
        )
        return None
    # Loading the local model takes a few seconds of CPU: not on the event loop.
    embedder = await asyncio.to_thread(build_embedder, settings)
    if embedder is None:
        return None
    dense = DenseRetrieval(
        embedder=embedder,
        batch_size=settings.batch_size,
        question_timeout_seconds=settings.question_timeout_seconds,
    )
    log.info("knowledge.dense_enabled", model=embedder.model_name)
    return dense


async def stop_dense_retrieval(dense: DenseRetrieval | None) -> None:
    if dense is not None:
        await dense.embedder.aclose()


# A text or Q&A source of at most this many chunks gets its vectors in the request that writes
# it: it answers at once, and the embedding job, which walks a chatbot's chunks in order, may
# be minutes into a crawl's (docs/decisions/0009).
INLINE_SOURCE_CHUNKS = 8
# Below this many vectors the request records the chatbot's mean vector too (one short pass;
# a new chatbot needs it for the answer rule's baseline); above, one text barely moves it.
INLINE_MEAN_MAX_VECTORS = 1_000


async def embed_source_now(
    session: AsyncSession, dense: DenseRetrieval, chatbot: Chatbot, source_id: uuid.UUID
) -> bool:
    """Embed a small source's chunks in the caller's transaction, at the question's priority
    (`embed_question`, all at once), and record the chatbot's progress; False (the job will)
    for a larger source or when the embedder fails."""
    chunks = await vectors.chunks_of_source(session, source_id, INLINE_SOURCE_CHUNKS + 1)
    if not chunks or len(chunks) > INLINE_SOURCE_CHUNKS:
        return False
    texts = [passage_text(chunk.title, chunk.heading, chunk.content) for chunk in chunks]
    embedded = await asyncio.gather(*(embed_question(dense, text) for text in texts))
    pairs = [
        (chunk.chunk_id, vector)
        for chunk, vector in zip(chunks, embedded, strict=True)
        if vector is not None
    ]
    if len(pairs) < len(chunks):
        return False  # the embedder failed (logged): the job will try again
    model = dense.embedder.model_name
    mean = chatbot.embedding_model != model or chatbot.embedded_chunks < INLINE_MEAN_MAX_VECTORS
    await _store_vectors(session, model, chatbot.id, pairs, centroid=mean)
    return True


def passage_text(title: str, heading: str, content: str) -> str:
    """What a chunk's vector is computed from: its text with the context a reader sees."""
    context = [part for part in (title.strip(), heading.strip()) if part]
    if len(context) == 2 and context[1].endswith(context[0]):
        context = context[1:]  # a Q&A chunk's heading repeats its title
    return "\n".join([*context, content])


async def embed_question(dense: DenseRetrieval, question: str) -> list[float] | None:
    """The question's vector, or None (logged) when the embedder fails or is too slow: a
    question is then answered from lexical retrieval alone."""
    try:
        async with asyncio.timeout(dense.question_timeout_seconds):
            vector = await dense.embedder.embed_query(question)
    except (EmbeddingError, TimeoutError, ValueError) as error:
        reason = error.reason if isinstance(error, EmbeddingError) else type(error).__name__
        log.warning("knowledge.dense_skipped", reason=reason, model=dense.embedder.model_name)
        return None
    return vector


async def dense_ranking(
    session: AsyncSession,
    dense: DenseRetrieval,
    chatbot_id: uuid.UUID,
    question_vector: list[float],
    limit: int,
) -> vectors.Nearest:
    """The chatbot's nearest chunks and the question's baseline; none (logged) if the query
    fails, e.g. on vectors of another size under the same model name. A savepoint keeps the
    caller's transaction usable."""
    try:
        async with session.begin_nested():
            return await vectors.nearest_chunks(
                session, chatbot_id, dense.embedder.model_name, question_vector, limit
            )
    except DBAPIError as error:
        log.warning(
            "knowledge.dense_query_failed",
            reason=type(error.orig).__name__,
            model=dense.embedder.model_name,
        )
        return vectors.Nearest([])


@dataclass(frozen=True)
class IndexingProgress:
    chunks: int
    embedded: int
    state: Literal["lexical_only", "embedding", "complete"]


def indexing_progress(
    dense: DenseRetrieval | None, chunks: int, embedded: int, model: str | None
) -> IndexingProgress:
    """A chatbot's progress from its live chunk count and what the embedding job last counted
    (`embedded` vectors of `model`)."""
    if dense is None:
        return IndexingProgress(chunks, 0, "lexical_only")
    current = min(embedded, chunks) if model == dense.embedder.model_name else 0
    return IndexingProgress(chunks, current, "complete" if current >= chunks else "embedding")


async def embed_missing_chunks(
    open_session: SessionFactory, dense: DenseRetrieval, chatbot_id: uuid.UUID
) -> int:
    """Embed, batch by batch, every chunk of the chatbot without a vector of the current model.

    No transaction is held while the embedder works: each batch is read in one short
    transaction and stored in another. The next batch is read and handed to the embedder before
    the previous one is stored, so the embedder never waits for the database. Batches walk the
    chunks in id order; at the end, once every batch is stored, the walk starts again from the
    first chunk (for chunks written behind it meanwhile), and the job ends when that finds none.
    The vectors' mean (the answer rule's baseline, docs/decisions/0023) is written with the
    first batch, so a new chatbot has one at once, and when the job ends; between, only the
    count. Returns how many vectors were stored.
    """
    model = dense.embedder.model_name
    stored = 0
    after = vectors.FIRST_CHUNK
    computing: _Computing | None = None
    try:
        while True:
            async with open_session() as session:
                batch = await vectors.chunks_missing_embedding(
                    session, chatbot_id, model, dense.batch_size, after
                )
            if not batch and computing is None:
                async with open_session() as session:
                    await vectors.record_progress(session, chatbot_id, model, centroid=True)
                return stored
            previous, computing = computing, _start_embedding(dense.embedder, batch)
            if previous is not None:
                first = stored == 0
                stored += await _store(open_session, model, chatbot_id, previous, centroid=first)
            after = batch[-1].chunk_id if batch else vectors.FIRST_CHUNK
    finally:
        if computing is not None:
            _abandon(computing.embeddings)


@dataclass(frozen=True)
class _Computing:
    """A batch of chunks whose vectors the embedder is computing."""

    chunks: list[vectors.ChunkToEmbed]
    embeddings: asyncio.Task[list[list[float]]]


def _start_embedding(embedder: Embedder, chunks: list[vectors.ChunkToEmbed]) -> _Computing | None:
    if not chunks:
        return None
    texts = [passage_text(chunk.title, chunk.heading, chunk.content) for chunk in chunks]
    return _Computing(chunks, asyncio.create_task(embedder.embed(texts)))


def _abandon(task: asyncio.Task[list[list[float]]]) -> None:
    """Drop vectors no longer wanted (the job failed): stop their computation, or read its
    error so that asyncio does not report it as never retrieved."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


async def _store(
    open_session: SessionFactory,
    model: str,
    chatbot_id: uuid.UUID,
    computed: _Computing,
    centroid: bool,
) -> int:
    embeddings = await computed.embeddings
    async with open_session() as session:
        pairs = [
            (chunk.chunk_id, vector)
            for chunk, vector in zip(computed.chunks, embeddings, strict=True)
        ]
        await _store_vectors(session, model, chatbot_id, pairs, centroid)
    return len(computed.chunks)


async def _store_vectors(
    session: AsyncSession,
    model: str,
    chatbot_id: uuid.UUID,
    pairs: Sequence[tuple[uuid.UUID, Sequence[float]]],
    centroid: bool,
) -> None:
    """Store the chunks' vectors and count them onto the chatbot (with their mean when
    `centroid`)."""
    await vectors.store_embeddings(session, model, pairs, utcnow())
    await vectors.record_progress(session, chatbot_id, model, centroid=centroid)


async def keep_vectors_of_unchanged_chunks(
    session: AsyncSession,
    dense: DenseRetrieval | None,
    page_id: uuid.UUID,
    new_chunk_ids: list[uuid.UUID],
) -> int:
    """Give the page's new chunks the current model's vectors of its old chunks with the same
    title, heading and text (before the old ones are deleted). Returns how many were kept."""
    if dense is None or not new_chunk_ids:
        return 0
    return await vectors.copy_vectors_to_identical_chunks(
        session, page_id, new_chunk_ids, dense.embedder.model_name
    )
