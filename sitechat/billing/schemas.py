"""Request and response bodies of the billing API. Money is in integer minor units (cents)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sitechat.billing.plans import Plan
from sitechat.billing.service import SubscriptionState
from sitechat.models.billing import Invoice, InvoiceLine, PaymentAttempt, PaymentMethod

Interval = Literal["month", "year"]


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PlanPricesRead(_Read):
    month: int = Field(description="Price per month, in minor units.", examples=[1900])
    year: int = Field(description="Price per year, in minor units.", examples=[19000])


class PlanLimitsRead(_Read):
    chatbots: int
    messages_per_month: int
    pages_per_month: int
    members: int
    crawl_max_pages: int
    file_max_bytes: int = Field(description="Largest file a file source may upload.")
    syncs_per_week: int = Field(description="Scheduled re-sync: 1 allows `weekly`, 7 `daily` too.")


class PlanRead(_Read):
    id: str = Field(examples=["starter"])
    name: str = Field(examples=["Starter"])
    currency: str = Field(examples=["usd"])
    prices: PlanPricesRead
    limits: PlanLimitsRead
    features: list[str]

    @classmethod
    def of(cls, plan: Plan) -> PlanRead:
        return cls(
            id=plan.id,
            name=plan.name,
            currency=plan.currency,
            prices=PlanPricesRead.model_validate(plan.prices),
            limits=PlanLimitsRead.model_validate(plan.limits),
            features=list(plan.features),
        )


class PlanList(BaseModel):
    items: list[PlanRead]
    next_cursor: str | None = None


class SubscriptionCreate(BaseModel):
    """Subscribe, or change the plan or billing interval of the current subscription."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"plan_id": "starter", "interval": "month"}]},
    )

    plan_id: str = Field(min_length=1, max_length=32)
    interval: Interval = "month"


class SubscriptionRead(BaseModel):
    id: uuid.UUID | None = Field(description="None while the workspace never subscribed.")
    plan_id: str = Field(description="The subscribed plan.", examples=["starter"])
    effective_plan_id: str = Field(
        description="The plan whose limits apply now: `free` unless the subscription is "
        "active or past due."
    )
    status: Literal["active", "past_due", "canceled", "incomplete"]
    interval: Interval | None
    price: int | None = Field(description="Charged per period, in minor units.")
    currency: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    pending_plan_id: str | None = Field(description="Plan taking effect at the period end.")
    pending_interval: Interval | None
    next_retry_at: datetime | None = Field(description="Next payment retry while past due.")
    latest_invoice_id: uuid.UUID | None
    latest_invoice_status: str | None

    @classmethod
    def of(cls, state: SubscriptionState) -> SubscriptionRead:
        subscription, latest = state.subscription, state.latest_invoice
        if subscription is None:
            return cls(
                id=None,
                plan_id=state.plan.id,
                effective_plan_id=state.plan.id,
                status="active",
                interval=None,
                price=None,
                currency=state.plan.currency,
                current_period_start=None,
                current_period_end=None,
                cancel_at_period_end=False,
                pending_plan_id=None,
                pending_interval=None,
                next_retry_at=None,
                latest_invoice_id=None,
                latest_invoice_status=None,
            )
        return cls(
            id=subscription.id,
            plan_id=subscription.plan_id,
            effective_plan_id=state.plan.id,
            status=subscription.status.value,
            interval=subscription.interval.value,
            price=subscription.price,
            currency=subscription.currency,
            current_period_start=subscription.current_period_start,
            current_period_end=subscription.current_period_end,
            cancel_at_period_end=subscription.cancel_at_period_end,
            pending_plan_id=subscription.pending_plan_id,
            pending_interval=(
                subscription.pending_interval.value if subscription.pending_interval else None
            ),
            next_retry_at=subscription.next_retry_at,
            latest_invoice_id=latest.id if latest else None,
            latest_invoice_status=latest.status.value if latest else None,
        )


class PaymentMethodCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"payment_method": "pm_card_visa"}]}
    )

    payment_method: str = Field(
        min_length=3,
        max_length=255,
        pattern=r"^[A-Za-z0-9_]+$",
        description="A gateway payment-method id, e.g. Stripe's test `pm_card_visa`, or the "
        "id a SetupIntent produced.",
    )


class PaymentMethodRead(_Read):
    id: uuid.UUID
    brand: str = Field(examples=["visa"])
    last4: str = Field(examples=["4242"])
    exp_month: int
    exp_year: int
    is_default: bool
    created_at: datetime

    @classmethod
    def of(cls, method: PaymentMethod) -> PaymentMethodRead:
        return cls.model_validate(method)


class PaymentMethodList(BaseModel):
    items: list[PaymentMethodRead]
    next_cursor: str | None = None


class SetupIntentRead(BaseModel):
    id: str
    client_secret: str = Field(description="Hand to Stripe.js to collect a card.")


class InvoiceLineRead(_Read):
    kind: str = Field(examples=["plan", "proration_credit", "proration_charge", "balance"])
    description: str
    amount: int = Field(description="Signed, in minor units: credits are negative.")
    quantity: int
    period_start: datetime
    period_end: datetime
    plan_id: str | None


class PaymentAttemptRead(_Read):
    id: uuid.UUID
    attempt_number: int
    amount: int
    status: str = Field(examples=["succeeded", "failed", "requires_action", "processing"])
    failure_code: str | None
    failure_message: str | None
    attempted_at: datetime


class InvoiceSummary(_Read):
    id: uuid.UUID
    number: int = Field(description="Sequential per workspace, without gaps.")
    status: Literal["draft", "open", "paid", "void", "uncollectible"]
    reason: str = Field(examples=["subscription_create", "subscription_update"])
    currency: str
    subtotal: int
    tax: int
    total: int
    period_start: datetime
    period_end: datetime
    due_at: datetime
    paid_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceSummary:
        return cls.model_validate(invoice)


class InvoiceRead(InvoiceSummary):
    lines: list[InvoiceLineRead]
    payment_attempts: list[PaymentAttemptRead]

    @classmethod
    def with_details(
        cls,
        invoice: Invoice,
        lines: list[InvoiceLine],
        attempts: list[PaymentAttempt],
    ) -> InvoiceRead:
        summary = InvoiceSummary.model_validate(invoice)
        return cls(
            **summary.model_dump(),
            lines=[InvoiceLineRead.model_validate(line) for line in lines],
            payment_attempts=[PaymentAttemptRead.model_validate(item) for item in attempts],
        )


class InvoiceList(BaseModel):
    items: list[InvoiceSummary]
    next_cursor: str | None = None


class UsageCounters(BaseModel):
    chatbots: int
    messages: int
    pages: int
    members: int


class UsageRead(BaseModel):
    period_start: datetime
    period_end: datetime
    plan_id: str
    usage: UsageCounters
    limits: UsageCounters


class WebhookReceipt(BaseModel):
    received: bool = True
    duplicate: bool = Field(description="True when this event id was already received.")
