"""Stripe webhooks: verified, stored once by event id, then processed in a job.

Processing never trusts the event body or the delivery order: it re-reads the payment from
the gateway and derives the attempt, invoice and subscription state from that object, so a
late `payment_failed` after a `succeeded` changes nothing and a replayed event is a no-op.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.audit.service import record_audit_event
from sitechat.billing import invoicing, repository
from sitechat.billing.errors import InvalidPayload, InvalidSignature
from sitechat.billing.gateway import (
    ChargeResult,
    GatewayEvent,
    InvalidWebhookPayload,
    InvalidWebhookSignature,
    read_webhook_event,
)
from sitechat.billing.invoicing import GatewayContext
from sitechat.billing.renewal import mark_recovered
from sitechat.core.clock import utcnow
from sitechat.models.base import new_id
from sitechat.models.billing import (
    InvoiceStatus,
    PaymentAttempt,
    StripeEvent,
    SubscriptionStatus,
)

log = structlog.get_logger()

PAYMENT_EVENT_PREFIX = "payment_intent."


async def receive_stripe_event(
    session: AsyncSession, gateway: GatewayContext, payload: bytes, signature: str | None
) -> tuple[GatewayEvent, bool]:
    """Verify and store an event; the flag is False for an event id already stored."""
    try:
        event = await gateway.gateway.parse_webhook(payload, signature)
    except InvalidWebhookSignature as error:
        log.warning("billing.webhook_rejected", reason=error.message)
        raise InvalidSignature("The webhook signature is invalid or too old.") from error
    except InvalidWebhookPayload as error:
        log.warning("billing.webhook_unreadable", reason=error.message)
        raise InvalidPayload(f"The signed body is not a readable event: {error.message}") from None
    # Read again as stored: the gateway's reader already accepted this body.
    _, body = read_webhook_event(payload)
    stored = StripeEvent(
        id=new_id(),
        event_id=event.id,
        type=event.type,
        object_id=event.object_id,
        payload=body,
        received_at=utcnow(),
    )
    is_new = await repository.insert_stripe_event(session, stored)
    log.info("billing.webhook_received", event_id=event.id, type=event.type, new=is_new)
    return event, is_new


async def process_stripe_event(
    session: AsyncSession, gateway: GatewayContext, event_id: str
) -> None:
    event = await repository.get_stripe_event_for_update(session, event_id)
    if event is None or event.processed_at is not None:
        return
    if event.type.startswith(PAYMENT_EVENT_PREFIX) and event.object_id:
        attempt = await repository.find_payment_attempt_by_payment_id(session, event.object_id)
        if attempt is None:
            log.info("billing.webhook_unknown_payment", event_id=event_id)
        else:
            # Gateway errors propagate: the job is retried and the event stays unprocessed.
            payment = await gateway.gateway.retrieve_payment(event.object_id)
            await settle_payment(session, attempt, payment)
    event.processed_at = utcnow()
    log.info("billing.webhook_processed", event_id=event_id, type=event.type)


async def settle_payment(
    session: AsyncSession, attempt: PaymentAttempt, payment: ChargeResult
) -> None:
    """Bring the attempt, its invoice and its subscription in line with the payment."""
    now = utcnow()
    invoicing.apply_charge_result(attempt, payment, now)
    invoice = await repository.get_invoice_for_update(session, attempt.invoice_id)
    if invoice is None or not payment.succeeded:
        return
    if invoice.status in (InvoiceStatus.open, InvoiceStatus.uncollectible):
        invoicing.mark_paid(invoice, now)
    elif invoice.status is InvoiceStatus.void:
        log.warning("billing.payment_for_void_invoice", invoice_id=str(invoice.id))
        return
    if invoice.subscription_id is None:
        return
    subscription = await repository.get_subscription(session, invoice.workspace_id, for_update=True)
    if subscription is None or subscription.id != invoice.subscription_id:
        return
    if subscription.status in (SubscriptionStatus.incomplete, SubscriptionStatus.past_due):
        if await repository.open_invoices_of_subscription(session, subscription.id):
            return
        mark_recovered(subscription)
        record_audit_event(
            session,
            action="billing.subscription_activated",
            workspace_id=subscription.workspace_id,
            details={
                "subscription_id": str(subscription.id),
                "plan_id": subscription.plan_id,
                "invoice": invoice.number,
                "source": "webhook",
            },
        )
