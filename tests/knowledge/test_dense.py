"""Dense retrieval: vectors written by the embedding job, fused with full-text search.

The pgvector parts skip on servers without the extension (a real limit of those servers);
`TestWithoutPgvector` checks that retrieval there stays lexical and works.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from sitechat.config import EmbeddingSettings, Settings
from sitechat.core.state import Components, app_state
from sitechat.knowledge.dense import (
    INLINE_SOURCE_CHUNKS,
    DenseRetrieval,
    DenseSetup,
    passage_text,
    start_dense_retrieval,
)
from sitechat.knowledge.embedders import Embedder, EmbeddingError
from sitechat.knowledge.passages import Passage
from sitechat.knowledge.service import retrieve, retrieve_for_answer
from sitechat.knowledge.tasks import EMBED_TASK, defer_embedding, embed_chunks
from sitechat.models import Chatbot
from sitechat.process import provide_dense_retrieval
from tests.conftest import run_queued_jobs
from tests.fixtures.chat import add_chunk, create_account, create_chatbot
from tests.fixtures.plans import provided
from tests.knowledge.conftest import EmbeddingsServer, embedder_for, fake_vector

CAR_REPAIR = "Our automobile workshop services engines and brakes."
REFUND_POLICY = "Returned items are reimbursed within 14 days."
OPENING_HOURS = "The shop opens at nine on weekdays."


async def _sql(app: FastAPI, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    async with app.state.sessionmaker() as session, session.begin():
        result = await session.execute(text(statement), params)
        return [tuple(row) for row in result.all()] if result.returns_rows else []


async def _embedded(app: FastAPI, chatbot: Chatbot) -> dict[uuid.UUID, str]:
    rows = await _sql(
        app,
        "SELECT chunk_id, model FROM chunk_embeddings WHERE chatbot_id = :id",
        id=chatbot.id,
    )
    return {chunk_id: model for chunk_id, model in rows}


def _dense(app: FastAPI) -> DenseRetrieval | None:
    return app_state(app).component(DenseSetup).dense


async def _retrieve(app: FastAPI, chatbot: Chatbot, question: str) -> list[str]:
    """What the app retrieves, with its dense retrieval (on or off) as a chat message would."""
    async with app.state.sessionmaker() as session:
        passages = await retrieve(session, chatbot, question, dense=_dense(app))
    return [passage.text for passage in passages]


async def _embed(app: FastAPI, chatbot: Chatbot) -> int:
    """Run the `knowledge.embed_chunks` job's function with the app's task context."""
    return await embed_chunks(app_state(app).task_context, chatbot.id)


async def _chatbot_with(app: FastAPI, *texts: str) -> Chatbot:
    chatbot = await create_chatbot(app, await create_account(app))
    for content in texts:
        await add_chunk(app, chatbot, content)
    return chatbot


class _Wrapping:
    """An embedder doing what another does; subclasses add to `embed`."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    @property
    def model_name(self) -> str:
        return self._embedder.model_name

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await self._embedder.embed(texts)

    async def embed_query(self, text: str) -> list[float]:
        return await self._embedder.embed_query(text)

    async def aclose(self) -> None:
        await self._embedder.aclose()


class _WritesAChunkFirst(_Wrapping):
    """An embedder that, when first asked, adds a chunk to the chatbot with the given id."""

    def __init__(self, embedder: Embedder, app: FastAPI, chatbot: Chatbot, chunk_id: uuid.UUID):
        super().__init__(embedder)
        self._app, self._chatbot, self._chunk_id = app, chatbot, chunk_id
        self._written = False

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not self._written:
            self._written = True
            # One transaction: a chunk first written under another id could be read by the
            # walk under that id too, and embedded twice.
            await add_chunk(
                self._app,
                self._chatbot,
                OPENING_HOURS + " On Sundays too.",
                chunk_id=self._chunk_id,
            )
        return await self._embedder.embed(texts)


class _FailsOnceAfterANewJob(_Wrapping):
    """An embedder that fails its first call, after a request asked for the chatbot's
    embedding again (so that job waits in the queue while this one fails)."""

    def __init__(self, dense: DenseRetrieval, chatbot: Chatbot) -> None:
        super().__init__(dense.embedder)
        self._dense, self._chatbot = dense, chatbot
        self.failed = False

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not self.failed:
            self.failed = True
            await defer_embedding(self._dense, self._chatbot.id)
            raise EmbeddingError("server_error", "the model is overloaded")
        return await self._embedder.embed(texts)


class TestEmbeddingJob:
    async def test_a_failed_job_with_another_queued_leaves_the_work_to_it(
        self, app: FastAPI, dense_on: DenseRetrieval
    ) -> None:
        """Retried, the failed job would wait in the queue beside the new one, which the queue
        forbids (one waiting embedding job per chatbot): the worker's retry crashed on it."""
        chatbot = await _chatbot_with(app, CAR_REPAIR, REFUND_POLICY)
        embedder = _FailsOnceAfterANewJob(dense_on, chatbot)
        with provided(app, DenseSetup(DenseRetrieval(embedder, batch_size=2))):
            await defer_embedding(dense_on, chatbot.id)
            await run_queued_jobs(app)

        assert embedder.failed
        assert len(await _embedded(app, chatbot)) == 2  # by the job queued meanwhile
        statuses = await _sql(
            app,
            "SELECT status::text, count(*) FROM procrastinate_jobs WHERE task_name = :task "
            "AND args->>'chatbot_id' = :id GROUP BY status ORDER BY 1",
            task=EMBED_TASK,
            id=str(chatbot.id),
        )
        assert [tuple(row) for row in statuses] == [("succeeded", 2)]

    async def test_embeds_every_chunk_in_batches_once(
        self, app: FastAPI, dense_on: DenseRetrieval, embeddings_server: EmbeddingsServer
    ) -> None:
        chatbot = await _chatbot_with(app, CAR_REPAIR, REFUND_POLICY, OPENING_HOURS)

        assert await _embed(app, chatbot) == 3
        assert await _embed(app, chatbot) == 0  # nothing missing: no second call

        assert set((await _embedded(app, chatbot)).values()) == {"fake-embed-1"}
        assert len(await _embedded(app, chatbot)) == 3
        assert [len(batch) for batch in embeddings_server.batches] == [2, 1]

    async def test_a_chunk_written_behind_the_job_still_gets_its_vector(
        self, app: FastAPI, dense_on: DenseRetrieval, embeddings_server: EmbeddingsServer
    ) -> None:
        # The job walks the chunks in id order; this one appears while it runs, with an id
        # below the ones it has passed (ids from another process's clock, say).
        chatbot = await _chatbot_with(app, CAR_REPAIR, REFUND_POLICY, OPENING_HOURS)
        embedder = _WritesAChunkFirst(dense_on.embedder, app, chatbot, uuid.UUID(int=1))

        with provided(app, DenseSetup(DenseRetrieval(embedder, batch_size=2))):
            assert await _embed(app, chatbot) == 4

        assert uuid.UUID(int=1) in await _embedded(app, chatbot)
        assert len(await _embedded(app, chatbot)) == 4
        # Each chunk asked for once (the two first batches may reach the server in any order).
        assert sorted(len(batch) for batch in embeddings_server.batches) == [1, 1, 2]

    async def test_an_embedder_failure_stops_the_job_and_the_next_run_completes_it(
        self, app: FastAPI, dense_on: DenseRetrieval, embeddings_server: EmbeddingsServer
    ) -> None:
        chatbot = await _chatbot_with(app, CAR_REPAIR, REFUND_POLICY, OPENING_HOURS)
        embeddings_server.fail_with_status = 503

        with pytest.raises(EmbeddingError):
            await _embed(app, chatbot)

        assert await _embedded(app, chatbot) == {}
        embeddings_server.fail_with_status = None
        assert await _embed(app, chatbot) == 3  # the retry (or the backlog run) finishes it
        assert len(await _embedded(app, chatbot)) == 3

    async def test_a_small_source_the_embedder_fails_on_is_left_to_the_job(
        self,
        app: FastAPI,
        client: Any,
        dense_on: DenseRetrieval,
        embeddings_server: EmbeddingsServer,
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        embeddings_server.fail_with_status = 503

        response = await client.post(
            f"/v1/chatbots/{chatbot.id}/sources",
            json={"kind": "text", "title": "Garage", "content": CAR_REPAIR},
            headers=account.headers,
        )

        assert response.status_code == 201, response.text  # the text is stored and searchable
        assert await _embedded(app, chatbot) == {}
        embeddings_server.fail_with_status = None
        await run_queued_jobs(app)
        assert len(await _embedded(app, chatbot)) == 1

    async def test_a_new_model_replaces_the_old_vectors(
        self, app: FastAPI, dense_on: DenseRetrieval, embeddings_server: EmbeddingsServer
    ) -> None:
        chatbot = await _chatbot_with(app, CAR_REPAIR, REFUND_POLICY)
        await _embed(app, chatbot)
        # The operator switches models (restored with the rest by `dense_on`).
        app_state(app).provide(
            DenseSetup(DenseRetrieval(embedder_for(embeddings_server, "fake-embed-2")))
        )

        assert await _embed(app, chatbot) == 2

        assert set((await _embedded(app, chatbot)).values()) == {"fake-embed-2"}
        assert len(await _embedded(app, chatbot)) == 2

    async def test_a_small_source_is_embedded_at_once_a_large_one_by_the_job(
        self, app: FastAPI, client: Any, dense_on: DenseRetrieval
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        response = await client.post(
            f"/v1/chatbots/{chatbot.id}/sources",
            json={"kind": "text", "title": "Garage", "content": CAR_REPAIR},
            headers=account.headers,
        )
        assert response.status_code == 201, response.text
        second = await client.post(
            f"/v1/chatbots/{chatbot.id}/sources",
            json={"kind": "qa", "question": "Do you refund?", "answer": REFUND_POLICY},
            headers=account.headers,
        )
        assert second.status_code == 201, second.text
        assert len(await _embedded(app, chatbot)) == 2  # in their own requests, no job

        sections = INLINE_SOURCE_CHUNKS + 1
        long_text = "\n\n".join(f"# Bay {n}\n\nBay {n} takes vans." for n in range(sections))
        for title in ("Bays", "More bays"):
            response = await client.post(
                f"/v1/chatbots/{chatbot.id}/sources",
                json={"kind": "text", "title": title, "content": long_text},
                headers=account.headers,
            )
            assert response.status_code == 201, response.text  # one job waits already: fine

        queued = await _sql(
            app, "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t", t=EMBED_TASK
        )
        assert queued == [(1,)]
        assert len(await _embedded(app, chatbot)) == 2
        await run_queued_jobs(app)

        assert len(await _embedded(app, chatbot)) == 2 + 2 * sections

    async def test_deleting_a_source_removes_its_vectors(
        self, app: FastAPI, client: Any, dense_on: DenseRetrieval
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        await add_chunk(app, chatbot, REFUND_POLICY)
        response = await client.post(
            f"/v1/chatbots/{chatbot.id}/sources",
            json={"kind": "text", "title": "Garage", "content": CAR_REPAIR},
            headers=account.headers,
        )
        await _embed(app, chatbot)
        assert len(await _embedded(app, chatbot)) == 2

        deleted = await client.delete(
            f"/v1/chatbots/{chatbot.id}/sources/{response.json()['id']}",
            headers=account.headers,
        )

        assert deleted.status_code == 204
        assert len(await _embedded(app, chatbot)) == 1
        assert await _retrieve(app, chatbot, "car mechanic") == [REFUND_POLICY]

    async def test_the_job_does_nothing_when_dense_retrieval_is_off(self, app: FastAPI) -> None:
        chatbot = await _chatbot_with(app, CAR_REPAIR)
        with provided(app, DenseSetup(None)):
            assert await _embed(app, chatbot) == 0


class TestHybridRetrieval:
    async def test_finds_a_passage_sharing_no_word_with_the_question(
        self, app: FastAPI, dense_on: DenseRetrieval
    ) -> None:
        chatbot = await _chatbot_with(app, CAR_REPAIR, REFUND_POLICY, OPENING_HOURS)
        with provided(app, DenseSetup(None)):
            lexical_only = await _retrieve(app, chatbot, "car mechanic")
        await _embed(app, chatbot)

        hybrid = await _retrieve(app, chatbot, "car mechanic")

        assert lexical_only == []
        assert hybrid[0] == CAR_REPAIR

    async def test_passages_found_both_ways_come_first(
        self, app: FastAPI, dense_on: DenseRetrieval
    ) -> None:
        chatbot = await _chatbot_with(
            app,
            "Refund requests: write to the shop and mention the order.",
            REFUND_POLICY,
            OPENING_HOURS,
        )
        await _embed(app, chatbot)

        texts = await _retrieve(app, chatbot, "refund money")

        # Lexically only the first matches ("refund"); densely both refund texts are close.
        assert texts[:2] == [
            "Refund requests: write to the shop and mention the order.",
            REFUND_POLICY,
        ]

    async def test_question_answer_sources_still_match(
        self, app: FastAPI, client: Any, dense_on: DenseRetrieval
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        await add_chunk(app, chatbot, CAR_REPAIR)
        await add_chunk(app, chatbot, OPENING_HOURS)
        response = await client.post(
            f"/v1/chatbots/{chatbot.id}/sources",
            json={"kind": "qa", "question": "Can I get a refund?", "answer": "Yes, always."},
            headers=account.headers,
        )
        assert response.status_code == 201, response.text
        await _embed(app, chatbot)

        async with app.state.sessionmaker() as session:
            passages = await retrieve(session, chatbot, "is a refund possible", dense=dense_on)

        assert passages[0].text == "Yes, always."
        assert passages[0].heading == "Q: Can I get a refund?"

    async def test_never_returns_another_chatbots_chunks(
        self, app: FastAPI, dense_on: DenseRetrieval
    ) -> None:
        mine = await _chatbot_with(app, OPENING_HOURS)
        other_workspace = await _chatbot_with(app, CAR_REPAIR)
        sibling = await create_chatbot(app, await create_account(app))
        await add_chunk(app, sibling, "Automobile garage open late.")
        for chatbot in (mine, other_workspace, sibling):
            await _embed(app, chatbot)

        # Dense search returns the nearest chunks whatever they are: only this chatbot's.
        assert await _retrieve(app, mine, "car mechanic") == [OPENING_HOURS]

    async def test_an_embedder_failure_falls_back_to_lexical(
        self, app: FastAPI, dense_on: DenseRetrieval, embeddings_server: EmbeddingsServer
    ) -> None:
        chatbot = await _chatbot_with(app, CAR_REPAIR, "Car parts are sold online.")
        await _embed(app, chatbot)
        embeddings_server.fail_with_status = 503

        texts = await _retrieve(app, chatbot, "car mechanic")

        assert texts == ["Car parts are sold online."]

    async def test_a_slow_embedder_falls_back_to_lexical(
        self, app: FastAPI, dense_on: DenseRetrieval
    ) -> None:
        chatbot = await _chatbot_with(app, CAR_REPAIR, "Car parts are sold online.")
        await _embed(app, chatbot)
        slow = DenseRetrieval(_StalledEmbedder(dense_on), question_timeout_seconds=0.05)
        app_state(app).provide(DenseSetup(slow))  # restored by `dense_on`

        assert await _retrieve(app, chatbot, "car mechanic") == ["Car parts are sold online."]


class TestCloseness:
    async def test_is_the_similarity_above_the_questions_shrunk_mean_similarity_to_the_chatbot(
        self, app: FastAPI, dense_on: DenseRetrieval
    ) -> None:
        """The mean similarity to three chunks, as if 50 unrelated ones were added (ADR 0025)."""
        chatbot = await _chatbot_with(app, CAR_REPAIR, REFUND_POLICY, OPENING_HOURS)
        await _embed(app, chatbot)
        stored = await _sql(
            app,
            "SELECT CAST(embedding AS real[]) FROM chunk_embeddings WHERE chatbot_id = :id",
            id=chatbot.id,
        )
        mean = [
            sum(column) / len(stored) for column in zip(*(row[0] for row in stored), strict=True)
        ]
        question = fake_vector("car mechanic", "fake-embed-1")

        (nearest, *_) = await _retrieve_for_answer(app, chatbot, "car mechanic")

        baseline = sum(a * b for a, b in zip(mean, question, strict=True)) * 3 / (3 + 50)
        assert nearest.text == CAR_REPAIR
        assert nearest.closeness == pytest.approx(
            nearest.ranking_scores["semantic"] - baseline, abs=1e-5
        )

    async def test_is_unknown_until_the_embedding_job_records_the_mean(
        self, app: FastAPI, dense_on: DenseRetrieval
    ) -> None:
        chatbot = await _chatbot_with(app, CAR_REPAIR, REFUND_POLICY)
        await _embed(app, chatbot)
        await _sql(
            app, "UPDATE chatbots SET embedding_centroid = NULL WHERE id = :id", id=chatbot.id
        )

        passages = await _retrieve_for_answer(app, chatbot, "car mechanic")

        assert "semantic" in passages[0].rankings
        assert [passage.closeness for passage in passages] == [None] * len(passages)

    async def test_the_mean_follows_new_chunks(
        self, app: FastAPI, dense_on: DenseRetrieval
    ) -> None:
        chatbot = await _chatbot_with(app, CAR_REPAIR)
        await _embed(app, chatbot)
        (before,) = await _sql(
            app, "SELECT embedding_centroid FROM chatbots WHERE id = :id", id=chatbot.id
        )
        await add_chunk(app, chatbot, REFUND_POLICY)
        await _embed(app, chatbot)
        (after,) = await _sql(
            app, "SELECT embedding_centroid FROM chatbots WHERE id = :id", id=chatbot.id
        )

        car, refund = (
            fake_vector(passage_text("Docs", "", text), "fake-embed-1")
            for text in (CAR_REPAIR, REFUND_POLICY)
        )
        assert before[0] == pytest.approx(car, abs=1e-5)
        assert after[0] == pytest.approx(
            [(a + b) / 2 for a, b in zip(car, refund, strict=True)], abs=1e-5
        )


async def _retrieve_for_answer(app: FastAPI, chatbot: Chatbot, question: str) -> list[Passage]:
    async with app.state.sessionmaker() as session:
        retrieved = await retrieve_for_answer(session, chatbot, question, dense=_dense(app))
    return retrieved.passages


class _StalledEmbedder:
    """The configured model's name, but a question never gets its vector."""

    def __init__(self, dense: DenseRetrieval) -> None:
        self.model_name = dense.embedder.model_name

    async def embed(self, texts: list[str]) -> list[list[float]]:
        await asyncio.sleep(5)
        return []

    async def embed_query(self, text: str) -> list[float]:
        await asyncio.sleep(5)
        return []

    async def aclose(self) -> None:
        return None


class TestStart:
    async def test_provider_none_keeps_retrieval_lexical(
        self, app: FastAPI, settings: Settings
    ) -> None:
        none = EmbeddingSettings(provider="none")
        assert await start_dense_retrieval(app.state.engine, none) is None
        components = Components()
        async with provide_dense_retrieval(
            components, app.state.engine, settings.model_copy(update={"embedding": none})
        ):
            assert components.get(DenseSetup) == DenseSetup(None)

    async def test_an_embedder_turns_dense_on_only_with_pgvector(
        self,
        app: FastAPI,
        settings: Settings,
        has_pgvector: bool,
        embeddings_server: EmbeddingsServer,
    ) -> None:
        embedding = EmbeddingSettings(provider="openai", base_url=embeddings_server.base_url)
        components = Components()
        async with provide_dense_retrieval(
            components, app.state.engine, settings.model_copy(update={"embedding": embedding})
        ):
            dense = components.get(DenseSetup).dense
            assert (dense is not None) == has_pgvector
        if dense is not None:
            assert dense.embedder._client.is_closed()  # stopped when the block (process) ends


class TestWithoutPgvector:
    async def test_retrieval_is_lexical_and_works(
        self,
        app: FastAPI,
        settings: Settings,
        has_pgvector: bool,
        embeddings_server: EmbeddingsServer,
    ) -> None:
        if has_pgvector:
            pytest.skip("the server has pgvector; this checks the servers without it")
        embedding = EmbeddingSettings(provider="openai", base_url=embeddings_server.base_url)
        components = Components()
        async with provide_dense_retrieval(
            components, app.state.engine, settings.model_copy(update={"embedding": embedding})
        ):
            setup = components.get(DenseSetup)
            assert setup.dense is None
            with provided(app, setup):
                chatbot = await _chatbot_with(app, CAR_REPAIR, "Car parts are sold online.")

                assert await _retrieve(app, chatbot, "car mechanic") == [
                    "Car parts are sold online."
                ]
        assert embeddings_server.batches == []  # no vectors asked for
