"""Calls the file-source tests share."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import run_queued_jobs
from tests.fixtures.accounts import Account


async def new_chatbot(client: httpx.AsyncClient, account: Account) -> str:
    response = await client.post("/v1/chatbots", json={"name": "Docs"}, headers=account.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def upload(
    client: httpx.AsyncClient,
    account: Account,
    chatbot_id: str,
    data: bytes,
    name: str,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    return await client.post(
        f"/v1/chatbots/{chatbot_id}/sources",
        files={"file": (name, data, content_type)},
        headers=account.headers,
    )


async def replace(
    client: httpx.AsyncClient,
    account: Account,
    chatbot_id: str,
    source_id: str,
    data: bytes,
    name: str,
) -> httpx.Response:
    return await client.put(
        f"/v1/chatbots/{chatbot_id}/sources/{source_id}/file",
        files={"file": (name, data, "application/octet-stream")},
        headers=account.headers,
    )


async def source_after_jobs(
    app: Any, client: httpx.AsyncClient, account: Account, chatbot_id: str, source_id: str
) -> dict[str, Any]:
    """Run the queued jobs (as `app`'s worker), then read the source."""
    await run_queued_jobs(app)
    response = await client.get(
        f"/v1/chatbots/{chatbot_id}/sources/{source_id}", headers=account.headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def search(
    client: httpx.AsyncClient, account: Account, chatbot_id: str, query: str
) -> list[dict[str, Any]]:
    response = await client.post(
        f"/v1/chatbots/{chatbot_id}/search", json={"query": query}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def run_diff(
    client: httpx.AsyncClient, account: Account, chatbot_id: str, source_id: str, run_id: str
) -> dict[str, str]:
    response = await client.get(
        f"/v1/chatbots/{chatbot_id}/sources/{source_id}/runs/{run_id}", headers=account.headers
    )
    assert response.status_code == 200, response.text
    return {entry["page"]: entry["change"] for entry in response.json()["diff"]}


async def ask(
    client: httpx.AsyncClient, account: Account, chatbot_id: str, question: str
) -> dict[str, Any]:
    """Ask the chatbot in a new conversation; the answer message."""
    conversation = await client.post(
        f"/v1/chatbots/{chatbot_id}/conversations", json={}, headers=account.headers
    )
    assert conversation.status_code == 201, conversation.text
    answer = await client.post(
        f"/v1/conversations/{conversation.json()['id']}/messages",
        json={"content": question},
        headers=account.headers,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]
