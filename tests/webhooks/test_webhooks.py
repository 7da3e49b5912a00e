"""Outbound webhooks end to end: endpoints over HTTP, signed deliveries to a real local
receiver, retries on a clock, the endpoint disabled after a day of failures, redelivery."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from sitechat.core.clock import FrozenClock
from sitechat.core.state import app_state
from sitechat.models import AuditEvent, WebhookDelivery
from sitechat.webhooks.service import MAX_ATTEMPTS, RETRY_DELAYS
from sitechat.webhooks.tasks import deliver, sweep
from tests.fixtures.accounts import Account, create_api_key, register
from tests.webhooks.conftest import Receiver, verify_standard_webhook


async def create_webhook(
    client: httpx.AsyncClient, account: Account, url: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhooks", json={"url": url, **fields}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def start_conversation(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A conversation with the workspace's chatbot (made on first use: Free allows one)."""
    existing = (await client.get("/v1/chatbots", headers=headers)).json()["items"]
    if existing:
        chatbot_id = existing[0]["id"]
    else:
        chatbot = await client.post("/v1/chatbots", json={"name": "Shop"}, headers=headers)
        assert chatbot.status_code == 201, chatbot.text
        chatbot_id = chatbot.json()["id"]
    conversation = await client.post(
        f"/v1/chatbots/{chatbot_id}/conversations", json={}, headers=headers
    )
    assert conversation.status_code == 201, conversation.text
    return str(conversation.json()["id"])


async def deliveries_of(app: FastAPI, webhook_id: str) -> list[WebhookDelivery]:
    async with app_state(app).sessionmaker() as session:
        statement = (
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == uuid.UUID(webhook_id))
            .order_by(WebhookDelivery.id)
        )
        return list((await session.execute(statement)).scalars().all())


class TestEndpoints:
    async def test_the_secret_is_shown_once_and_never_cached(
        self, crawl_client: httpx.AsyncClient, account: Account, receiver: Receiver
    ) -> None:
        response = await crawl_client.post(
            "/v1/webhooks",
            json={"url": receiver.url(), "description": "<b>CRM</b><script>x()</script>"},
            headers=account.headers,
        )
        assert response.status_code == 201, response.text
        assert response.headers["cache-control"] == "no-store"
        created = response.json()
        assert created["secret"].startswith("whsec_")
        assert created["description"] == "CRM"
        assert created["event_types"] == [] and created["enabled"] is True
        read = await crawl_client.get(f"/v1/webhooks/{created['id']}", headers=account.headers)
        assert read.status_code == 200 and "secret" not in read.json()
        listed = await crawl_client.get("/v1/webhooks", headers=account.headers)
        assert [item["id"] for item in listed.json()["items"]] == [created["id"]]

    async def test_rotating_gives_a_new_secret(
        self, crawl_client: httpx.AsyncClient, account: Account, receiver: Receiver
    ) -> None:
        created = await create_webhook(crawl_client, account, receiver.url())
        rotated = await crawl_client.post(
            f"/v1/webhooks/{created['id']}/rotate-secret", headers=account.headers
        )
        assert rotated.status_code == 200
        assert rotated.json()["secret"] not in ("", created["secret"])

    async def test_update_and_delete(
        self, crawl_client: httpx.AsyncClient, account: Account, receiver: Receiver
    ) -> None:
        created = await create_webhook(crawl_client, account, receiver.url())
        updated = await crawl_client.patch(
            f"/v1/webhooks/{created['id']}",
            json={"event_types": ["feedback.created"], "enabled": False},
            headers=account.headers,
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["event_types"] == ["feedback.created"]
        assert updated.json()["enabled"] is False
        deleted = await crawl_client.delete(
            f"/v1/webhooks/{created['id']}", headers=account.headers
        )
        assert deleted.status_code == 204
        gone = await crawl_client.get(f"/v1/webhooks/{created['id']}", headers=account.headers)
        assert gone.status_code == 404

    async def test_bad_input_is_refused(
        self, crawl_client: httpx.AsyncClient, account: Account
    ) -> None:
        for body in (
            {"url": "https://hooks.example.com/x", "event_types": ["crawl.exploded"]},
            {"url": 42},
            {"url": "https://hooks.example.com/x", "unknown": True},
        ):
            response = await crawl_client.post("/v1/webhooks", json=body, headers=account.headers)
            assert response.status_code == 422, body
            assert response.headers["content-type"] == "application/problem+json"
        private = await crawl_client.post(
            "/v1/webhooks",
            json={"url": "http://169.254.169.254/latest/meta-data"},
            headers=account.headers,
        )
        assert private.status_code == 422
        assert private.json()["type"].endswith("/unsafe-url")
        assert private.json()["detail"].startswith(
            "The address is not on the public internet. Webhook URLs must reach a public address"
        )
        assert "SITECHAT_CRAWL_ALLOWED_HOSTS" in private.json()["detail"]
        listed = await crawl_client.get("/v1/webhooks", headers=account.headers)
        assert listed.json()["items"] == []

    async def test_another_workspace_gets_404(
        self, crawl_client: httpx.AsyncClient, account: Account, receiver: Receiver
    ) -> None:
        created = await create_webhook(crawl_client, account, receiver.url())
        stranger = await register(crawl_client)
        base = f"/v1/webhooks/{created['id']}"
        some_delivery = uuid.uuid4()
        for method, path, body in (
            ("GET", base, None),
            ("PATCH", base, {"enabled": False}),
            ("DELETE", base, None),
            ("POST", f"{base}/rotate-secret", None),
            ("DELETE", f"{base}/previous-secret", None),
            ("GET", f"{base}/deliveries", None),
            ("POST", f"{base}/deliveries/{some_delivery}/redeliver", None),
        ):
            response = await crawl_client.request(method, path, json=body, headers=stranger.headers)
            assert response.status_code == 404, (method, path)
        still = await crawl_client.get(base, headers=account.headers)
        assert still.json()["enabled"] is True
        assert (await crawl_client.get("/v1/webhooks", headers=stranger.headers)).json()[
            "items"
        ] == []


class TestDelivery:
    async def test_an_event_arrives_signed_and_is_logged(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
    ) -> None:
        webhook = await create_webhook(
            crawl_client, account, receiver.url(), event_types=["conversation.created"]
        )
        conversation_id = await start_conversation(crawl_client, account.headers)
        [delivery] = await deliveries_of(crawl_app, webhook["id"])
        assert await deliver(app_state(crawl_app).task_context, delivery.id) == "succeeded"

        [received] = receiver.received
        assert verify_standard_webhook(webhook["secret"], received.headers, received.body)
        event = json.loads(received.body)
        assert event["type"] == "conversation.created"
        assert event["data"]["conversation_id"] == conversation_id
        log = await crawl_client.get(
            f"/v1/webhooks/{webhook['id']}/deliveries", headers=account.headers
        )
        [entry] = log.json()["items"]
        assert entry["status"] == "succeeded" and entry["attempts"] == 1
        assert entry["last_status_code"] == 200 and entry["last_latency_ms"] is not None
        assert entry["message_id"] == received.headers["webhook-id"]

    async def test_only_subscribed_events_are_sent(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
    ) -> None:
        webhook = await create_webhook(
            crawl_client, account, receiver.url(), event_types=["feedback.created"]
        )
        await start_conversation(crawl_client, account.headers)
        assert await deliveries_of(crawl_app, webhook["id"]) == []

    async def test_a_failing_receiver_is_retried_until_it_answers(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
        frozen_clock: FrozenClock,
    ) -> None:
        frozen_clock.set(datetime.now(UTC))
        receiver.statuses = [500, 200]
        webhook = await create_webhook(crawl_client, account, receiver.url())
        await start_conversation(crawl_client, account.headers)
        [delivery] = await deliveries_of(crawl_app, webhook["id"])

        assert await deliver(app_state(crawl_app).task_context, delivery.id) == "failed"
        [pending] = await deliveries_of(crawl_app, webhook["id"])
        assert pending.status.value == "pending" and pending.last_status_code == 500
        assert pending.next_attempt_at == frozen_clock.now() + RETRY_DELAYS[0]
        assert (
            await deliver(app_state(crawl_app).task_context, delivery.id) == "skipped"
        )  # not due yet

        frozen_clock.advance(RETRY_DELAYS[0])
        assert await sweep(app_state(crawl_app).task_context) >= 1  # the due retry is asked for
        assert await deliver(app_state(crawl_app).task_context, delivery.id) == "succeeded"
        assert len(receiver.received) == 2
        assert (
            receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
        )
        [done] = await deliveries_of(crawl_app, webhook["id"])
        assert done.status.value == "succeeded" and done.attempts == 2

    async def test_a_day_of_failures_disables_the_endpoint_and_tells_the_owner(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
        frozen_clock: FrozenClock,
    ) -> None:
        frozen_clock.set(datetime.now(UTC))
        receiver.statuses = [503]
        webhook = await create_webhook(crawl_client, account, receiver.url())
        # An API key: the owner's access token will have expired a day later.
        owner = {"Authorization": f"Bearer {await create_api_key(crawl_client, account)}"}
        await start_conversation(crawl_client, account.headers)
        [delivery] = await deliveries_of(crawl_app, webhook["id"])

        started = frozen_clock.now()
        for attempt in range(MAX_ATTEMPTS):
            assert await deliver(app_state(crawl_app).task_context, delivery.id) == "failed"
            if attempt < len(RETRY_DELAYS):
                frozen_clock.advance(RETRY_DELAYS[attempt])
        assert timedelta(hours=18) < frozen_clock.now() - started < timedelta(hours=30)
        assert len(receiver.received) == MAX_ATTEMPTS

        [given_up] = await deliveries_of(crawl_app, webhook["id"])
        assert given_up.status.value == "failed" and given_up.next_attempt_at is None
        endpoint = await crawl_client.get(f"/v1/webhooks/{webhook['id']}", headers=owner)
        assert endpoint.json()["enabled"] is False
        assert "http-503" in endpoint.json()["disabled_reason"]
        async with app_state(crawl_app).sessionmaker() as session:
            actions = (
                (
                    await session.execute(
                        select(AuditEvent.action).where(
                            AuditEvent.workspace_id == account.workspace_id
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert "webhook.disabled" in actions

        # A disabled endpoint gets nothing new; enabling it again delivers the next events.
        await start_conversation(crawl_client, owner)
        assert len(await deliveries_of(crawl_app, webhook["id"])) == 1
        enabled = await crawl_client.patch(
            f"/v1/webhooks/{webhook['id']}", json={"enabled": True}, headers=owner
        )
        assert enabled.json()["disabled_reason"] is None

    async def test_redelivery_sends_the_same_message_again(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
    ) -> None:
        webhook = await create_webhook(crawl_client, account, receiver.url())
        await start_conversation(crawl_client, account.headers)
        [delivery] = await deliveries_of(crawl_app, webhook["id"])
        await deliver(app_state(crawl_app).task_context, delivery.id)
        response = await crawl_client.post(
            f"/v1/webhooks/{webhook['id']}/deliveries/{delivery.id}/redeliver",
            headers=account.headers,
        )
        assert response.status_code == 202, response.text
        assert (
            await deliver(app_state(crawl_app).task_context, uuid.UUID(response.json()["id"]))
            == "succeeded"
        )
        first, second = receiver.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert first.body == second.body
