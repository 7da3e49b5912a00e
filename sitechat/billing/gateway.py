"""The payment gateway boundary: what the billing engine needs from a payment provider.

SiteChat keeps subscriptions, invoices and usage in its own database; a gateway only stores
customers and payment methods and moves money. Two implementations exist: the offline
`SandboxGateway` (default) and `StripeGateway`. Both speak Stripe's vocabulary (ids such as
`pm_card_visa`, error codes such as `card_declined`, the `Stripe-Signature` header), so clients
behave the same against either.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import orjson

ChargeStatus = Literal["succeeded", "failed", "requires_action", "processing"]
"""`processing`: the provider has not decided yet; the outcome arrives by webhook."""

MINIMUM_CHARGE_AMOUNT: dict[str, int] = {"usd": 50, "eur": 50, "gbp": 30}
"""Smallest amount Stripe accepts per charge, in minor units. Smaller invoice totals must be
carried over to the next invoice instead of being charged."""


class GatewayError(Exception):
    """A payment provider refused or could not complete a request."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class CardDeclinedError(GatewayError):
    """The card was refused (when attached, or when charged on a flow that raises)."""

    def __init__(self, code: str, message: str, decline_code: str | None = None) -> None:
        super().__init__(code, message)
        self.decline_code = decline_code


class GatewayUnavailableError(GatewayError):
    """The provider could not be reached or failed on its side; retrying later may work."""


class GatewayRequestError(GatewayError):
    """The provider rejected the request itself, e.g. `resource_missing` for an unknown
    payment method id or `amount_too_small`. Retrying the same request will not help."""


class InvalidWebhookSignature(GatewayError):
    """A webhook body does not carry a valid, fresh signature."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_signature", message)


class InvalidWebhookPayload(GatewayError):
    """A correctly signed webhook body that is not an event we can read and store."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_payload", message)


# Stripe's events nest a handful of levels; anything much deeper is not an event.
MAX_WEBHOOK_DEPTH = 32
MAX_WEBHOOK_ID_LENGTH = 255
MAX_WEBHOOK_TYPE_LENGTH = 100
# `created` must be a datetime (year 1970 to 9999).
MAX_WEBHOOK_CREATED = 253_402_300_799


def _refuse_unstorable(value: Any) -> None:
    """Depth-limited, iterative walk: no NUL in any string or key (PostgreSQL's JSONB cannot
    hold one), no nesting deeper than `MAX_WEBHOOK_DEPTH`."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_WEBHOOK_DEPTH:
            raise InvalidWebhookPayload("the event nests too deeply")
        if isinstance(item, str):
            if "\x00" in item:
                raise InvalidWebhookPayload("the event holds a NUL character")
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    raise InvalidWebhookPayload("the event holds a NUL character")
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)


def _bounded_string(value: Any, max_length: int) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= max_length:
        return value
    return None


def read_webhook_event(payload: bytes) -> tuple[GatewayEvent, dict[str, Any]]:
    """The event and its JSON body, from a body whose signature was already verified.

    Strict (orjson): no NaN or Infinity, valid UTF-8 without lone surrogates, at most
    `MAX_WEBHOOK_DEPTH` levels, no NUL; `id` and `type` bounded strings, `created` a whole
    number of seconds in years 1970-9999, `data.object` an object. Anything else raises
    `InvalidWebhookPayload` (a 400 at the route), never a server error.
    """
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise InvalidWebhookPayload(f"the body is not strict JSON: {error}") from None
    if not isinstance(body, dict):
        raise InvalidWebhookPayload("the body is not a JSON object")
    _refuse_unstorable(body)
    event_id = _bounded_string(body.get("id"), MAX_WEBHOOK_ID_LENGTH)
    event_type = _bounded_string(body.get("type"), MAX_WEBHOOK_TYPE_LENGTH)
    created = body.get("created")
    data = body.get("data")
    data_object = data.get("object") if isinstance(data, dict) else None
    if event_id is None or event_type is None:
        raise InvalidWebhookPayload("the event needs a string `id` and `type`")
    if type(created) is not int or not 0 <= created <= MAX_WEBHOOK_CREATED:
        raise InvalidWebhookPayload("`created` must be a Unix time in seconds")
    if not isinstance(data_object, dict):
        raise InvalidWebhookPayload("the event has no `data.object`")
    object_id = data_object.get("id")
    if object_id is not None and _bounded_string(object_id, MAX_WEBHOOK_ID_LENGTH) is None:
        raise InvalidWebhookPayload("`data.object.id` must be a short string")
    event = GatewayEvent(
        id=event_id,
        type=event_type,
        object_id=object_id,
        created=datetime.fromtimestamp(created, UTC),
    )
    return event, body


@dataclass(frozen=True, slots=True)
class GatewayPaymentMethod:
    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class SetupIntentInfo:
    id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class ChargeResult:
    status: ChargeStatus
    payment_id: str | None
    failure_code: str | None = None
    failure_message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    id: str
    type: str
    """The provider's event type, e.g. `payment_intent.succeeded`."""
    object_id: str | None
    """Id of the object the event is about (re-read it: events may arrive out of order)."""
    created: datetime


class PaymentGateway(Protocol):
    async def ensure_customer(
        self, workspace_id: uuid.UUID, email: str | None, existing_customer_id: str | None
    ) -> str:
        """The provider's customer id for the workspace, creating the customer if needed."""
        ...

    async def attach_payment_method(
        self, customer_id: str, payment_method: str
    ) -> GatewayPaymentMethod:
        """Attach and make default; raises CardDeclinedError when the card is refused."""
        ...

    async def detach_payment_method(self, customer_id: str, pm_id: str) -> None: ...

    async def create_setup_intent(self, customer_id: str) -> SetupIntentInfo: ...

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
        """Charge off-session. A declined card is a `failed` result, not an exception; the
        same idempotency key always yields the same result and never a second charge."""
        ...

    async def retrieve_payment(self, payment_id: str) -> ChargeResult: ...

    async def parse_webhook(self, payload: bytes, signature_header: str | None) -> GatewayEvent:
        """Verify the signature and freshness of a webhook (InvalidWebhookSignature), then read
        it with `read_webhook_event` (InvalidWebhookPayload)."""
        ...
