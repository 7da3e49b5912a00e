"""Retrieval testing over HTTP: `POST /v1/chatbots/{id}/search`."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from sitechat.core.state import app_state
from sitechat.knowledge.dense import DenseRetrieval
from sitechat.knowledge.tasks import embed_chunks
from sitechat.models import Chatbot
from tests.fixtures.accounts import Account, assert_problem, register
from tests.fixtures.chat import add_chunk


async def _chatbot(app: FastAPI, client: httpx.AsyncClient, account: Account) -> Chatbot:
    response = await client.post("/v1/chatbots", json={"name": "Shop"}, headers=account.headers)
    assert response.status_code == 201, response.text
    async with app.state.sessionmaker() as session:
        chatbot = await session.scalar(
            select(Chatbot).where(Chatbot.id == uuid.UUID(response.json()["id"]))
        )
    assert chatbot is not None
    return chatbot


async def _search(
    client: httpx.AsyncClient, account: Account, chatbot_id: object, body: object
) -> httpx.Response:
    return await client.post(
        f"/v1/chatbots/{chatbot_id}/search", json=body, headers=account.headers
    )


class TestSearch:
    async def test_returns_ranked_passages_with_their_rankings(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot = await _chatbot(app, client, account)
        refunds = "Refunds are issued within 14 days of purchase."
        await add_chunk(app, chatbot, refunds, title="Refunds", heading="Refunds > Timing",
                        url="https://shop.example/refunds")  # fmt: skip
        await add_chunk(app, chatbot, "Refunds need the order number.", title="Orders")
        await add_chunk(app, chatbot, "We open at nine.", title="Hours")

        response = await _search(client, account, chatbot.id, {"query": "refund days", "limit": 5})

        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [item["content"] for item in items] == [refunds, "Refunds need the order number."]
        first = items[0]
        assert first["url"] == "https://shop.example/refunds"
        assert (first["title"], first["heading"], first["snippet"]) == (
            "Refunds",
            "Refunds > Timing",
            refunds,
        )
        assert first["rankings"] == {"lexical": 1}
        assert first["score"] > items[1]["score"] > 0
        assert response.json()["searched_as"] == "refund days"

    async def test_says_how_a_misspelt_query_was_read(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot = await _chatbot(app, client, account)
        await add_chunk(app, chatbot, "Refunds are issued within 14 days of purchase.")

        response = await _search(client, account, chatbot.id, {"query": "how long do refnds take"})

        assert response.status_code == 200, response.text
        assert response.json()["searched_as"] == "how long do refunds take"
        assert len(response.json()["items"]) == 1

    async def test_is_limited_and_documented_as_a_read(self, client: httpx.AsyncClient) -> None:
        operation = (await client.get("/openapi.json")).json()["paths"][
            "/v1/chatbots/{chatbot_id}/search"
        ]["post"]

        assert operation["x-rate-limit-class"] == "read"
        assert operation["requestBody"]["content"]["application/json"]["schema"]
        assert "404" in operation["responses"]

    async def test_limit_caps_the_passages(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot = await _chatbot(app, client, account)
        for number in range(4):
            await add_chunk(app, chatbot, f"Pricing detail number {number}.")

        response = await _search(client, account, chatbot.id, {"query": "pricing", "limit": 3})

        assert len(response.json()["items"]) == 3

    async def test_another_workspaces_chatbot_is_not_found(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        owner, stranger = await register(client), await register(client)
        chatbot = await _chatbot(app, client, owner)
        await add_chunk(app, chatbot, "Refunds are issued within 14 days.")

        foreign = await _search(client, stranger, chatbot.id, {"query": "refunds"})
        missing = await _search(client, stranger, uuid.uuid4(), {"query": "refunds"})

        assert_problem(foreign, 404, "not-found")
        assert foreign.json()["detail"] == missing.json()["detail"]

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"query": ""},
            {"query": "   "},
            {"query": 42},
            {"query": "refunds", "limit": 0},
            {"query": "refunds", "limit": 21},
            {"query": "refunds", "limit": "five"},
            {"query": "refunds", "top": 3},
            {"query": "x" * 4001},
            ["refunds"],
        ],
    )
    async def test_malformed_bodies_are_422(
        self, app: FastAPI, client: httpx.AsyncClient, body: object
    ) -> None:
        account = await register(client)
        chatbot = await _chatbot(app, client, account)

        assert_problem(await _search(client, account, chatbot.id, body), 422)

    async def test_a_malformed_chatbot_id_is_422(self, client: httpx.AsyncClient) -> None:
        account = await register(client)

        assert_problem(await _search(client, account, "not-a-uuid", {"query": "x"}), 422)

    async def test_needs_authentication(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot = await _chatbot(app, client, account)

        response = await client.post(f"/v1/chatbots/{chatbot.id}/search", json={"query": "x"})

        assert_problem(response, 401)

    async def test_an_identifier_only_the_lexical_ranking_finds(
        self, app: FastAPI, client: httpx.AsyncClient, dense_on: DenseRetrieval
    ) -> None:
        account = await register(client)
        chatbot = await _chatbot(app, client, account)
        decorator = "Decorate with functools.lru_cache(maxsize=128) to memoize."
        await add_chunk(app, chatbot, decorator)
        # Nearer the question for the embedder (its words are "lru" and "cache"), while no
        # lexeme matches: more of them than the semantic ranking reads (4 per slot).
        for number in range(40):
            await add_chunk(app, chatbot, f"LRU{number}cache LRU{number}cache notes.")
        await embed_chunks(app_state(app).task_context, chatbot.id)

        response = await _search(client, account, chatbot.id, {"query": "lru_cache", "limit": 8})

        items = response.json()["items"]
        found = {item["content"]: item["rankings"] for item in items}
        assert found[decorator] == {"lexical": 1}
        assert all(set(found[text]) == {"semantic"} for text in found if text != decorator)
