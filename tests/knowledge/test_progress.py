"""`GET /v1/chatbots/{id}` says how far indexing has come: chunks, vectors, state."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from sitechat.knowledge.dense import INLINE_SOURCE_CHUNKS, DenseRetrieval
from tests.conftest import run_queued_jobs
from tests.fixtures.chat import ChatAccount, create_account, create_chatbot

TEXTS = (
    "Refunds are issued within 14 days of purchase.",
    "The shop opens at nine on weekdays.",
    "Shipping to Europe costs five euros.",
)
# A text of more sections than a request embeds (`INLINE_SOURCE_CHUNKS`): one chunk each.
LONG_TEXT_CHUNKS = INLINE_SOURCE_CHUNKS + 2
LONG_TEXT = "\n\n".join(
    f"# Branch {n}\n\nOur branch number {n} opens at nine." for n in range(LONG_TEXT_CHUNKS)
)


async def _add_text(client: Any, account: ChatAccount, chatbot_id: object, content: str) -> None:
    response = await client.post(
        f"/v1/chatbots/{chatbot_id}/sources",
        json={"kind": "text", "title": "Policy", "content": content},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text


async def _indexing(client: Any, account: ChatAccount, chatbot_id: object) -> dict[str, Any]:
    response = await client.get(f"/v1/chatbots/{chatbot_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    indexing: dict[str, Any] = response.json()["indexing"]
    return indexing


class TestIndexingProgress:
    async def test_without_semantic_search_the_bot_is_lexical_only(
        self, app: FastAPI, client: Any
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        await _add_text(client, account, chatbot.id, TEXTS[0])

        assert await _indexing(client, account, chatbot.id) == {
            "chunks": 1,
            "embedded": 0,
            "state": "lexical_only",
        }

    async def test_counts_vectors_as_the_embedding_job_stores_them(
        self, app: FastAPI, client: Any, dense_on: DenseRetrieval
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        assert await _indexing(client, account, chatbot.id) == {
            "chunks": 0,
            "embedded": 0,
            "state": "complete",
        }
        for content in TEXTS[:2]:
            await _add_text(client, account, chatbot.id, content)

        # A short text gets its vector in its own request.
        assert await _indexing(client, account, chatbot.id) == {
            "chunks": 2,
            "embedded": 2,
            "state": "complete",
        }

        await _add_text(client, account, chatbot.id, LONG_TEXT)
        assert await _indexing(client, account, chatbot.id) == {
            "chunks": 2 + LONG_TEXT_CHUNKS,
            "embedded": 2,
            "state": "embedding",  # answers are lexical for its chunks until the job runs
        }
        await run_queued_jobs(app)
        assert await _indexing(client, account, chatbot.id) == {
            "chunks": 2 + LONG_TEXT_CHUNKS,
            "embedded": 2 + LONG_TEXT_CHUNKS,
            "state": "complete",
        }

    async def test_a_list_of_chatbots_does_not_count(self, app: FastAPI, client: Any) -> None:
        account = await create_account(app)
        await create_chatbot(app, account)

        response = await client.get("/v1/chatbots", headers=account.headers)

        assert response.status_code == 200
        assert [item["indexing"] for item in response.json()["items"]] == [None]
