"""Stripe webhooks: signatures, idempotent storage, processing by re-reading the payment."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sitechat.billing.gateway import InvalidWebhookPayload
from sitechat.billing.sandbox_gateway import (
    SandboxGateway,
    SignedWebhook,
    stripe_signature_header,
)
from sitechat.billing.stripe_gateway import StripeGateway, StripeGatewaySettings
from sitechat.config import Settings
from sitechat.core.clock import utcnow
from sitechat.models.billing import (
    Invoice,
    InvoiceStatus,
    PaymentAttempt,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
)
from tests.billing.helpers import invoices, new_owner, subscribe, subscription_row
from tests.conftest import run_queued_jobs
from tests.fixtures.accounts import assert_problem

WEBHOOK = "/v1/billing/webhooks/stripe"


def signer(settings: Settings) -> SandboxGateway:
    return SandboxGateway(settings.billing.stripe_webhook_secret.get_secret_value())


async def deliver(client: httpx.AsyncClient, webhook: SignedWebhook) -> httpx.Response:
    return await client.post(
        WEBHOOK,
        content=webhook.payload,
        headers={"Stripe-Signature": webhook.signature_header, "Content-Type": "application/json"},
    )


def sessions(app: Any) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return maker


class TestSignature:
    async def test_a_wrong_signature_is_400(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        webhook = SandboxGateway("whsec_someone_else").sign_event(
            "payment_intent.succeeded", "pi_1"
        )
        assert_problem(await deliver(client, webhook), 400, "invalid-signature")

    async def test_a_missing_signature_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            WEBHOOK, content=b'{"id": "evt_1"}', headers={"Content-Type": "application/json"}
        )
        assert_problem(response, 400, "invalid-signature")

    async def test_a_tampered_body_is_400(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        webhook = signer(settings).sign_event("payment_intent.succeeded", "pi_1")
        tampered = SignedWebhook(
            webhook.payload.replace(b"pi_1", b"pi_2"), webhook.signature_header
        )
        assert_problem(await deliver(client, tampered), 400, "invalid-signature")


class TestDelivery:
    async def test_an_event_is_stored_once_and_a_duplicate_is_ignored(
        self, client: httpx.AsyncClient, app: Any, settings: Settings
    ) -> None:
        webhook = signer(settings).sign_event("payment_intent.succeeded", "pi_unknown")

        first = await deliver(client, webhook)
        second = await deliver(client, webhook)

        assert (first.status_code, first.json()["duplicate"]) == (200, False)
        assert (second.status_code, second.json()["duplicate"]) == (200, True)
        async with sessions(app)() as session:
            stored = await session.scalar(select(func.count()).select_from(StripeEvent))
        assert stored == 1
        await run_queued_jobs(app)
        async with sessions(app)() as session:
            event = await session.scalar(select(StripeEvent))
        assert event is not None and event.processed_at is not None


class TestProcessing:
    async def test_a_late_success_activates_an_incomplete_subscription(
        self, client: httpx.AsyncClient, app: Any, settings: Settings
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        # As if the gateway had answered `processing` and decided later.
        async with sessions(app)() as session, session.begin():
            await session.execute(
                update(Subscription)
                .where(Subscription.workspace_id == owner.workspace_id)
                .values(status=SubscriptionStatus.incomplete)
            )
            await session.execute(
                update(Invoice)
                .where(Invoice.workspace_id == owner.workspace_id)
                .values(status=InvoiceStatus.open, paid_at=None)
            )
            await session.execute(
                update(PaymentAttempt)
                .where(PaymentAttempt.workspace_id == owner.workspace_id)
                .values(status="processing")
            )
        [invoice] = await invoices(client, owner)
        payment_id = await self._payment_id(app, owner.workspace_id)
        gateway = signer(settings)
        # Out of order: a stale failure event arrives first, then the success.
        await deliver(client, gateway.sign_event("payment_intent.payment_failed", payment_id))
        await deliver(client, gateway.sign_event("payment_intent.succeeded", payment_id))

        await run_queued_jobs(app)

        [invoice] = await invoices(client, owner)
        assert invoice["status"] == "paid"
        assert invoice["payment_attempts"][0]["status"] == "succeeded"
        row = await subscription_row(app, owner.workspace_id)
        assert row.status is SubscriptionStatus.active

    async def test_a_failure_event_never_unpays_a_paid_invoice(
        self, client: httpx.AsyncClient, app: Any, settings: Settings
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        payment_id = await self._payment_id(app, owner.workspace_id)

        await deliver(
            client, signer(settings).sign_event("payment_intent.payment_failed", payment_id)
        )
        await run_queued_jobs(app)

        [invoice] = await invoices(client, owner)
        assert invoice["status"] == "paid"
        assert invoice["payment_attempts"][0]["status"] == "succeeded"

    @staticmethod
    async def _payment_id(app: Any, workspace_id: object) -> str:
        async with sessions(app)() as session:
            payment_id = await session.scalar(
                select(PaymentAttempt.gateway_payment_id).where(
                    PaymentAttempt.workspace_id == workspace_id
                )
            )
        assert payment_id is not None
        return payment_id


def _signed(settings: Settings, payload: bytes) -> SignedWebhook:
    timestamp = int(utcnow().timestamp())
    secret = settings.billing.stripe_webhook_secret.get_secret_value()
    return SignedWebhook(payload, stripe_signature_header(payload, secret, timestamp))


def _event(created: str = "1700000000", object_part: str = '{"id": "pi_1"}') -> bytes:
    return (
        '{"id": "evt_odd", "object": "event", "type": "payment_intent.succeeded", '
        f'"created": {created}, "data": {{"object": {object_part}}}}}'
    ).encode()


# Correctly signed, so only the body can be wrong: each must be a 400 and store nothing.
ODD_BODIES = {
    "huge created": _event(created="1" + "0" * 30),
    "created past year 9999": _event(created="253402300800"),
    "infinite created": _event(created="1e999"),
    "NaN created": _event(created="NaN"),
    "float created": _event(created="1700000000.5"),
    "NaN elsewhere": _event(object_part='{"id": "pi_1", "amount": NaN}'),
    "lone surrogate": _event(object_part='{"id": "pi_\\ud800"}'),
    "NUL in a string": _event(object_part='{"id": "pi_1", "note": "a\\u0000b"}'),
    "deep nesting": _event(object_part='{"id": "pi_1", "x": ' + "[" * 5000 + "]" * 5000 + "}"),
    "moderate nesting": _event(object_part='{"id": "pi_1", "x": ' + "[" * 200 + "]" * 200 + "}"),
    "bad UTF-8": _event(object_part='{"id": "pi_1"}').replace(b"pi_1", b"pi_\xff"),
    "not an object": b"[1, 2, 3]",
    "no data object": b'{"id": "evt_1", "type": "x", "created": 1700000000, "data": 1}',
    "id not a string": _event().replace(b'"evt_odd"', b"12"),
}


class TestOddSignedBodies:
    @pytest.mark.parametrize("name", sorted(ODD_BODIES))
    async def test_a_signed_but_unreadable_body_is_400_and_stores_nothing(
        self, app: Any, client: httpx.AsyncClient, settings: Settings, name: str
    ) -> None:
        response = await deliver(client, _signed(settings, ODD_BODIES[name]))

        assert_problem(response, 400, "invalid-payload")
        async with sessions(app)() as session:
            assert await session.scalar(select(func.count()).select_from(StripeEvent)) == 0

    @pytest.mark.parametrize("name", sorted(ODD_BODIES))
    async def test_the_stripe_gateway_refuses_them_as_invalid_payloads(
        self, settings: Settings, name: str
    ) -> None:
        secret = settings.billing.stripe_webhook_secret.get_secret_value()
        gateway = StripeGateway(
            StripeGatewaySettings(api_key="sk_test_unused", webhook_secret=secret)
        )
        webhook = _signed(settings, ODD_BODIES[name])
        try:
            with pytest.raises(InvalidWebhookPayload):
                await gateway.parse_webhook(webhook.payload, webhook.signature_header)
        finally:
            await gateway.aclose()
