"""`lead.captured`, `handoff.requested`, `handoff.ended` and `source.synced` reach a real
local receiver, signed the Standard Webhooks way, after the change that caused them commits."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI

from sitechat.core.state import app_state
from sitechat.webhooks.tasks import deliver
from tests.conftest import run_queued_jobs
from tests.crawling.conftest import LocalSite
from tests.crawling.site import sitemap_site, start_crawl
from tests.fixtures.accounts import Account
from tests.webhooks.conftest import Receiver, verify_standard_webhook
from tests.webhooks.test_webhooks import create_webhook, deliveries_of

SITE = "https://shop.example.com"


async def _public_chatbot(client: httpx.AsyncClient, account: Account) -> str:
    created = await client.post(
        "/v1/chatbots",
        json={
            "name": "Shop",
            "visibility": "public",
            "allowed_origins": [SITE],
            "lead_capture": {"enabled": True, "fields": ["name", "email"], "when": "start"},
            "handoff_enabled": True,
        },
        headers=account.headers,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _visit(client: httpx.AsyncClient, chatbot_id: str) -> tuple[str, dict[str, str]]:
    response = await client.post(
        f"/v1/public/chatbots/{chatbot_id}/conversations", headers={"Origin": SITE}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["conversation_id"], {
        "Authorization": f"Bearer {body['visitor_token']}",
        "Origin": SITE,
    }


class TestEngagementEvents:
    async def test_a_lead_and_a_handoff_arrive_signed(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
    ) -> None:
        webhook = await create_webhook(
            crawl_client,
            account,
            receiver.url(),
            event_types=["lead.captured", "handoff.requested", "handoff.ended"],
        )
        chatbot_id = await _public_chatbot(crawl_client, account)
        conversation_id, visitor = await _visit(crawl_client, chatbot_id)
        public = f"/v1/public/conversations/{conversation_id}"

        lead = await crawl_client.post(
            f"{public}/lead", json={"name": "Ada", "email": "ada@example.com"}, headers=visitor
        )
        handoff = await crawl_client.post(
            f"{public}/handoff", json={"reason": "Billing question"}, headers=visitor
        )
        again = await crawl_client.post(f"{public}/handoff", headers=visitor)
        back = await crawl_client.post(f"{public}/handback", headers=visitor)
        back_again = await crawl_client.post(f"{public}/handback", headers=visitor)
        deliveries = await deliveries_of(crawl_app, webhook["id"])
        outcomes = [
            await deliver(app_state(crawl_app).task_context, delivery.id) for delivery in deliveries
        ]

        assert lead.status_code == 201 and handoff.status_code == 200 and again.status_code == 200
        assert back.status_code == back_again.status_code == 200, back.text
        # Asking twice sent one hand-off event, going back twice one end.
        assert outcomes == ["succeeded", "succeeded", "succeeded"]
        events = []
        for received in receiver.received:
            assert verify_standard_webhook(webhook["secret"], received.headers, received.body)
            events.append(json.loads(received.body))
        by_type = {event["type"]: event["data"] for event in events}
        assert by_type["lead.captured"] == {
            "lead_id": by_type["lead.captured"]["lead_id"],
            "chatbot_id": chatbot_id,
            "conversation_id": conversation_id,
            "name": "Ada",
            "email": "ada@example.com",
        }
        assert by_type["handoff.requested"]["conversation_id"] == conversation_id
        assert by_type["handoff.requested"]["requested_by"] == "visitor"
        assert by_type["handoff.requested"]["reason"] == "Billing question"
        assert by_type["handoff.ended"]["conversation_id"] == conversation_id
        assert by_type["handoff.ended"]["ended_by"] == "visitor"
        assert by_type["handoff.ended"]["requested_at"]

    async def test_a_refused_lead_sends_nothing(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
    ) -> None:
        webhook = await create_webhook(
            crawl_client, account, receiver.url(), event_types=["lead.captured"]
        )
        chatbot_id = await _public_chatbot(crawl_client, account)
        conversation_id, visitor = await _visit(crawl_client, chatbot_id)

        refused = await crawl_client.post(
            f"/v1/public/conversations/{conversation_id}/lead",
            json={"name": "Ada", "email": "ada@"},
            headers=visitor,
        )

        assert refused.status_code == 422
        assert await deliveries_of(crawl_app, webhook["id"]) == []


class TestSourceSynced:
    async def test_a_completed_crawl_syncs_its_website_source(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
        site: LocalSite,
    ) -> None:
        webhook = await create_webhook(
            crawl_client, account, receiver.url(), event_types=["source.synced"]
        )
        sitemap_site(site, {"/apples": "Apples grow on trees.", "/pears": "Pears are sweet."})
        chatbot = await crawl_client.post(
            "/v1/chatbots", json={"name": "Fruit"}, headers=account.headers
        )
        chatbot_id = chatbot.json()["id"]
        crawl = await start_crawl(crawl_client, account, chatbot_id, site.url("/"))
        assert crawl.status_code == 202, crawl.text

        await run_queued_jobs(
            crawl_app
        )  # the crawl, then the delivery job it deferred after its commit
        await run_queued_jobs(crawl_app)
        [delivery] = await deliveries_of(crawl_app, webhook["id"])

        assert delivery.status.value == "succeeded" and delivery.attempts == 1
        [received] = receiver.received
        assert verify_standard_webhook(webhook["secret"], received.headers, received.body)
        event = json.loads(received.body)
        assert event["type"] == "source.synced"
        assert event["data"]["chatbot_id"] == chatbot_id
        assert event["data"]["crawl_id"] == crawl.json()["id"]
        assert event["data"]["kind"] == "website"
        assert event["data"]["pages_new"] == 3  # the home page and the two fruits
