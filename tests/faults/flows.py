"""What a user does through the public API, as small steps the scenarios combine."""

from __future__ import annotations

from typing import Any

import httpx

from tests.faults.conftest import eventually
from tests.fixtures.accounts import Account

ACTIVE_CRAWL_STATUSES = ("queued", "running")
OPENING_HOURS = (
    "# Opening hours\n\nThe shop is open from nine to five on weekdays. "
    "On Saturdays the shop opens at ten and closes at two. It is closed on Sundays."
)


async def create_chatbot(http: httpx.AsyncClient, account: Account, name: str = "Docs") -> str:
    response = await http.post("/v1/chatbots", json={"name": name}, headers=account.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def add_text_source(http: httpx.AsyncClient, account: Account, chatbot_id: str) -> None:
    """A text source makes a draft chatbot `ready` at once."""
    response = await http.post(
        f"/v1/chatbots/{chatbot_id}/sources",
        json={"kind": "text", "title": "Opening hours", "content": OPENING_HOURS},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text


async def start_conversation(http: httpx.AsyncClient, account: Account, chatbot_id: str) -> str:
    response = await http.post(
        f"/v1/chatbots/{chatbot_id}/conversations", json={}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def ask(
    http: httpx.AsyncClient, account: Account, conversation_id: str, question: str
) -> httpx.Response:
    return await http.post(
        f"/v1/conversations/{conversation_id}/messages",
        json={"content": question},
        headers=account.headers,
    )


async def start_crawl(http: httpx.AsyncClient, account: Account, chatbot_id: str, url: str) -> str:
    response = await http.post(
        f"/v1/chatbots/{chatbot_id}/crawls",
        json={"url": url, "use_sitemap": False},
        headers=account.headers,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def get_crawl(http: httpx.AsyncClient, account: Account, crawl_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/crawls/{crawl_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def wait_for_crawl(
    http: httpx.AsyncClient, account: Account, crawl_id: str, *, seconds: float
) -> dict[str, Any]:
    """The crawl once it has ended (any terminal status)."""

    async def ended() -> dict[str, Any] | None:
        crawl = await get_crawl(http, account, crawl_id)
        return None if crawl["status"] in ACTIVE_CRAWL_STATUSES else crawl

    return await eventually(ended, seconds=seconds, what=f"crawl {crawl_id} to end", every=0.2)


async def crawl_page_urls(http: httpx.AsyncClient, account: Account, crawl_id: str) -> list[str]:
    """Every URL the crawl recorded, one entry per `crawl_pages` row."""
    urls: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        response = await http.get(
            f"/v1/crawls/{crawl_id}/pages", params=params, headers=account.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        urls += [item["url"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return urls
