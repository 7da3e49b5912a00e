"""Billing: gateway customers, payment methods, subscriptions, invoices, payments, webhooks.

The plan catalog lives in code (`sitechat.billing.plans`); rows store plan ids and the amounts
actually charged, so a later price change never rewrites history. Money is in integer minor
units.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sitechat.models.base import Base, IdMixin, TimestampMixin, enum_type


class SubscriptionStatus(StrEnum):
    active = "active"
    past_due = "past_due"
    canceled = "canceled"
    incomplete = "incomplete"
    """The first payment has not succeeded yet; the workspace stays on free meanwhile."""


# The statuses in which a subscription's plan applies (a past-due one keeps it while retried).
PLAN_IN_FORCE = (SubscriptionStatus.active, SubscriptionStatus.past_due)


class InvoiceStatus(StrEnum):
    draft = "draft"
    open = "open"
    paid = "paid"
    void = "void"
    uncollectible = "uncollectible"


class SubscriptionInterval(StrEnum):
    month = "month"
    year = "year"


class BillingCustomer(IdMixin, TimestampMixin, Base):
    """The workspace's customer at the payment gateway."""

    __tablename__ = "billing_customers"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), unique=True
    )
    gateway: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(255))


class PaymentMethod(IdMixin, TimestampMixin, Base):
    __tablename__ = "payment_methods"
    __table_args__ = (UniqueConstraint("workspace_id", "gateway_pm_id"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    gateway_pm_id: Mapped[str] = mapped_column(String(255))
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(SmallInteger)
    exp_year: Mapped[int] = mapped_column(SmallInteger)
    is_default: Mapped[bool] = mapped_column(default=False)


class Subscription(IdMixin, TimestampMixin, Base):
    """At most one per workspace; a workspace without one (or with a canceled one) is on free."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_status_period_end", "status", "current_period_end"),
        Index("ix_subscriptions_status_next_retry", "status", "next_retry_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), unique=True
    )
    plan_id: Mapped[str] = mapped_column(String(32))
    interval: Mapped[SubscriptionInterval] = mapped_column(
        enum_type(SubscriptionInterval, "billing_interval")
    )
    status: Mapped[SubscriptionStatus] = mapped_column(
        enum_type(SubscriptionStatus, "subscription_status")
    )
    price: Mapped[int] = mapped_column(BigInteger)
    """What the current period was charged at (minor units), the base of proration credits."""
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    current_period_start: Mapped[datetime]
    current_period_end: Mapped[datetime]
    anchor_day: Mapped[int] = mapped_column(SmallInteger)
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    pending_plan_id: Mapped[str | None] = mapped_column(String(32))
    pending_interval: Mapped[SubscriptionInterval | None] = mapped_column(
        enum_type(SubscriptionInterval, "billing_interval")
    )
    dunning_retries: Mapped[int] = mapped_column(SmallInteger, default=0)
    """Renewal charge retries made since the subscription became past_due."""
    next_retry_at: Mapped[datetime | None]
    carried_balance: Mapped[int] = mapped_column(BigInteger, default=0)
    """Amounts too small to charge (below the gateway minimum), added to the next invoice."""
    canceled_at: Mapped[datetime | None]
    usage_carried_from: Mapped[datetime | None]
    """Start of the usage month a billing-interval change interrupted: the new period's first
    usage month counts from there (`billing/usage.py`), so the change resets no counter."""
    granted: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Given by the operator (`sitechat admin set-plan`): renews without an invoice or charge."""


class InvoiceCounter(Base):
    """The last invoice number used per workspace; its row lock keeps numbers gapless."""

    __tablename__ = "invoice_counters"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    last_number: Mapped[int] = mapped_column(Integer)


class Invoice(IdMixin, TimestampMixin, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number"),
        Index("ix_invoices_workspace_created", "workspace_id", "id"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[InvoiceStatus] = mapped_column(enum_type(InvoiceStatus, "invoice_status"))
    reason: Mapped[str] = mapped_column(String(32))
    """`subscription_create`, `subscription_update` or `subscription_cycle`."""
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    due_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]


class InvoiceLine(IdMixin, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (Index("ix_invoice_lines_invoice", "invoice_id", "position"),)

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(500))
    amount: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    plan_id: Mapped[str | None] = mapped_column(String(32))


class PaymentAttempt(IdMixin, Base):
    __tablename__ = "payment_attempts"
    __table_args__ = (UniqueConstraint("invoice_id", "attempt_number"),)

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    attempt_number: Mapped[int] = mapped_column(SmallInteger)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    gateway: Mapped[str] = mapped_column(String(32))
    gateway_payment_id: Mapped[str | None] = mapped_column(String(255), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32))
    """The gateway's `ChargeStatus`: succeeded, failed, requires_action or processing."""
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    attempted_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StripeEvent(IdMixin, Base):
    """A webhook event stored before it is processed: its id makes delivery idempotent."""

    __tablename__ = "stripe_events"

    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
