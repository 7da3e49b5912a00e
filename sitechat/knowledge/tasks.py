"""Embedding jobs: chunks get their vectors after they are written, never inside a request.

`knowledge.embed_chunks` embeds one chatbot's chunks that have no vector of the current model;
it is asked for after a crawl and after a text / Q&A source is added. `knowledge.embed_backlog`
(periodic) catches the rest: chunks written before an embedder was configured, chunks of a
previous model, jobs that failed.
"""

from __future__ import annotations

import uuid

import structlog
from procrastinate import JobContext, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued

from sitechat.core.state import TaskContext, task_context
from sitechat.knowledge import vectors
from sitechat.knowledge.dense import DenseRetrieval, DenseSetup, embed_missing_chunks
from sitechat.worker.buffer import JobBuffer, job_waiting
from sitechat.worker.queue import queue

log = structlog.get_logger()

EMBED_TASK = "knowledge.embed_chunks"
# Chatbots handed to `knowledge.embed_chunks` per backlog run; the next run takes the rest.
BACKLOG_CHATBOTS_PER_RUN = 500


def embedding_lock_of(chatbot_id: uuid.UUID | str) -> str:
    return f"{EMBED_TASK}:{chatbot_id}"


@queue.task(
    name=EMBED_TASK,
    pass_context=True,
    # Provider hiccups (rate limits, timeouts) deserve a few tries; the backlog run is the net.
    retry=RetryStrategy(max_attempts=3, exponential_wait=10),
)
async def embed_chunks_task(job: JobContext, chatbot_id: str) -> int:
    context = task_context(job)
    try:
        return await embed_chunks(context, uuid.UUID(chatbot_id))
    except Exception as error:
        # A job asked for since this one started waits in the queue and will embed what this
        # one did not. Retried, this one would wait beside it, which the queueing lock forbids:
        # procrastinate's retry then fails inside its worker.
        async with context.session() as session:
            if await job_waiting(session, embedding_lock_of(chatbot_id)):
                log.warning(
                    "knowledge.embed_failed_next_job_waits",
                    chatbot_id=chatbot_id,
                    error=type(error).__name__,
                )
                return 0
        raise


async def embed_chunks(context: TaskContext, chatbot_id: uuid.UUID) -> int:
    """Embed the chatbot's chunks lacking a vector of the current model. Idempotent."""
    dense = context.component(DenseSetup).dense
    if dense is None:
        log.info(
            "knowledge.embed_skipped", chatbot_id=str(chatbot_id), reason="dense retrieval off"
        )
        return 0
    stored = await embed_missing_chunks(context.session, dense, chatbot_id)
    log.info(
        "knowledge.chunks_embedded",
        chatbot_id=str(chatbot_id),
        chunks=stored,
        model=dense.embedder.model_name,
    )
    return stored


@queue.periodic(cron="*/10 * * * *", periodic_id="knowledge-embed-backlog")
@queue.task(
    name="knowledge.embed_backlog", queueing_lock="knowledge.embed_backlog", pass_context=True
)
async def embed_backlog_task(job: JobContext, timestamp: int) -> int:
    """Ask for `knowledge.embed_chunks` for every chatbot with chunks lacking current vectors."""
    context = task_context(job)
    dense = context.component(DenseSetup).dense
    if dense is None:
        return 0
    async with context.session() as session:
        chatbot_ids = await vectors.chatbots_with_backlog(
            session, dense.embedder.model_name, BACKLOG_CHATBOTS_PER_RUN
        )
    for chatbot_id in chatbot_ids:
        await defer_embedding(dense, chatbot_id)
    return len(chatbot_ids)


def request_embedding(jobs: JobBuffer, dense: DenseRetrieval | None, chatbot_id: uuid.UUID) -> None:
    """In a request: embed the chatbot's new chunks once the request has committed."""
    if dense is None:
        return
    jobs.defer(
        EMBED_TASK,
        chatbot_id=str(chatbot_id),
        # One waiting job per chatbot is enough: it embeds whatever is missing when it runs.
        queueing_lock=embedding_lock_of(chatbot_id),
        lock=embedding_lock_of(chatbot_id),
    )


async def defer_embedding(dense: DenseRetrieval | None, chatbot_id: uuid.UUID) -> None:
    """Outside a request (in a job, after its commit): embed the chatbot's new chunks."""
    if dense is None:
        return
    try:
        await queue.configure_task(
            EMBED_TASK,
            queueing_lock=embedding_lock_of(chatbot_id),
            lock=embedding_lock_of(chatbot_id),
        ).defer_async(chatbot_id=str(chatbot_id))
    except AlreadyEnqueued:
        log.info("knowledge.embed_already_queued", chatbot_id=str(chatbot_id))
