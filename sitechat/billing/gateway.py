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
from datetime import datetime
from typing import Literal, Protocol

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
        """Verify the signature and freshness of a webhook; raises InvalidWebhookSignature."""
        ...
