"""StripeGateway against a real localstripe on loopback (see conftest for how it is started)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
import stripe
from aiohttp import web

from sitechat.billing.gateway import (
    CardDeclinedError,
    GatewayRequestError,
    InvalidWebhookSignature,
    PaymentGateway,
)
from sitechat.billing.sandbox_gateway import SandboxGateway
from sitechat.billing.stripe_gateway import StripeGateway, StripeGatewaySettings
from tests.billing.conftest import WEBHOOK_SECRET, stripe_signature


class HeaderRecordingClient(stripe.HTTPXClient):
    """The SDK's own async client, remembering the headers of every POST."""

    def __init__(self) -> None:
        super().__init__(timeout=10.0)
        self.posted_headers: list[dict[str, str]] = []

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        if method == "post":
            self.posted_headers.append(dict(headers))
        return await super().request_async(method, url, headers, post_data)


@pytest.fixture
async def customer_id(stripe_gateway: StripeGateway) -> str:
    return await stripe_gateway.ensure_customer(uuid.uuid4(), "owner@example.com", None)


def test_stripe_gateway_implements_the_gateway_protocol(stripe_gateway: StripeGateway) -> None:
    gateway: PaymentGateway = stripe_gateway
    assert gateway is stripe_gateway


class TestCustomers:
    async def test_creates_a_customer_tagged_with_the_workspace(
        self, stripe_gateway: StripeGateway, localstripe: httpx.AsyncClient
    ) -> None:
        workspace_id = uuid.uuid4()
        customer_id = await stripe_gateway.ensure_customer(workspace_id, "a@example.com", None)
        stored = (await localstripe.get(f"/v1/customers/{customer_id}")).json()
        assert stored["email"] == "a@example.com"
        assert stored["metadata"] == {"workspace_id": str(workspace_id)}

    async def test_keeps_an_existing_customer_and_replaces_a_missing_one(
        self, stripe_gateway: StripeGateway, customer_id: str
    ) -> None:
        workspace_id = uuid.uuid4()
        assert await stripe_gateway.ensure_customer(workspace_id, None, customer_id) == customer_id
        replaced = await stripe_gateway.ensure_customer(workspace_id, None, "cus_deleted")
        assert replaced.startswith("cus_")
        assert replaced != "cus_deleted"


class TestPaymentMethods:
    async def test_attached_visa_becomes_the_default(
        self, stripe_gateway: StripeGateway, customer_id: str, localstripe: httpx.AsyncClient
    ) -> None:
        card = await stripe_gateway.attach_payment_method(customer_id, "pm_card_visa")
        assert card.id.startswith("pm_")
        assert card.id != "pm_card_visa"
        assert (card.brand, card.last4, card.exp_month) == ("visa", "4242", 12)
        stored = (await localstripe.get(f"/v1/customers/{customer_id}")).json()
        assert stored["invoice_settings"]["default_payment_method"] == card.id

    async def test_declined_card_is_refused_at_attach(
        self, stripe_gateway: StripeGateway, customer_id: str
    ) -> None:
        # localstripe knows only this spelling; `pm_card_chargeDeclined` is a 404 there.
        with pytest.raises(CardDeclinedError) as caught:
            await stripe_gateway.attach_payment_method(customer_id, "pm_card_visa_chargeDeclined")
        assert caught.value.code == "card_declined"

    async def test_unknown_payment_method_is_resource_missing(
        self, stripe_gateway: StripeGateway, customer_id: str
    ) -> None:
        with pytest.raises(GatewayRequestError) as caught:
            await stripe_gateway.attach_payment_method(customer_id, "pm_does_not_exist")
        assert caught.value.code == "resource_missing"

    async def test_detach_only_from_the_owning_customer(
        self, stripe_gateway: StripeGateway, customer_id: str, localstripe: httpx.AsyncClient
    ) -> None:
        card = await stripe_gateway.attach_payment_method(customer_id, "pm_card_visa")
        stranger = await stripe_gateway.ensure_customer(uuid.uuid4(), None, None)
        with pytest.raises(GatewayRequestError, match="resource_missing"):
            await stripe_gateway.detach_payment_method(stranger, card.id)
        assert (await localstripe.get(f"/v1/payment_methods/{card.id}")).json()["customer"] == (
            customer_id
        )
        await stripe_gateway.detach_payment_method(customer_id, card.id)
        assert (await localstripe.get(f"/v1/payment_methods/{card.id}")).json()["customer"] is None

    async def test_setup_intent_for_the_customer(
        self, stripe_gateway: StripeGateway, customer_id: str, localstripe: httpx.AsyncClient
    ) -> None:
        intent = await stripe_gateway.create_setup_intent(customer_id)
        assert intent.client_secret.startswith(f"{intent.id}_secret_")
        stored = (await localstripe.get(f"/v1/setup_intents/{intent.id}")).json()
        assert (stored["customer"], stored["usage"]) == (customer_id, "off_session")


class TestCharges:
    async def test_successful_charge(
        self, stripe_gateway: StripeGateway, customer_id: str, localstripe: httpx.AsyncClient
    ) -> None:
        card = await stripe_gateway.attach_payment_method(customer_id, "pm_card_visa")
        result = await stripe_gateway.charge(
            customer_id, card.id, 4_900, "usd", f"inv-{uuid.uuid4()}", "Pro", {"invoice_id": "7"}
        )
        assert result.status == "succeeded"
        assert result.payment_id is not None
        stored = (await localstripe.get(f"/v1/payment_intents/{result.payment_id}")).json()
        assert (stored["amount"], stored["currency"], stored["customer"]) == (
            4_900,
            "usd",
            customer_id,
        )
        assert stored["metadata"] == {"invoice_id": "7"}
        assert await stripe_gateway.retrieve_payment(result.payment_id) == result

    async def test_customer_fail_card_attaches_but_the_charge_fails(
        self, stripe_gateway: StripeGateway, customer_id: str
    ) -> None:
        card = await stripe_gateway.attach_payment_method(customer_id, "pm_card_chargeCustomerFail")
        result = await stripe_gateway.charge(
            customer_id, card.id, 4_900, "usd", f"inv-{uuid.uuid4()}", "Pro", {}
        )
        assert (result.status, result.failure_code) == ("failed", "card_declined")
        assert result.failure_message
        assert result.payment_id is not None
        reread = await stripe_gateway.retrieve_payment(result.payment_id)
        assert (reread.status, reread.failure_code) == ("failed", "card_declined")

    async def test_retry_sends_the_same_idempotency_key(
        self, stripe_settings: StripeGatewaySettings, customer_id: str
    ) -> None:
        # localstripe ignores Idempotency-Key (real Stripe replays the first response), so
        # what is checked here is that a retry carries the same key to Stripe.
        recorder = HeaderRecordingClient()
        gateway = StripeGateway(stripe_settings, http_client=recorder)
        try:
            card = await gateway.attach_payment_method(customer_id, "pm_card_visa")
            recorder.posted_headers.clear()
            for key in ("inv-42-attempt-1", "inv-42-attempt-1", "inv-42-attempt-2"):
                await gateway.charge(customer_id, card.id, 4_900, "usd", key, "Pro", {})
        finally:
            await gateway.aclose()
        keys = [headers.get("Idempotency-Key") for headers in recorder.posted_headers]
        assert keys == ["inv-42-attempt-1", "inv-42-attempt-1", "inv-42-attempt-2"]

    async def test_unknown_payment_is_resource_missing(self, stripe_gateway: StripeGateway) -> None:
        with pytest.raises(GatewayRequestError, match="resource_missing"):
            await stripe_gateway.retrieve_payment("pi_does_not_exist")


class TestWebhookSignatures:
    payload = json.dumps(
        {
            "id": "evt_123",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": 1_700_000_000,
            "data": {"object": {"id": "pi_123", "object": "payment_intent"}},
        }
    ).encode()

    async def test_valid_signature_is_accepted(self, stripe_gateway: StripeGateway) -> None:
        header = stripe_signature(self.payload, WEBHOOK_SECRET, int(time.time()))
        event = await stripe_gateway.parse_webhook(self.payload, header)
        assert (event.id, event.type, event.object_id) == (
            "evt_123",
            "payment_intent.succeeded",
            "pi_123",
        )
        assert event.created.timestamp() == 1_700_000_000

    async def test_tampered_payload_is_rejected(self, stripe_gateway: StripeGateway) -> None:
        header = stripe_signature(self.payload, WEBHOOK_SECRET, int(time.time()))
        with pytest.raises(InvalidWebhookSignature):
            await stripe_gateway.parse_webhook(self.payload.replace(b"pi_123", b"pi_999"), header)

    @pytest.mark.parametrize("header", [None, "", "t=1,v1=deadbeef"])
    async def test_missing_or_wrong_signature_is_rejected(
        self, stripe_gateway: StripeGateway, header: str | None
    ) -> None:
        with pytest.raises(InvalidWebhookSignature):
            await stripe_gateway.parse_webhook(self.payload, header)

    async def test_stale_signature_is_rejected(self, stripe_gateway: StripeGateway) -> None:
        header = stripe_signature(self.payload, WEBHOOK_SECRET, int(time.time()) - 3_600)
        with pytest.raises(InvalidWebhookSignature):
            await stripe_gateway.parse_webhook(self.payload, header)

    async def test_sandbox_events_verify_with_the_stripe_sdk(
        self, stripe_gateway: StripeGateway
    ) -> None:
        webhook = SandboxGateway(WEBHOOK_SECRET).sign_event("invoice.paid", "in_1")
        event = await stripe_gateway.parse_webhook(webhook.payload, webhook.signature_header)
        assert (event.type, event.object_id) == ("invoice.paid", "in_1")


@pytest.fixture
async def webhook_inbox() -> AsyncIterator[tuple[str, asyncio.Queue[tuple[bytes, str | None]]]]:
    """A tiny HTTP receiver on loopback that queues every (body, Stripe-Signature) it gets."""
    inbox: asyncio.Queue[tuple[bytes, str | None]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await inbox.put((await request.read(), request.headers.get("Stripe-Signature")))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhooks/stripe", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/webhooks/stripe", inbox
    finally:
        await runner.cleanup()


async def test_localstripe_delivers_a_signed_event_that_parse_webhook_accepts(
    stripe_gateway: StripeGateway,
    customer_id: str,
    localstripe: httpx.AsyncClient,
    webhook_inbox: tuple[str, asyncio.Queue[tuple[bytes, str | None]]],
) -> None:
    url, inbox = webhook_inbox
    registration = await localstripe.post(
        f"/_config/webhooks/{uuid.uuid4().hex}",
        json={"url": url, "secret": WEBHOOK_SECRET, "events": ["payment_intent.succeeded"]},
    )
    assert registration.status_code == 200
    card = await stripe_gateway.attach_payment_method(customer_id, "pm_card_visa")
    result = await stripe_gateway.charge(
        customer_id, card.id, 1_900, "usd", f"inv-{uuid.uuid4()}", "Starter", {}
    )

    # localstripe waits one second before delivering; other tests' events may come first.
    async with asyncio.timeout(10):
        while True:
            body, signature = await inbox.get()
            event = await stripe_gateway.parse_webhook(body, signature)
            if event.object_id == result.payment_id:
                break
    assert event.type == "payment_intent.succeeded"
    with pytest.raises(InvalidWebhookSignature):
        await stripe_gateway.parse_webhook(body + b" ", signature)
