"""The Stripe payment gateway, on the official `stripe` SDK's async client.

One Stripe Customer per workspace (metadata `workspace_id`); payment methods are attached to it
and the newest becomes its default; invoices are collected with off-session PaymentIntents
confirmed at creation with the invoice's idempotency key, so a retried charge never charges
twice. Stripe errors become the gateway exceptions of `sitechat.billing.gateway`; a declined
card on a charge is a `failed` ChargeResult, not an exception.

`api_base` points the client elsewhere than api.stripe.com (the test suite runs `localstripe` on
loopback).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, NoReturn

import stripe
import structlog
from stripe._base_address import BaseAddresses
from stripe.params import (
    CustomerCreateParams,
    PaymentIntentCreateParams,
    SetupIntentCreateParams,
)

from sitechat.billing.gateway import (
    CardDeclinedError,
    ChargeResult,
    ChargeStatus,
    GatewayError,
    GatewayEvent,
    GatewayPaymentMethod,
    GatewayRequestError,
    GatewayUnavailableError,
    InvalidWebhookPayload,
    InvalidWebhookSignature,
    SetupIntentInfo,
    read_webhook_event,
)

log = structlog.get_logger()

_STATUS_BY_PAYMENT_INTENT_STATUS: dict[str, ChargeStatus] = {
    "succeeded": "succeeded",
    "requires_action": "requires_action",
    "processing": "processing",
    "requires_capture": "processing",
    "requires_confirmation": "processing",
    "requires_payment_method": "failed",
    "canceled": "failed",
}


@dataclass(frozen=True, slots=True)
class StripeGatewaySettings:
    api_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    api_base: str | None = None
    """None for api.stripe.com; e.g. `http://127.0.0.1:8420` for localstripe."""
    timeout_seconds: float = 30.0
    max_network_retries: int = 2
    webhook_tolerance_seconds: int = 300
    localstripe_compatible: bool = False
    """Leave out the PaymentIntent fields localstripe rejects (`description`,
    `automatic_payment_methods`); only the test suite sets it."""


class StripeGateway:
    def __init__(
        self, settings: StripeGatewaySettings, *, http_client: stripe.HTTPClient | None = None
    ) -> None:
        """`http_client` defaults to the SDK's async httpx client with the settings' timeout."""
        self._settings = settings
        self._http_client = http_client or stripe.HTTPXClient(timeout=settings.timeout_seconds)
        base_addresses: BaseAddresses = {}
        if settings.api_base is not None:
            base_addresses["api"] = settings.api_base
        self._client = stripe.StripeClient(
            settings.api_key,
            base_addresses=base_addresses,
            max_network_retries=settings.max_network_retries,
            http_client=self._http_client,
        )

    async def aclose(self) -> None:
        await self._http_client.close_async()  # type: ignore[no-untyped-call]

    # Customers and payment methods

    async def ensure_customer(
        self, workspace_id: uuid.UUID, email: str | None, existing_customer_id: str | None
    ) -> str:
        if existing_customer_id is not None and await self._customer_exists(existing_customer_id):
            return existing_customer_id
        params: CustomerCreateParams = {"metadata": {"workspace_id": str(workspace_id)}}
        if email is not None:
            params["email"] = email
        try:
            customer = await self._client.v1.customers.create_async(
                params,
                # A retried request or a lost response must not leave two customers behind; the
                # replaced id is part of the key so a deleted customer is really replaced.
                {"idempotency_key": f"sitechat-customer-{workspace_id}-{existing_customer_id}"},
            )
        except stripe.StripeError as error:
            _raise_gateway_error(error)
        log.info("billing.stripe.customer_created", workspace_id=str(workspace_id))
        return customer.id

    async def _customer_exists(self, customer_id: str) -> bool:
        try:
            customer = await self._client.v1.customers.retrieve_async(customer_id)
        except stripe.InvalidRequestError as error:
            if error.code == "resource_missing" or error.http_status == 404:
                return False
            _raise_gateway_error(error)
        except stripe.StripeError as error:
            _raise_gateway_error(error)
        return not getattr(customer, "deleted", False)

    async def attach_payment_method(
        self, customer_id: str, payment_method: str
    ) -> GatewayPaymentMethod:
        try:
            attached = await self._client.v1.payment_methods.attach_async(
                payment_method, {"customer": customer_id}
            )
            await self._client.v1.customers.update_async(
                customer_id, {"invoice_settings": {"default_payment_method": attached.id}}
            )
        except stripe.CardError as error:
            raise CardDeclinedError(
                error.code or "card_declined",
                error.user_message or "The card was declined.",
                _error_field(error, "decline_code"),
            ) from error
        except stripe.StripeError as error:
            _raise_gateway_error(error)
        card = attached.card
        if card is None:
            raise GatewayRequestError("unsupported_payment_method", "Only cards are supported.")
        return GatewayPaymentMethod(
            id=attached.id,
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )

    async def detach_payment_method(self, customer_id: str, pm_id: str) -> None:
        try:
            payment_method = await self._client.v1.payment_methods.retrieve_async(pm_id)
            if _object_id(payment_method.customer) != customer_id:
                # Never detach another customer's card because its id was guessed.
                raise GatewayRequestError("resource_missing", f"No such PaymentMethod: '{pm_id}'")
            await self._client.v1.payment_methods.detach_async(pm_id)
        except stripe.StripeError as error:
            _raise_gateway_error(error)

    async def create_setup_intent(self, customer_id: str) -> SetupIntentInfo:
        params: SetupIntentCreateParams = {"customer": customer_id, "usage": "off_session"}
        try:
            setup_intent = await self._client.v1.setup_intents.create_async(params)
        except stripe.StripeError as error:
            _raise_gateway_error(error)
        if setup_intent.client_secret is None:
            raise GatewayError("missing_client_secret", "Stripe returned no client secret.")
        return SetupIntentInfo(id=setup_intent.id, client_secret=setup_intent.client_secret)

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
        if not idempotency_key:
            raise ValueError("every charge needs an idempotency key")
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency,
            "customer": customer_id,
            "payment_method": pm_id,
            "confirm": True,
            "off_session": True,
            "metadata": metadata,
        }
        if not self._settings.localstripe_compatible:
            params["description"] = description
            # Nobody is there to follow a redirect, so Stripe must not ask for a return_url.
            params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": idempotency_key}
            )
        except stripe.CardError as error:
            result = await self._declined_charge_result(error)
            log.info("billing.stripe.charge_declined", code=result.failure_code, amount=amount)
            return result
        except stripe.StripeError as error:
            _raise_gateway_error(error)
        result = _charge_result(intent)
        log.info("billing.stripe.charge", status=result.status, amount=amount, currency=currency)
        return result

    async def _declined_charge_result(self, error: stripe.CardError) -> ChargeResult:
        code = error.code or "card_declined"
        return ChargeResult(
            status="requires_action" if code == "authentication_required" else "failed",
            payment_id=await self._payment_id_of_error(error),
            failure_code=code,
            failure_message=error.user_message,
        )

    async def _payment_id_of_error(self, error: stripe.CardError) -> str | None:
        body = _error_body(error)
        payment_intent = body.get("payment_intent")
        if isinstance(payment_intent, dict) and isinstance(payment_intent.get("id"), str):
            return str(payment_intent["id"])
        charge_id = body.get("charge")
        if not isinstance(charge_id, str):
            return None
        # Stripe names the PaymentIntent in the error; localstripe only names the charge.
        try:
            charge = await self._client.v1.charges.retrieve_async(charge_id)
        except stripe.StripeError:
            return None
        return _object_id(charge.payment_intent)

    async def retrieve_payment(self, payment_id: str) -> ChargeResult:
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(payment_id)
        except stripe.StripeError as error:
            _raise_gateway_error(error)
        return _charge_result(intent)

    # Webhooks

    async def parse_webhook(self, payload: bytes, signature_header: str | None) -> GatewayEvent:
        # The SDK's `construct_event` parses with `json.loads`, which accepts NaN and lone
        # surrogates and overflows the stack on deep nesting: verify with the SDK, read
        # with the strict shared reader.
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidWebhookPayload("the body is not UTF-8") from None
        try:
            stripe.WebhookSignature.verify_header(
                text,
                signature_header,
                self._settings.webhook_secret,
                tolerance=self._settings.webhook_tolerance_seconds,
            )
        except stripe.SignatureVerificationError as error:
            raise InvalidWebhookSignature("the Stripe signature does not match") from error
        event, _ = read_webhook_event(payload)
        return event


def _charge_result(intent: stripe.PaymentIntent) -> ChargeResult:
    status = _STATUS_BY_PAYMENT_INTENT_STATUS.get(intent.status, "processing")
    last_error = intent.last_payment_error
    if status != "failed" or last_error is None:
        return ChargeResult(status=status, payment_id=intent.id)
    return ChargeResult(
        status=status,
        payment_id=intent.id,
        failure_code=last_error.code or "card_declined",
        failure_message=last_error.message,
    )


def _object_id(reference: Any) -> str | None:
    """The id behind a Stripe field that is either an id string or an expanded object."""
    if reference is None or isinstance(reference, str):
        return reference
    object_id = getattr(reference, "id", None)
    return object_id if isinstance(object_id, str) else None


def _error_body(error: stripe.StripeError) -> dict[str, Any]:
    body = error.json_body.get("error") if isinstance(error.json_body, dict) else None
    return body if isinstance(body, dict) else {}


def _error_field(error: stripe.StripeError, name: str) -> str | None:
    value = _error_body(error).get(name)
    return value if isinstance(value, str) else None


def _raise_gateway_error(error: stripe.StripeError) -> NoReturn:
    code = error.code or ("resource_missing" if error.http_status == 404 else "stripe_error")
    message = error.user_message or "Stripe refused the request."
    if isinstance(error, stripe.CardError):
        raise CardDeclinedError(code, message, _error_field(error, "decline_code")) from error
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError) or (
        error.http_status is not None and error.http_status >= 500
    ):
        log.warning("billing.stripe.unavailable", code=code, http_status=error.http_status)
        raise GatewayUnavailableError(code, message) from error
    if isinstance(error, stripe.InvalidRequestError | stripe.IdempotencyError):
        raise GatewayRequestError(code, message) from error
    # Authentication and permission errors: the configured key is wrong, not the request.
    log.error("billing.stripe.error", code=code, http_status=error.http_status)
    raise GatewayError(code, message) from error
