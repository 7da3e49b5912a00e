"""Rotating a webhook's signing secret with an overlap: deliveries to a real local receiver
that verifies them the Standard Webhooks way, as a receiver deployed with the old secret, the
new one, or both would; the clock moved past the overlap; the overlap ended early."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from sitechat.core.clock import FrozenClock
from sitechat.core.state import app_state
from sitechat.models import AuditEvent, WebhookEndpoint
from sitechat.webhooks.tasks import deliver, sweep
from tests.fixtures.accounts import Account, assert_problem, create_api_key, register
from tests.webhooks.conftest import Received, Receiver, verify_standard_webhook
from tests.webhooks.test_webhooks import create_webhook, deliveries_of, start_conversation

DAY = timedelta(hours=24)


async def _owner(client: httpx.AsyncClient, account: Account) -> dict[str, str]:
    """An API key's headers: the clock moves by a day, past an access token's life."""
    return {"Authorization": f"Bearer {await create_api_key(client, account)}"}


async def _rotate(
    client: httpx.AsyncClient, headers: dict[str, str], webhook_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/webhooks/{webhook_id}/rotate-secret", json=body or None, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()  # type: ignore[no-any-return]


async def _next_delivery(
    app: FastAPI, client: httpx.AsyncClient, headers: dict[str, str], receiver: Receiver, hook: str
) -> tuple[str, Received]:
    """An event happens (a conversation starts) and its delivery is attempted now: the
    attempt's outcome and what the receiver got."""
    await start_conversation(client, headers)
    newest = (await deliveries_of(app, hook))[-1]
    outcome = await deliver(app_state(app).task_context, newest.id)
    return outcome, receiver.received[-1]


def _signatures(received: Received) -> list[str]:
    return received.headers["webhook-signature"].split(" ")


def _verifies(secret: str, received: Received) -> bool:
    return verify_standard_webhook(secret, received.headers, received.body)


async def _stored_endpoint(app: FastAPI, webhook_id: str) -> WebhookEndpoint:
    async with app_state(app).sessionmaker() as session:
        endpoint = await session.get(WebhookEndpoint, uuid.UUID(webhook_id))
        assert endpoint is not None
        return endpoint


class TestRotationOverlap:
    async def test_the_old_secret_verifies_for_a_day_then_only_the_new_one(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
        frozen_clock: FrozenClock,
    ) -> None:
        frozen_clock.set(datetime.now(UTC).replace(microsecond=0))
        owner = await _owner(crawl_client, account)
        webhook = await create_webhook(
            crawl_client, account, receiver.url(), event_types=["conversation.created"]
        )
        old = webhook["secret"]
        rotated = await _rotate(crawl_client, owner, webhook["id"])
        new = rotated["secret"]
        assert new not in ("", old)
        ends = frozen_clock.now() + DAY
        assert datetime.fromisoformat(rotated["previous_secret_expires_at"]) == ends
        read = await crawl_client.get(f"/v1/webhooks/{webhook['id']}", headers=owner)
        assert datetime.fromisoformat(read.json()["previous_secret_expires_at"]) == ends

        # A receiver still deployed with the old secret keeps taking deliveries.
        receiver.verifying_with = [old]
        outcome, received = await _next_delivery(
            crawl_app, crawl_client, owner, receiver, webhook["id"]
        )
        assert outcome == "succeeded"
        assert len(_signatures(received)) == 2
        assert _verifies(new, received) and _verifies(old, received)

        frozen_clock.advance(DAY - timedelta(seconds=1))
        outcome, received = await _next_delivery(
            crawl_app, crawl_client, owner, receiver, webhook["id"]
        )
        assert outcome == "succeeded" and _verifies(old, received)

        # The overlap is over: only the new secret signs, and the old receiver refuses it.
        frozen_clock.advance(timedelta(seconds=1))
        outcome, received = await _next_delivery(
            crawl_app, crawl_client, owner, receiver, webhook["id"]
        )
        assert outcome == "failed"
        assert len(_signatures(received)) == 1
        assert _verifies(new, received) and not _verifies(old, received)

        # The sweep forgets the old secret.
        await sweep(app_state(crawl_app).task_context)
        endpoint = await _stored_endpoint(crawl_app, webhook["id"])
        assert (endpoint.previous_secret, endpoint.previous_secret_expires_at) == (None, None)
        assert endpoint.secret == new
        read = await crawl_client.get(f"/v1/webhooks/{webhook['id']}", headers=owner)
        assert read.json()["previous_secret_expires_at"] is None

    async def test_a_shorter_overlap_and_a_second_rotation(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
        frozen_clock: FrozenClock,
    ) -> None:
        frozen_clock.set(datetime.now(UTC))
        owner = await _owner(crawl_client, account)
        webhook = await create_webhook(crawl_client, account, receiver.url())
        first = webhook["secret"]
        second = (await _rotate(crawl_client, owner, webhook["id"], overlap_seconds=3600))["secret"]
        third = (await _rotate(crawl_client, owner, webhook["id"], overlap_seconds=3600))["secret"]

        # One previous secret at most: the second rotation stopped the first secret at once.
        _, received = await _next_delivery(crawl_app, crawl_client, owner, receiver, webhook["id"])
        assert len(_signatures(received)) == 2
        assert _verifies(third, received) and _verifies(second, received)
        assert not _verifies(first, received)

        frozen_clock.advance(timedelta(seconds=3601))
        _, received = await _next_delivery(crawl_app, crawl_client, owner, receiver, webhook["id"])
        assert _verifies(third, received) and not _verifies(second, received)

    async def test_no_overlap_switches_at_once(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
    ) -> None:
        webhook = await create_webhook(crawl_client, account, receiver.url())
        rotated = await _rotate(crawl_client, account.headers, webhook["id"], overlap_seconds=0)
        assert rotated["previous_secret_expires_at"] is None

        receiver.verifying_with = [webhook["secret"]]
        outcome, received = await _next_delivery(
            crawl_app, crawl_client, account.headers, receiver, webhook["id"]
        )
        assert outcome == "failed"
        assert _verifies(rotated["secret"], received)
        assert not _verifies(webhook["secret"], received)


class TestEndingTheOverlap:
    async def test_the_previous_secret_stops_at_once(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
    ) -> None:
        webhook = await create_webhook(crawl_client, account, receiver.url())
        old = webhook["secret"]
        new = (await _rotate(crawl_client, account.headers, webhook["id"]))["secret"]
        path = f"/v1/webhooks/{webhook['id']}/previous-secret"

        ended = await crawl_client.delete(path, headers=account.headers)

        assert ended.status_code == 204, ended.text
        receiver.verifying_with = [old]
        outcome, received = await _next_delivery(
            crawl_app, crawl_client, account.headers, receiver, webhook["id"]
        )
        assert outcome == "failed"
        assert _verifies(new, received) and not _verifies(old, received)
        read = await crawl_client.get(f"/v1/webhooks/{webhook['id']}", headers=account.headers)
        assert read.json()["previous_secret_expires_at"] is None
        endpoint = await _stored_endpoint(crawl_app, webhook["id"])
        assert endpoint.previous_secret is None
        async with app_state(crawl_app).sessionmaker() as session:
            actions = (
                await session.scalars(
                    select(AuditEvent.action).where(AuditEvent.workspace_id == account.workspace_id)
                )
            ).all()
        assert actions.count("webhook.previous_secret_revoked") == 1
        # Again, with no overlap running: nothing to end, nothing recorded.
        again = await crawl_client.delete(path, headers=account.headers)
        assert again.status_code == 204


class TestRotationRequests:
    async def test_malformed_input_is_refused(
        self, crawl_client: httpx.AsyncClient, account: Account, receiver: Receiver
    ) -> None:
        webhook = await create_webhook(crawl_client, account, receiver.url())
        rotate = f"/v1/webhooks/{webhook['id']}/rotate-secret"
        for body in (
            {"overlap_seconds": -1},
            {"overlap_seconds": 7 * 24 * 3600 + 1},
            {"overlap_seconds": "3600"},
            {"overlap_seconds": 1.5},
            {"overlap_seconds": True},
            {"overlap_seconds": None},
            {"overlap": 60},
            [60],
        ):
            response = await crawl_client.post(rotate, json=body, headers=account.headers)
            assert_problem(response, 422, "validation-error")
        broken = await crawl_client.post(
            rotate,
            content=b'{"overlap_seconds": ',
            headers={**account.headers, "Content-Type": "application/json"},
        )
        assert_problem(broken, 400, "malformed-json")
        for method, path in (
            ("POST", "/v1/webhooks/not-a-uuid/rotate-secret"),
            ("DELETE", "/v1/webhooks/not-a-uuid/previous-secret"),
        ):
            response = await crawl_client.request(method, path, headers=account.headers)
            assert_problem(response, 422, "validation-error")
        read = await crawl_client.get(f"/v1/webhooks/{webhook['id']}", headers=account.headers)
        assert read.json()["previous_secret_expires_at"] is None  # nothing was rotated

    async def test_another_workspace_gets_404_and_changes_nothing(
        self,
        crawl_app: FastAPI,
        crawl_client: httpx.AsyncClient,
        account: Account,
        receiver: Receiver,
    ) -> None:
        webhook = await create_webhook(crawl_client, account, receiver.url())
        rotated = await _rotate(crawl_client, account.headers, webhook["id"])
        stranger = await register(crawl_client)
        base = f"/v1/webhooks/{webhook['id']}"

        for method, path, body in (
            ("POST", f"{base}/rotate-secret", {"overlap_seconds": 0}),
            ("DELETE", f"{base}/previous-secret", None),
        ):
            response = await crawl_client.request(method, path, json=body, headers=stranger.headers)
            assert_problem(response, 404)
        missing = await crawl_client.delete(
            f"/v1/webhooks/{uuid.uuid4()}/previous-secret", headers=account.headers
        )
        assert_problem(missing, 404)

        _, received = await _next_delivery(
            crawl_app, crawl_client, account.headers, receiver, webhook["id"]
        )
        assert _verifies(rotated["secret"], received) and _verifies(webhook["secret"], received)
