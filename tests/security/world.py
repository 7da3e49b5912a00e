"""Workspace A with one real object of every kind, and workspace B's credentials.

A's objects are made through the public API wherever a route exists; crawl pages (written only
by the crawler) and the chatbot's `ready` status (reached by a finished crawl) are set straight
in the database.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from sitechat.core.clock import utcnow
from sitechat.models import Chatbot, ChatbotStatus
from sitechat.models.crawling import CrawlJob
from sitechat.models.knowledge import Page
from tests.fixtures.accounts import Account, create_api_key, register
from tests.fixtures.billing import upgrade

WIDGET_ORIGIN = "https://widget.example.com"


@dataclass
class World:
    owner: Account
    owner_key: str
    intruder: Account
    intruder_key: str
    # A's object ids by the path segment that names their collection ("chatbots", "pages"...).
    ids: dict[str, str] = field(default_factory=dict)
    public_chatbot_id: str = ""
    visitor_conversation_id: str = ""
    visitor_token: str = ""

    @property
    def intruder_credentials(self) -> dict[str, dict[str, str]]:
        return {
            "user access token": self.intruder.headers,
            "API key": {"Authorization": f"Bearer {self.intruder_key}"},
        }


def _created(response: httpx.Response) -> dict[str, object]:
    assert response.status_code in (200, 201, 202), response.text
    return dict(response.json())


async def _chatbot(client: httpx.AsyncClient, owner: Account, **fields: object) -> str:
    body = {"name": "A's docs bot", **fields}
    return str(_created(await client.post("/v1/chatbots", json=body, headers=owner.headers))["id"])


async def _mark_ready(app: FastAPI, *chatbot_ids: str) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Chatbot)
            .where(Chatbot.id.in_([uuid.UUID(value) for value in chatbot_ids]))
            .values(status=ChatbotStatus.ready)
        )


async def _crawl_page(app: FastAPI, crawl_id: str) -> str:
    """One fetched page of the crawl job, as the crawler would have stored it."""
    async with app.state.sessionmaker() as session, session.begin():
        job = (
            await session.execute(select(CrawlJob).where(CrawlJob.id == uuid.UUID(crawl_id)))
        ).scalar_one()
        content = "# Returns\n\nThirty days, no questions asked."
        page = Page(
            workspace_id=job.workspace_id,
            chatbot_id=job.chatbot_id,
            source_id=job.source_id,
            crawl_job_id=job.id,
            url="https://docs.example.com/returns",
            title="Returns",
            status_code=200,
            content_type="text/html",
            content=content,
            content_hash=hashlib.sha256(content.encode()).hexdigest(),
            fetched_at=utcnow(),
        )
        session.add(page)
        await session.flush()
        return str(page.id)


async def build_world(client: httpx.AsyncClient, app: FastAPI) -> World:
    owner = await register(client)
    intruder = await register(client)
    await upgrade(client, owner)  # A's world has more chatbots than the free plan allows
    world = World(
        owner=owner,
        owner_key=await create_api_key(client, owner, name="A's key", role="owner"),
        intruder=intruder,
        intruder_key=await create_api_key(client, intruder, name="B's key", role="owner"),
    )
    headers = owner.headers
    ids = world.ids
    ids["workspaces"] = str(owner.workspace_id)
    ids["members"] = str(owner.user_id)
    keys = _created(await client.get("/v1/api-keys", headers=headers))["items"]
    ids["api-keys"] = str(keys[0]["id"])  # type: ignore[index]

    webhook = await client.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/sitechat"}, headers=headers
    )
    ids["webhooks"] = str(_created(webhook)["id"])

    ids["chatbots"] = await _chatbot(client, owner)
    ids["models"] = f"chatbot:{ids['chatbots']}"  # the chatbot as an OpenAI-compatible model
    source = await client.post(
        f"/v1/chatbots/{ids['chatbots']}/sources",
        json={"kind": "text", "title": "Returns", "content": "Thirty days, no questions asked."},
        headers=headers,
    )
    assert _created(source)["kind"] == "text"
    # A file source with its queued run: the source routes and the run routes get real IDs.
    upload = await client.post(
        f"/v1/chatbots/{ids['chatbots']}/sources",
        files={"file": ("returns.md", b"# Returns\n\nThirty days.", "text/markdown")},
        headers=headers,
    )
    ids["sources"] = str(_created(upload)["id"])
    ids["runs"] = str(_created(upload)["last_run"]["id"])  # type: ignore[index]
    crawl = await client.post(
        f"/v1/chatbots/{ids['chatbots']}/crawls",
        json={"url": "https://docs.example.com/"},
        headers=headers,
    )
    ids["crawls"] = str(_created(crawl)["id"])
    ids["pages"] = await _crawl_page(app, ids["crawls"])

    world.public_chatbot_id = await _chatbot(
        client, owner, visibility="public", allowed_origins=[WIDGET_ORIGIN]
    )
    await _mark_ready(app, ids["chatbots"], world.public_chatbot_id)
    conversation = await client.post(
        f"/v1/chatbots/{ids['chatbots']}/conversations", json={}, headers=headers
    )
    ids["conversations"] = str(_created(conversation)["id"])
    message = await client.post(
        f"/v1/conversations/{ids['conversations']}/messages",
        json={"content": "How long do I have to return an item?"},
        headers=headers,
    )
    answer = _created(message)
    ids["messages"] = str(answer.get("id") or answer["message"]["id"])  # type: ignore[index]

    deliveries = await client.get(f"/v1/webhooks/{ids['webhooks']}/deliveries", headers=headers)
    ids["deliveries"] = str(_created(deliveries)["items"][0]["id"])  # type: ignore[index]

    visitor = await client.post(
        f"/v1/public/chatbots/{world.public_chatbot_id}/conversations",
        headers={"Origin": WIDGET_ORIGIN},
    )
    visitor_body = _created(visitor)
    world.visitor_conversation_id = str(visitor_body["conversation_id"])
    world.visitor_token = str(visitor_body["visitor_token"])

    await _add_billing_objects(client, world)
    return world


async def _add_billing_objects(client: httpx.AsyncClient, world: World) -> None:
    owner_key = {"Authorization": f"Bearer {world.owner_key}"}
    card = await client.post(
        "/v1/billing/payment-methods", json={"payment_method": "pm_card_visa"}, headers=owner_key
    )
    world.ids["payment-methods"] = str(_created(card)["id"])
    subscribed = await client.post(
        "/v1/billing/subscription", json={"plan_id": "starter"}, headers=owner_key
    )
    _created(subscribed)
    invoices = _created(await client.get("/v1/billing/invoices", headers=owner_key))["items"]
    assert invoices, "subscribing to a paid plan should have issued an invoice"
    world.ids["invoices"] = str(invoices[0]["id"])  # type: ignore[index]
