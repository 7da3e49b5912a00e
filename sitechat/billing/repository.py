"""All SQL about billing rows. Tenant reads take the caller's workspace id and scope by it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.accounts import Invitation, Membership, User
from sitechat.models.billing import (
    BillingCustomer,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceStatus,
    PaymentAttempt,
    PaymentMethod,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
)
from sitechat.models.chat import UsageEvent
from sitechat.models.chatbots import Chatbot, ChatbotStatus

MESSAGE_USAGE_KIND = "message"
"""`UsageEvent.kind` of an answered message (recorded by the chat domain)."""
PAGES_USAGE_KIND = "pages"
"""`UsageEvent.kind` of a crawl's pages: reserved when it starts, settled when it ends."""

# Customers and payment methods


async def get_customer(session: AsyncSession, workspace_id: uuid.UUID) -> BillingCustomer | None:
    statement = select(BillingCustomer).where(BillingCustomer.workspace_id == workspace_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def get_user_email(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    email = await session.scalar(select(User.email).where(User.id == user_id))
    return email


async def list_payment_methods(
    session: AsyncSession, workspace_id: uuid.UUID
) -> Sequence[PaymentMethod]:
    statement = (
        select(PaymentMethod)
        .where(PaymentMethod.workspace_id == workspace_id)
        .order_by(PaymentMethod.id.desc())
    )
    return (await session.execute(statement)).scalars().all()


async def get_payment_method(
    session: AsyncSession, workspace_id: uuid.UUID, payment_method_id: uuid.UUID
) -> PaymentMethod | None:
    statement = select(PaymentMethod).where(
        PaymentMethod.workspace_id == workspace_id, PaymentMethod.id == payment_method_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def find_payment_method_by_gateway_id(
    session: AsyncSession, workspace_id: uuid.UUID, gateway_pm_id: str
) -> PaymentMethod | None:
    statement = select(PaymentMethod).where(
        PaymentMethod.workspace_id == workspace_id, PaymentMethod.gateway_pm_id == gateway_pm_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_default_payment_method(
    session: AsyncSession, workspace_id: uuid.UUID
) -> PaymentMethod | None:
    statement = select(PaymentMethod).where(
        PaymentMethod.workspace_id == workspace_id, PaymentMethod.is_default.is_(True)
    )
    return (await session.execute(statement)).scalars().first()


async def clear_default_payment_method(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    await session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.workspace_id == workspace_id, PaymentMethod.is_default.is_(True))
        .values(is_default=False)
    )


# Subscriptions


async def get_subscription(
    session: AsyncSession, workspace_id: uuid.UUID, *, for_update: bool = False
) -> Subscription | None:
    statement = select(Subscription).where(Subscription.workspace_id == workspace_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def lock_subscription_by_id(
    session: AsyncSession, subscription_id: uuid.UUID
) -> Subscription | None:
    """Lock one subscription for a job; None if another worker holds it or it is gone."""
    statement = (
        select(Subscription)
        .where(Subscription.id == subscription_id)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def subscriptions_due_for_renewal(
    session: AsyncSession, now: datetime, *, limit: int
) -> Sequence[uuid.UUID]:
    statement = (
        select(Subscription.id)
        .where(
            Subscription.status == SubscriptionStatus.active,
            Subscription.current_period_end <= now,
        )
        .order_by(Subscription.current_period_end)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def subscriptions_due_for_retry(
    session: AsyncSession, now: datetime, *, limit: int
) -> Sequence[uuid.UUID]:
    statement = (
        select(Subscription.id)
        .where(
            Subscription.status == SubscriptionStatus.past_due,
            Subscription.next_retry_at <= now,
        )
        .order_by(Subscription.next_retry_at)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


# Invoices


async def next_invoice_number(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    """The workspace's next invoice number, without gaps.

    The upsert locks the workspace's counter row until the transaction ends, so concurrent
    invoices of one workspace queue up; a rolled-back transaction gives its number back.
    """
    statement = (
        insert(InvoiceCounter)
        .values(workspace_id=workspace_id, last_number=1)
        .on_conflict_do_update(
            index_elements=[InvoiceCounter.workspace_id],
            set_={"last_number": InvoiceCounter.last_number + 1},
        )
        .returning(InvoiceCounter.last_number)
    )
    number: int = (await session.execute(statement)).scalar_one()
    return number


async def list_invoices(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    limit: int,
    before_id: uuid.UUID | None,
) -> Sequence[Invoice]:
    statement = select(Invoice).where(Invoice.workspace_id == workspace_id)
    if before_id is not None:
        statement = statement.where(Invoice.id < before_id)
    statement = statement.order_by(Invoice.id.desc()).limit(limit)
    return (await session.execute(statement)).scalars().all()


async def get_invoice(
    session: AsyncSession, workspace_id: uuid.UUID, invoice_id: uuid.UUID
) -> Invoice | None:
    statement = select(Invoice).where(
        Invoice.workspace_id == workspace_id, Invoice.id == invoice_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_invoice_for_update(session: AsyncSession, invoice_id: uuid.UUID) -> Invoice | None:
    statement = select(Invoice).where(Invoice.id == invoice_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def open_invoices_of_subscription(
    session: AsyncSession, subscription_id: uuid.UUID
) -> Sequence[Invoice]:
    statement = (
        select(Invoice)
        .where(Invoice.subscription_id == subscription_id, Invoice.status == InvoiceStatus.open)
        .order_by(Invoice.id.desc())
    )
    return (await session.execute(statement)).scalars().all()


async def latest_invoice_of_subscription(
    session: AsyncSession, subscription_id: uuid.UUID
) -> Invoice | None:
    statement = (
        select(Invoice)
        .where(Invoice.subscription_id == subscription_id)
        .order_by(Invoice.id.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def invoice_lines(session: AsyncSession, invoice_id: uuid.UUID) -> Sequence[InvoiceLine]:
    statement = (
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id == invoice_id)
        .order_by(InvoiceLine.position)
    )
    return (await session.execute(statement)).scalars().all()


async def payment_attempts(
    session: AsyncSession, invoice_id: uuid.UUID
) -> Sequence[PaymentAttempt]:
    statement = (
        select(PaymentAttempt)
        .where(PaymentAttempt.invoice_id == invoice_id)
        .order_by(PaymentAttempt.attempt_number)
    )
    return (await session.execute(statement)).scalars().all()


async def count_payment_attempts(session: AsyncSession, invoice_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(PaymentAttempt)
        .where(PaymentAttempt.invoice_id == invoice_id)
    )
    return int(count or 0)


async def find_payment_attempt_by_payment_id(
    session: AsyncSession, gateway_payment_id: str
) -> PaymentAttempt | None:
    statement = (
        select(PaymentAttempt)
        .where(PaymentAttempt.gateway_payment_id == gateway_payment_id)
        .with_for_update()
    )
    return (await session.execute(statement)).scalars().first()


# Webhook events


async def insert_stripe_event(session: AsyncSession, event: StripeEvent) -> bool:
    """Store an event unless its id is already stored; True when it is new."""
    statement = (
        insert(StripeEvent)
        .values(
            id=event.id,
            event_id=event.event_id,
            type=event.type,
            object_id=event.object_id,
            payload=event.payload,
            received_at=event.received_at,
        )
        .on_conflict_do_nothing(index_elements=[StripeEvent.event_id])
        .returning(StripeEvent.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def get_stripe_event_for_update(session: AsyncSession, event_id: str) -> StripeEvent | None:
    statement = select(StripeEvent).where(StripeEvent.event_id == event_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


# Usage


async def lock_workspace_quota(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    """Serialize quota checks of one workspace until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('quota:' || :workspace_id))"),
        {"workspace_id": str(workspace_id)},
    )


async def count_chatbots(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Chatbot)
        .where(Chatbot.workspace_id == workspace_id, Chatbot.status != ChatbotStatus.archived)
    )
    return int(count or 0)


async def count_members(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Membership).where(Membership.workspace_id == workspace_id)
    )
    return int(count or 0)


def crawl_usage_key(crawl_job_id: uuid.UUID) -> str:
    return f"crawl:{crawl_job_id}"


def source_run_usage_key(run_id: uuid.UUID) -> str:
    return f"source-run:{run_id}"


async def sum_pages(
    session: AsyncSession, workspace_id: uuid.UUID, start: datetime, end: datetime
) -> int:
    """Pages of crawls started in the period (indexed by finished ones, reserved by the rest)
    and pages indexed by file-source runs in it.

    Kept in `usage_events`, which outlive the chatbots, crawls and sources they count."""
    total = await session.scalar(
        select(func.coalesce(func.sum(UsageEvent.quantity), 0)).where(
            UsageEvent.workspace_id == workspace_id,
            UsageEvent.kind == PAGES_USAGE_KIND,
            UsageEvent.occurred_at >= start,
            UsageEvent.occurred_at < end,
        )
    )
    return int(total or 0)


def add_usage_event(session: AsyncSession, event: UsageEvent) -> None:
    session.add(event)


async def set_crawl_pages(session: AsyncSession, crawl_job_id: uuid.UUID, pages: int) -> None:
    await session.execute(
        update(UsageEvent)
        .where(UsageEvent.event_key == crawl_usage_key(crawl_job_id))
        .values(quantity=pages)
    )


async def count_open_invitations(
    session: AsyncSession, workspace_id: uuid.UUID, now: datetime
) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Invitation)
        .where(
            Invitation.workspace_id == workspace_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
    )
    return int(count or 0)


async def sum_messages(
    session: AsyncSession, workspace_id: uuid.UUID, start: datetime, end: datetime
) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(UsageEvent.quantity), 0)).where(
            UsageEvent.workspace_id == workspace_id,
            UsageEvent.kind == MESSAGE_USAGE_KIND,
            UsageEvent.occurred_at >= start,
            UsageEvent.occurred_at < end,
        )
    )
    return int(total or 0)
