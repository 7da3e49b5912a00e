"""Text and Q&A sources: searchable in the request that adds them, gone when deleted."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from tests.fixtures.accounts import Account, register


async def new_chatbot(client: httpx.AsyncClient, account: Account) -> str:
    response = await client.post("/v1/chatbots", json={"name": "Bot"}, headers=account.headers)
    assert response.status_code == 201
    return str(response.json()["id"])


async def matching_chunks(app: Any, chatbot_id: str, query: str) -> list[tuple[str, str, str]]:
    """(title, heading, content) of the chunks full-text search finds, as retrieval will."""
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT title, heading, content FROM chunks WHERE chatbot_id = :chatbot_id "
                "AND search_vector @@ websearch_to_tsquery(language::regconfig, :query)"
            ),
            {"chatbot_id": chatbot_id, "query": query},
        )
        return [tuple(row) for row in rows.all()]


class TestAddSource:
    async def test_text_is_searchable_at_once_and_chatbot_becomes_ready(
        self, client: httpx.AsyncClient, app: Any
    ) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        response = await client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            json={
                "kind": "text",
                "title": "Returns",
                "content": "# Returns\n\n## Refunds\n\nRefunds are paid within fourteen days.",
            },
            headers=account.headers,
        )
        assert response.status_code == 201, response.text
        source = response.json()
        assert (source["kind"], source["title"]) == ("text", "Returns")
        found = await matching_chunks(app, chatbot_id, "refunds paid")
        assert found == [("Returns", "Returns > Refunds", "Refunds are paid within fourteen days.")]
        chatbot = await client.get(f"/v1/chatbots/{chatbot_id}", headers=account.headers)
        assert chatbot.json()["status"] == "ready"

    async def test_qa_is_one_chunk_titled_by_its_question(
        self, client: httpx.AsyncClient, app: Any
    ) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        response = await client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            json={"kind": "qa", "question": "Do you ship abroad?", "answer": "Yes, EU-wide."},
            headers=account.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["question"] == "Do you ship abroad?"
        found = await matching_chunks(app, chatbot_id, "ship abroad")
        assert found == [("Do you ship abroad?", "Q: Do you ship abroad?", "Yes, EU-wide.")]

    async def test_list_shows_sources_newest_first(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        for question in ("First?", "Second?"):
            await client.post(
                f"/v1/chatbots/{chatbot_id}/sources",
                json={"kind": "qa", "question": question, "answer": "Yes."},
                headers=account.headers,
            )
        response = await client.get(f"/v1/chatbots/{chatbot_id}/sources", headers=account.headers)
        items = response.json()["items"]
        assert [item["question"] for item in items] == ["Second?", "First?"]
        assert items[0]["content_preview"] == "Yes."

    async def test_bad_sources_are_422(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        bodies = [
            {"kind": "website", "url": "https://example.com"},
            {"kind": "text", "title": "Big", "content": "x" * 200_001},
            {"kind": "text", "title": "", "content": "x"},
            {"kind": "qa", "question": "Q?"},
            {"kind": "pdf"},
        ]
        for body in bodies:
            response = await client.post(
                f"/v1/chatbots/{chatbot_id}/sources", json=body, headers=account.headers
            )
            assert response.status_code == 422, body["kind"]


class TestDeleteSource:
    async def test_delete_removes_its_chunks_at_once(
        self, client: httpx.AsyncClient, app: Any
    ) -> None:
        account = await register(client)
        chatbot_id = await new_chatbot(client, account)
        created = await client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            json={"kind": "text", "title": "Parking", "content": "Free parking behind the shop."},
            headers=account.headers,
        )
        source_id = created.json()["id"]
        assert await matching_chunks(app, chatbot_id, "parking")
        response = await client.delete(
            f"/v1/chatbots/{chatbot_id}/sources/{source_id}", headers=account.headers
        )
        assert response.status_code == 204
        assert await matching_chunks(app, chatbot_id, "parking") == []
        again = await client.delete(
            f"/v1/chatbots/{chatbot_id}/sources/{source_id}", headers=account.headers
        )
        assert again.status_code == 404

    async def test_another_workspace_cannot_delete(self, client: httpx.AsyncClient) -> None:
        owner = await register(client)
        stranger = await register(client)
        chatbot_id = await new_chatbot(client, owner)
        created = await client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            json={"kind": "qa", "question": "Q?", "answer": "A."},
            headers=owner.headers,
        )
        url = f"/v1/chatbots/{chatbot_id}/sources/{created.json()['id']}"
        assert (await client.delete(url, headers=stranger.headers)).status_code == 404
        listed = await client.get(f"/v1/chatbots/{chatbot_id}/sources", headers=owner.headers)
        assert len(listed.json()["items"]) == 1
