"""Billing problems, each with a stable problem type."""

from __future__ import annotations

from sitechat.core.errors import Conflict, ProblemError, ServiceUnavailable, UnprocessableEntity


class PaymentMethodRequired(Conflict):
    slug = "payment-method-required"
    title = "Payment method required"

    def __init__(self, detail: str = "Add a payment method before choosing a paid plan.") -> None:
        super().__init__(detail)


class CardDeclined(ProblemError):
    status = 402
    slug = "card-declined"
    title = "Card declined"

    def __init__(self, detail: str, *, code: str, decline_code: str | None) -> None:
        super().__init__(detail, extra={"code": code, "decline_code": decline_code})


class InvalidPaymentMethod(UnprocessableEntity):
    slug = "invalid-payment-method"
    title = "Invalid payment method"


class UnknownPlan(UnprocessableEntity):
    slug = "unknown-plan"
    title = "Unknown plan"


class GatewayUnavailable(ServiceUnavailable):
    slug = "payment-gateway-unavailable"
    title = "Payment gateway unavailable"

    def __init__(self) -> None:
        super().__init__("The payment provider could not be reached; try again shortly.")


class InvalidSignature(ProblemError):
    status = 400
    slug = "invalid-signature"
    title = "Invalid webhook signature"


class InvalidPayload(ProblemError):
    status = 400
    slug = "invalid-payload"
    title = "Invalid webhook payload"


class PaymentFailed(ProblemError):
    """A charge needed for an immediate change failed; nothing was changed."""

    status = 402
    slug = "payment-failed"
    title = "Payment failed"

    def __init__(self, detail: str, *, code: str | None) -> None:
        super().__init__(detail, extra={"code": code})


class BillingDisabled(Conflict):
    slug = "billing-disabled"
    title = "Billing is off"

    def __init__(self) -> None:
        super().__init__(
            "Billing is off on this deployment (SITECHAT_BILLING_GATEWAY=none): plans are set "
            "by its operator with `sitechat admin set-plan`."
        )
