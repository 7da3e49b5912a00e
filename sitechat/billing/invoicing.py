"""Invoices: numbering, lines, totals, and collecting them through the payment gateway.

An invoice is created `open` with its lines and a gapless per-workspace number, then collected:
each charge is a `PaymentAttempt` whose idempotency key names the invoice and the attempt, so
a retried request never charges twice and a retry of the dunning schedule is a new charge.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.billing import repository
from sitechat.billing.gateway import (
    MINIMUM_CHARGE_AMOUNT,
    ChargeResult,
    GatewayRequestError,
    GatewayUnavailableError,
    PaymentGateway,
)
from sitechat.billing.proration import InvoiceLine as LineDraft
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound
from sitechat.core.pagination import decode_cursor, next_cursor_of
from sitechat.models.base import new_id
from sitechat.models.billing import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    PaymentAttempt,
    Subscription,
)

log = structlog.get_logger()

NO_PAYMENT_METHOD = "no_payment_method"
_CARRIED_BALANCE = "Balance carried from earlier invoices (below the minimum charge)"


@dataclass(frozen=True, slots=True)
class GatewayContext:
    """The gateway and its name, as stored on payment attempts."""

    gateway: PaymentGateway
    name: str


def idempotency_key(invoice_id: uuid.UUID, attempt_number: int) -> str:
    return f"invoice:{invoice_id}:attempt:{attempt_number}"


async def create_invoice(
    session: AsyncSession,
    *,
    subscription: Subscription,
    reason: str,
    lines: Sequence[LineDraft],
) -> Invoice:
    """An open invoice holding `lines` (plus any balance carried from earlier invoices)."""
    if not lines:
        raise ValueError("an invoice needs at least one line")
    now = utcnow()
    period_start = min(line.period_start for line in lines)
    period_end = max(line.period_end for line in lines)
    rows = [
        InvoiceLine(
            kind=line.kind,
            description=line.description[:500],
            amount=line.amount,
            quantity=line.quantity,
            period_start=line.period_start,
            period_end=line.period_end,
            plan_id=line.plan_id,
        )
        for line in lines
    ]
    if subscription.carried_balance:
        rows.append(
            InvoiceLine(
                kind="balance",
                description=_CARRIED_BALANCE,
                amount=subscription.carried_balance,
                quantity=1,
                period_start=period_start,
                period_end=period_end,
                plan_id=None,
            )
        )
        subscription.carried_balance = 0
    subtotal = sum(row.amount for row in rows)
    tax = 0  # A placeholder until a tax engine exists; clients can rely on the field.
    invoice = Invoice(
        id=new_id(),
        workspace_id=subscription.workspace_id,
        subscription_id=subscription.id,
        number=await repository.next_invoice_number(session, subscription.workspace_id),
        status=InvoiceStatus.open,
        reason=reason,
        currency=subscription.currency,
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        period_start=period_start,
        period_end=period_end,
        due_at=now,
        paid_at=None,
        created_at=now,
        updated_at=now,
    )
    session.add(invoice)
    for position, row in enumerate(rows):
        row.invoice_id = invoice.id
        row.workspace_id = invoice.workspace_id
        row.position = position
        session.add(row)
    await session.flush()
    log.info(
        "billing.invoice_created",
        workspace_id=str(invoice.workspace_id),
        invoice_id=str(invoice.id),
        number=invoice.number,
        total=invoice.total,
    )
    return invoice


def mark_paid(invoice: Invoice, at: datetime) -> None:
    invoice.status = InvoiceStatus.paid
    invoice.paid_at = at
    invoice.updated_at = at


async def collect_invoice(
    session: AsyncSession,
    gateway: GatewayContext,
    *,
    invoice: Invoice,
    subscription: Subscription,
) -> PaymentAttempt | None:
    """Try to collect an open invoice now; None when nothing had to be charged.

    A total of zero or less is paid at once (a negative total stays on the subscription as a
    credit); a total below the gateway's minimum charge is paid by carrying it to the next
    invoice, as Stripe does. Otherwise the default payment method is charged once.
    """
    now = utcnow()
    minimum = MINIMUM_CHARGE_AMOUNT.get(invoice.currency, 1)
    if invoice.total < minimum:
        subscription.carried_balance += invoice.total
        mark_paid(invoice, now)
        log.info("billing.invoice_settled_without_charge", invoice_id=str(invoice.id))
        return None
    attempt_number = await repository.count_payment_attempts(session, invoice.id) + 1
    attempt = PaymentAttempt(
        invoice_id=invoice.id,
        workspace_id=invoice.workspace_id,
        attempt_number=attempt_number,
        idempotency_key=idempotency_key(invoice.id, attempt_number),
        gateway=gateway.name,
        amount=invoice.total,
        attempted_at=now,
        updated_at=now,
    )
    result = await _charge(session, gateway.gateway, invoice, attempt)
    apply_charge_result(attempt, result, now)
    session.add(attempt)
    if result.succeeded:
        mark_paid(invoice, now)
    await session.flush()
    log.info(
        "billing.payment_attempted",
        invoice_id=str(invoice.id),
        attempt=attempt_number,
        status=attempt.status,
        failure_code=attempt.failure_code,
    )
    return attempt


async def _charge(
    session: AsyncSession, gateway: PaymentGateway, invoice: Invoice, attempt: PaymentAttempt
) -> ChargeResult:
    customer = await repository.get_customer(session, invoice.workspace_id)
    payment_method = await repository.get_default_payment_method(session, invoice.workspace_id)
    if customer is None or payment_method is None:
        return ChargeResult(
            status="failed",
            payment_id=None,
            failure_code=NO_PAYMENT_METHOD,
            failure_message="The workspace has no default payment method.",
        )
    try:
        return await gateway.charge(
            customer.customer_id,
            payment_method.gateway_pm_id,
            invoice.total,
            invoice.currency,
            attempt.idempotency_key,
            f"SiteChat invoice {invoice.number}",
            {"invoice_id": str(invoice.id), "workspace_id": str(invoice.workspace_id)},
        )
    except (GatewayRequestError, GatewayUnavailableError) as error:
        # Recorded as a failed attempt: the dunning schedule retries later with a new key.
        return ChargeResult(
            status="failed", payment_id=None, failure_code=error.code, failure_message=error.message
        )


def apply_charge_result(attempt: PaymentAttempt, result: ChargeResult, now: datetime) -> None:
    attempt.status = result.status
    if result.payment_id is not None:
        attempt.gateway_payment_id = result.payment_id
    attempt.failure_code = None if result.succeeded else result.failure_code
    attempt.failure_message = (
        None if result.succeeded or result.failure_message is None else result.failure_message[:500]
    )
    attempt.updated_at = now


@dataclass(frozen=True, slots=True)
class InvoicePage:
    items: Sequence[Invoice]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class InvoiceDetails:
    invoice: Invoice
    lines: Sequence[InvoiceLine]
    attempts: Sequence[PaymentAttempt]


async def list_invoices(
    session: AsyncSession, workspace_id: uuid.UUID, *, limit: int, cursor: str | None
) -> InvoicePage:
    """Newest first; one extra row tells whether another page exists."""
    rows = await repository.list_invoices(
        session, workspace_id, limit=limit + 1, before_id=decode_cursor(cursor)
    )
    return InvoicePage(
        items=rows[:limit], next_cursor=next_cursor_of([row.id for row in rows], limit)
    )


async def get_invoice_details(
    session: AsyncSession, workspace_id: uuid.UUID, invoice_id: uuid.UUID
) -> InvoiceDetails:
    invoice = await repository.get_invoice(session, workspace_id, invoice_id)
    if invoice is None:
        raise NotFound("Invoice")
    return InvoiceDetails(
        invoice=invoice,
        lines=await repository.invoice_lines(session, invoice.id),
        attempts=await repository.payment_attempts(session, invoice.id),
    )
