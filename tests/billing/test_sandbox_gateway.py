from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sitechat.billing.gateway import (
    CardDeclinedError,
    ChargeResult,
    GatewayRequestError,
    InvalidWebhookPayload,
    InvalidWebhookSignature,
    PaymentGateway,
)
from sitechat.billing.sandbox_gateway import SandboxGateway
from sitechat.core.clock import FrozenClock
from tests.billing.conftest import WEBHOOK_SECRET, stripe_signature

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def sandbox(clock: FrozenClock) -> SandboxGateway:
    return SandboxGateway(WEBHOOK_SECRET, now=clock.now)


@pytest.fixture
async def customer_id(sandbox: SandboxGateway) -> str:
    return await sandbox.ensure_customer(uuid.uuid4(), "owner@example.com", None)


async def _charge(
    gateway: SandboxGateway, customer_id: str, pm_id: str, key: str = "invoice-1"
) -> ChargeResult:
    return await gateway.charge(
        customer_id, pm_id, 4_900, "usd", key, "SiteChat Pro", {"invoice_id": key}
    )


def test_sandbox_implements_the_gateway_protocol(sandbox: SandboxGateway) -> None:
    gateway: PaymentGateway = sandbox
    assert gateway is sandbox


class TestCustomers:
    async def test_same_workspace_gets_the_same_customer_in_any_process(self) -> None:
        workspace_id = uuid.uuid4()
        first = await SandboxGateway(WEBHOOK_SECRET).ensure_customer(workspace_id, None, None)
        second = await SandboxGateway(WEBHOOK_SECRET).ensure_customer(workspace_id, None, first)
        other = await SandboxGateway(WEBHOOK_SECRET).ensure_customer(uuid.uuid4(), None, None)
        assert first == second
        assert first.startswith("cus_sandbox_")
        assert other != first


class TestPaymentMethods:
    @pytest.mark.parametrize(
        ("test_id", "brand", "last4"),
        [
            ("pm_card_visa", "visa", "4242"),
            ("pm_card_mastercard", "mastercard", "4444"),
            ("pm_card_amex", "amex", "8431"),
        ],
    )
    async def test_stripe_test_cards_attach(
        self, sandbox: SandboxGateway, customer_id: str, test_id: str, brand: str, last4: str
    ) -> None:
        card = await sandbox.attach_payment_method(customer_id, test_id)
        assert (card.brand, card.last4) == (brand, last4)
        assert card.id.startswith("pm_sandbox_")
        assert card.id != test_id
        assert card.exp_year > NOW.year

    @pytest.mark.parametrize(
        ("test_id", "decline_code"),
        [
            ("pm_card_chargeDeclined", "generic_decline"),
            ("pm_card_visa_chargeDeclined", "generic_decline"),
            ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ],
    )
    async def test_declining_cards_are_refused_at_attach(
        self, sandbox: SandboxGateway, customer_id: str, test_id: str, decline_code: str
    ) -> None:
        with pytest.raises(CardDeclinedError) as caught:
            await sandbox.attach_payment_method(customer_id, test_id)
        assert caught.value.code == "card_declined"
        assert caught.value.decline_code == decline_code

    async def test_unknown_payment_method_is_resource_missing(
        self, sandbox: SandboxGateway, customer_id: str
    ) -> None:
        with pytest.raises(GatewayRequestError) as caught:
            await sandbox.attach_payment_method(customer_id, "pm_card_unobtainium")
        assert caught.value.code == "resource_missing"
        assert "pm_card_unobtainium" in caught.value.message

    async def test_a_card_cannot_be_used_or_detached_by_another_customer(
        self, sandbox: SandboxGateway, customer_id: str
    ) -> None:
        card = await sandbox.attach_payment_method(customer_id, "pm_card_visa")
        stranger = await sandbox.ensure_customer(uuid.uuid4(), None, None)
        with pytest.raises(GatewayRequestError, match="resource_missing"):
            await _charge(sandbox, stranger, card.id)
        with pytest.raises(GatewayRequestError, match="resource_missing"):
            await sandbox.detach_payment_method(stranger, card.id)
        await sandbox.detach_payment_method(customer_id, card.id)

    async def test_setup_intent_has_a_client_secret(
        self, sandbox: SandboxGateway, customer_id: str
    ) -> None:
        intent = await sandbox.create_setup_intent(customer_id)
        assert intent.id.startswith("seti_")
        assert intent.client_secret.startswith(f"{intent.id}_secret_")


class TestCharges:
    async def test_visa_charge_succeeds_and_can_be_read_back(
        self, sandbox: SandboxGateway, customer_id: str
    ) -> None:
        card = await sandbox.attach_payment_method(customer_id, "pm_card_visa")
        result = await sandbox.charge(
            customer_id, card.id, 4_900, "usd", "invoice-1", "Pro", {"invoice_id": "1"}
        )
        assert result.status == "succeeded"
        assert result.payment_id is not None
        assert result.payment_id.startswith("pi_sandbox_")
        assert await sandbox.retrieve_payment(result.payment_id) == result

    async def test_same_key_gives_the_same_payment_even_in_another_process(
        self, sandbox: SandboxGateway, customer_id: str
    ) -> None:
        card = await sandbox.attach_payment_method(customer_id, "pm_card_visa")
        first = await _charge(sandbox, customer_id, card.id, key="invoice-7-attempt-1")
        retried = await _charge(
            SandboxGateway("whsec_other"), customer_id, card.id, key="invoice-7-attempt-1"
        )
        next_attempt = await _charge(sandbox, customer_id, card.id, key="invoice-7-attempt-2")
        assert retried == first
        assert next_attempt != first

    async def test_customer_fail_card_attaches_but_every_charge_fails(
        self, sandbox: SandboxGateway, customer_id: str
    ) -> None:
        card = await sandbox.attach_payment_method(customer_id, "pm_card_chargeCustomerFail")
        for key in ("invoice-1", "invoice-1-retry-1"):
            result = await sandbox.charge(customer_id, card.id, 4_900, "usd", key, "Pro", {})
            assert result.status == "failed"
            assert result.failure_code == "card_declined"
            assert result.payment_id is not None
            assert await sandbox.retrieve_payment(result.payment_id) == result

    async def test_authentication_required_card_asks_for_action(
        self, sandbox: SandboxGateway, customer_id: str
    ) -> None:
        card = await sandbox.attach_payment_method(customer_id, "pm_card_authenticationRequired")
        result = await sandbox.charge(customer_id, card.id, 4_900, "usd", "k", "Pro", {})
        assert (result.status, result.failure_code) == (
            "requires_action",
            "authentication_required",
        )
        assert result.payment_id is not None
        assert (await sandbox.retrieve_payment(result.payment_id)).status == "requires_action"

    async def test_amount_below_stripe_minimum_is_refused(
        self, sandbox: SandboxGateway, customer_id: str
    ) -> None:
        card = await sandbox.attach_payment_method(customer_id, "pm_card_visa")
        with pytest.raises(GatewayRequestError) as caught:
            await sandbox.charge(customer_id, card.id, 49, "usd", "tiny", "Proration", {})
        assert caught.value.code == "amount_too_small"

    @pytest.mark.parametrize(
        "payment_id", ["pi_sandbox_nothex", "pi_123", "pi_sandbox_" + "a" * 24 + "_refunded"]
    )
    async def test_unknown_payment_is_resource_missing(
        self, sandbox: SandboxGateway, payment_id: str
    ) -> None:
        with pytest.raises(GatewayRequestError, match="resource_missing"):
            await sandbox.retrieve_payment(payment_id)


class TestWebhooks:
    async def test_signed_payment_event_round_trips(
        self, sandbox: SandboxGateway, customer_id: str
    ) -> None:
        card = await sandbox.attach_payment_method(customer_id, "pm_card_visa")
        result = await sandbox.charge(customer_id, card.id, 4_900, "usd", "k", "Pro", {})
        webhook = sandbox.payment_event(result)
        event = await sandbox.parse_webhook(webhook.payload, webhook.signature_header)
        assert event.type == "payment_intent.succeeded"
        assert event.object_id == result.payment_id
        assert event.created == NOW
        assert event.id.startswith("evt_sandbox_")

    async def test_signature_matches_stripes_scheme(self, sandbox: SandboxGateway) -> None:
        payload = json.dumps(
            {
                "id": "evt_1",
                "type": "invoice.paid",
                "created": 1,
                "data": {"object": {"id": "in_1"}},
            }
        ).encode()
        header = stripe_signature(payload, WEBHOOK_SECRET, int(NOW.timestamp()))
        event = await sandbox.parse_webhook(payload, header)
        assert (event.id, event.type, event.object_id) == ("evt_1", "invoice.paid", "in_1")

    async def test_tampered_payload_is_rejected(self, sandbox: SandboxGateway) -> None:
        webhook = sandbox.sign_event("payment_intent.succeeded", "pi_1")
        tampered = webhook.payload.replace(b"pi_1", b"pi_2")
        with pytest.raises(InvalidWebhookSignature):
            await sandbox.parse_webhook(tampered, webhook.signature_header)

    @pytest.mark.parametrize("header", [None, "", "t=123", "v1=abc", "garbage"])
    async def test_missing_or_malformed_header_is_rejected(
        self, sandbox: SandboxGateway, header: str | None
    ) -> None:
        webhook = sandbox.sign_event("payment_intent.succeeded", "pi_1")
        with pytest.raises(InvalidWebhookSignature):
            await sandbox.parse_webhook(webhook.payload, header)

    async def test_other_secret_is_rejected(self, sandbox: SandboxGateway) -> None:
        webhook = SandboxGateway("whsec_someone_else", now=lambda: NOW).sign_event("x.y", "pi_1")
        with pytest.raises(InvalidWebhookSignature):
            await sandbox.parse_webhook(webhook.payload, webhook.signature_header)

    async def test_replayed_old_event_is_rejected(
        self, sandbox: SandboxGateway, clock: FrozenClock
    ) -> None:
        webhook = sandbox.sign_event("payment_intent.succeeded", "pi_1")
        clock.advance(timedelta(seconds=299))
        await sandbox.parse_webhook(webhook.payload, webhook.signature_header)
        clock.advance(timedelta(seconds=2))
        with pytest.raises(InvalidWebhookSignature, match="tolerance"):
            await sandbox.parse_webhook(webhook.payload, webhook.signature_header)

    async def test_any_of_several_signatures_may_match(self, sandbox: SandboxGateway) -> None:
        # Stripe sends one v1 per active secret while a secret is being rolled.
        webhook = sandbox.sign_event("payment_intent.succeeded", "pi_1")
        timestamp, signature = webhook.signature_header.split(",")
        header = f"{timestamp},v1={'0' * 64},{signature}"
        event = await sandbox.parse_webhook(webhook.payload, header)
        assert event.object_id == "pi_1"

    async def test_signed_garbage_is_rejected(self, sandbox: SandboxGateway) -> None:
        payload = b"not json"
        header = stripe_signature(payload, WEBHOOK_SECRET, int(NOW.timestamp()))
        with pytest.raises(InvalidWebhookPayload, match="not strict JSON"):
            await sandbox.parse_webhook(payload, header)
