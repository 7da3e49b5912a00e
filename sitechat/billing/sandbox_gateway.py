"""An offline payment gateway that answers like Stripe's test mode.

It accepts Stripe's own test payment-method ids with Stripe's meaning (`pm_card_visa` succeeds,
`pm_card_chargeDeclined` is refused when attached, `pm_card_chargeCustomerFail` attaches but
every charge fails, ...), so every billing path can be exercised offline and a client written
against the sandbox works unchanged against Stripe.

The sandbox is stateless on purpose: SiteChat runs several API and worker processes, and the
billing engine stores every outcome in PostgreSQL anyway. Every id is derived from its inputs:

- customer `cus_sandbox_<hash(workspace_id)>`;
- attached payment method `pm_sandbox_<card>_<hash(customer_id, test id)>`, so a charge can
  check that the method belongs to the customer and knows how the card behaves;
- payment `pi_sandbox_<hash(idempotency_key)>` (plus an outcome suffix for failed and
  authentication-required payments), so a retried charge returns the same payment and
  `retrieve_payment` can re-read an outcome from the id alone.

Unlike Stripe, the sandbox cannot notice an idempotency key reused with different parameters;
the billing engine stores each key with the invoice it pays.

Webhooks are signed like Stripe's (`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>">`) with the secret the sandbox is given, so the webhook route can be tested
end-to-end without Stripe.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from sitechat.billing.gateway import (
    MINIMUM_CHARGE_AMOUNT,
    CardDeclinedError,
    ChargeResult,
    GatewayEvent,
    GatewayPaymentMethod,
    GatewayRequestError,
    InvalidWebhookSignature,
    SetupIntentInfo,
    read_webhook_event,
)
from sitechat.core import clock

log = structlog.get_logger()

DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300

_CUSTOMER_PREFIX = "cus_sandbox_"
_PAYMENT_METHOD_PREFIX = "pm_sandbox_"
_PAYMENT_PREFIX = "pi_sandbox_"
_TEST_CARD_ID_PREFIX = "pm_card_"
_DECLINED_SUFFIX = "_declined"
_ACTION_SUFFIX = "_requires_action"
_CARD_DECLINED_MESSAGE = "Your card was declined."


@dataclass(frozen=True, slots=True)
class _TestCard:
    brand: str
    last4: str
    attach_error: CardDeclinedError | None = None
    charge_declined: bool = False
    requires_action: bool = False


# Keyed by the part after `pm_card_`; behaviour as documented at docs.stripe.com/testing.
_TEST_CARDS: dict[str, _TestCard] = {
    "visa": _TestCard("visa", "4242"),
    "mastercard": _TestCard("mastercard", "4444"),
    "amex": _TestCard("amex", "8431"),
    "chargeDeclined": _TestCard(
        "visa",
        "0002",
        attach_error=CardDeclinedError("card_declined", _CARD_DECLINED_MESSAGE, "generic_decline"),
    ),
    "visa_chargeDeclined": _TestCard(
        "visa",
        "0002",
        attach_error=CardDeclinedError("card_declined", _CARD_DECLINED_MESSAGE, "generic_decline"),
    ),
    "chargeDeclinedInsufficientFunds": _TestCard(
        "visa",
        "9995",
        attach_error=CardDeclinedError(
            "card_declined", "Your card has insufficient funds.", "insufficient_funds"
        ),
    ),
    "chargeDeclinedExpiredCard": _TestCard(
        "visa",
        "0069",
        attach_error=CardDeclinedError("expired_card", "Your card has expired.", "expired_card"),
    ),
    "chargeCustomerFail": _TestCard("visa", "0341", charge_declined=True),
    "authenticationRequired": _TestCard("visa", "3184", requires_action=True),
}


@dataclass(frozen=True, slots=True)
class SignedWebhook:
    payload: bytes
    signature_header: str


def _digest(*parts: str, length: int) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:length]


def _missing(kind: str, object_id: str) -> GatewayRequestError:
    return GatewayRequestError("resource_missing", f"No such {kind}: '{object_id}'")


def stripe_signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header value for `payload` signed at `timestamp`."""
    signed = str(timestamp).encode() + b"." + payload
    signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


class SandboxGateway:
    """The default `PaymentGateway`: offline, deterministic, no state of its own."""

    def __init__(
        self,
        webhook_secret: str,
        *,
        now: Callable[[], datetime] = clock.utcnow,
        webhook_tolerance_seconds: int = DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
    ) -> None:
        if not webhook_secret:
            raise ValueError("the sandbox gateway needs a webhook secret")
        self._webhook_secret = webhook_secret
        self._now = now
        self._webhook_tolerance_seconds = webhook_tolerance_seconds

    async def aclose(self) -> None:
        """Nothing to release; here so the app can close either gateway the same way."""

    # Customers and payment methods

    async def ensure_customer(
        self, workspace_id: uuid.UUID, email: str | None, existing_customer_id: str | None
    ) -> str:
        customer_id = _CUSTOMER_PREFIX + _digest(str(workspace_id), length=24)
        if existing_customer_id is not None and existing_customer_id != customer_id:
            # e.g. a Stripe customer id stored before the operator switched to the sandbox.
            log.info("billing.sandbox.customer_replaced", workspace_id=str(workspace_id))
        return customer_id

    async def attach_payment_method(
        self, customer_id: str, payment_method: str
    ) -> GatewayPaymentMethod:
        self._check_customer(customer_id)
        card_name = payment_method.removeprefix(_TEST_CARD_ID_PREFIX)
        card = (
            _TEST_CARDS.get(card_name) if payment_method.startswith(_TEST_CARD_ID_PREFIX) else None
        )
        if card is None:
            raise _missing("PaymentMethod", payment_method)
        if card.attach_error is not None:
            log.info("billing.sandbox.card_declined", card=card_name)
            error = card.attach_error
            raise CardDeclinedError(error.code, error.message, error.decline_code)
        return GatewayPaymentMethod(
            id=self._payment_method_id(customer_id, card_name),
            brand=card.brand,
            last4=card.last4,
            exp_month=12,
            # Stripe's test cards never expire; keep the expiry a few years ahead of today.
            exp_year=self._now().year + 5,
        )

    async def detach_payment_method(self, customer_id: str, pm_id: str) -> None:
        self._check_customer(customer_id)
        self._card_of(customer_id, pm_id)

    async def create_setup_intent(self, customer_id: str) -> SetupIntentInfo:
        self._check_customer(customer_id)
        # Nothing is charged through a SetupIntent, so a random id is harmless here.
        setup_intent_id = "seti_sandbox_" + secrets.token_hex(12)
        return SetupIntentInfo(
            id=setup_intent_id,
            client_secret=f"{setup_intent_id}_secret_{secrets.token_hex(12)}",
        )

    def _check_customer(self, customer_id: str) -> None:
        if not customer_id.startswith(_CUSTOMER_PREFIX):
            raise _missing("customer", customer_id)

    @staticmethod
    def _payment_method_id(customer_id: str, card_name: str) -> str:
        return f"{_PAYMENT_METHOD_PREFIX}{card_name}_{_digest(customer_id, card_name, length=16)}"

    def _card_of(self, customer_id: str, pm_id: str) -> _TestCard:
        """The test card behind an attached payment method of this customer."""
        card_name, _, _ = pm_id.removeprefix(_PAYMENT_METHOD_PREFIX).rpartition("_")
        card = _TEST_CARDS.get(card_name)
        if (
            card is None
            or not pm_id.startswith(_PAYMENT_METHOD_PREFIX)
            or pm_id != self._payment_method_id(customer_id, card_name)
        ):
            raise _missing("PaymentMethod", pm_id)
        return card

    # Payments

    async def charge(
        self,
        customer_id: str,
        pm_id: str,
        amount: int,
        currency: str,
        idempotency_key: str,
        description: str,
        metadata: dict[str, str],
    ) -> ChargeResult:
        self._check_customer(customer_id)
        card = self._card_of(customer_id, pm_id)
        _check_charge_request(amount, currency, idempotency_key)
        payment_id = _PAYMENT_PREFIX + _digest(idempotency_key, length=24)
        if card.charge_declined:
            result = _declined(payment_id + _DECLINED_SUFFIX)
        elif card.requires_action:
            result = _authentication_required(payment_id + _ACTION_SUFFIX)
        else:
            result = ChargeResult(status="succeeded", payment_id=payment_id)
        log.info("billing.sandbox.charge", status=result.status, amount=amount, currency=currency)
        return result

    async def retrieve_payment(self, payment_id: str) -> ChargeResult:
        body = payment_id.removeprefix(_PAYMENT_PREFIX)
        digest, outcome = body[:24], body[24:]
        is_hex_digest = len(digest) == 24 and all(char in "0123456789abcdef" for char in digest)
        if (
            not payment_id.startswith(_PAYMENT_PREFIX)
            or not is_hex_digest
            or outcome not in ("", _DECLINED_SUFFIX, _ACTION_SUFFIX)
        ):
            raise _missing("payment_intent", payment_id)
        if outcome == _DECLINED_SUFFIX:
            return _declined(payment_id)
        if outcome == _ACTION_SUFFIX:
            return _authentication_required(payment_id)
        return ChargeResult(status="succeeded", payment_id=payment_id)

    # Webhooks

    def sign_event(
        self, event_type: str, object_id: str, *, event_id: str | None = None
    ) -> SignedWebhook:
        """A Stripe-shaped event about `object_id`, signed with the webhook secret."""
        created = int(self._now().timestamp())
        event = {
            "id": event_id or "evt_sandbox_" + _digest(event_type, object_id, length=24),
            "object": "event",
            "type": event_type,
            "created": created,
            "data": {"object": {"id": object_id}},
        }
        payload = json.dumps(event, separators=(",", ":")).encode()
        return SignedWebhook(
            payload=payload,
            signature_header=stripe_signature_header(payload, self._webhook_secret, created),
        )

    def payment_event(self, result: ChargeResult) -> SignedWebhook:
        """The webhook Stripe would send about a charge outcome."""
        if result.payment_id is None:
            raise ValueError("a charge without a payment id has no webhook")
        event_type = {
            "succeeded": "payment_intent.succeeded",
            "failed": "payment_intent.payment_failed",
            "requires_action": "payment_intent.requires_action",
            "processing": "payment_intent.processing",
        }[result.status]
        return self.sign_event(event_type, result.payment_id)

    async def parse_webhook(self, payload: bytes, signature_header: str | None) -> GatewayEvent:
        timestamp, signatures = _parse_signature_header(signature_header)
        expected = stripe_signature_header(payload, self._webhook_secret, timestamp)
        expected_signature = expected.partition(",v1=")[2]
        if not any(hmac.compare_digest(expected_signature, given) for given in signatures):
            raise InvalidWebhookSignature("no signature matches the payload")
        age = int(self._now().timestamp()) - timestamp
        if abs(age) > self._webhook_tolerance_seconds:
            raise InvalidWebhookSignature("the signature timestamp is outside the tolerance")
        return _event_from_payload(payload)


def _declined(payment_id: str) -> ChargeResult:
    return ChargeResult(
        status="failed",
        payment_id=payment_id,
        failure_code="card_declined",
        failure_message=_CARD_DECLINED_MESSAGE,
    )


def _authentication_required(payment_id: str) -> ChargeResult:
    # What Stripe answers to an off-session charge of a card that needs 3-D Secure: the
    # customer has to come back and authenticate the payment.
    return ChargeResult(
        status="requires_action",
        payment_id=payment_id,
        failure_code="authentication_required",
        failure_message="This payment requires the customer to authenticate.",
    )


def _check_charge_request(amount: int, currency: str, idempotency_key: str) -> None:
    if not idempotency_key:
        raise ValueError("every charge needs an idempotency key")
    if len(currency) != 3 or not currency.isalpha() or not currency.islower():
        raise GatewayRequestError("invalid_currency", f"Invalid currency: {currency!r}")
    if amount < MINIMUM_CHARGE_AMOUNT.get(currency, 1):
        raise GatewayRequestError(
            "amount_too_small",
            f"Amount must be at least {MINIMUM_CHARGE_AMOUNT.get(currency, 1)} {currency} units",
        )


def _parse_signature_header(signature_header: str | None) -> tuple[int, list[str]]:
    if not signature_header:
        raise InvalidWebhookSignature("the signature header is missing")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in signature_header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidWebhookSignature("the signature header has no timestamp or no v1 signature")
    return timestamp, signatures


def _event_from_payload(payload: bytes) -> GatewayEvent:
    event, _ = read_webhook_event(payload)
    return event
