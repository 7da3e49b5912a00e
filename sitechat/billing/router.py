"""HTTP routes of billing: plans, subscription, payment methods, invoices, usage, webhooks.

Roles: changing the subscription or the payment methods needs the owner; reading them (and
invoices) needs an admin; usage is readable by every member; plans and the Stripe webhook
are public (the webhook is authenticated by its signature).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Header, Query, Request, status

from sitechat.auth.dependencies import AdminDep, CallerDep, OwnerDep
from sitechat.billing import invoicing, payment_methods, service, usage
from sitechat.billing.dependencies import GatewayDep, PlansDep
from sitechat.billing.schemas import (
    InvoiceList,
    InvoiceRead,
    InvoiceSummary,
    PaymentMethodCreate,
    PaymentMethodList,
    PaymentMethodRead,
    PlanList,
    PlanRead,
    SetupIntentRead,
    SubscriptionCreate,
    SubscriptionRead,
    UsageCounters,
    UsageRead,
    WebhookReceipt,
)
from sitechat.billing.webhooks import receive_stripe_event
from sitechat.core.db import JobBufferDep, SessionDep
from sitechat.core.errors import problem_responses
from sitechat.core.routing import api_router

MAX_PAGE_SIZE = 100
MAX_WEBHOOK_SIGNATURE_LENGTH = 2_000

router = api_router(prefix="/billing", tags=["billing"])


@router.get("/plans", response_model=PlanList)
async def list_plans(plans: PlansDep) -> PlanList:
    """The plan catalog with monthly and yearly prices (minor units) and limits. Public."""
    return PlanList(items=[PlanRead.of(plan) for plan in plans.plans])


# Subscription


@router.get("/subscription", response_model=SubscriptionRead, responses=problem_responses(403))
async def get_subscription(
    session: SessionDep, plans: PlansDep, caller: AdminDep
) -> SubscriptionRead:
    """The workspace's subscription; a workspace that never subscribed is on `free`."""
    state = await service.get_subscription_state(session, plans, caller.workspace_id)
    return SubscriptionRead.of(state)


@router.post(
    "/subscription",
    response_model=SubscriptionRead,
    responses=problem_responses(402, 403, 409, 422, 503),
)
async def change_subscription(
    body: SubscriptionCreate,
    session: SessionDep,
    plans: PlansDep,
    caller: OwnerDep,
    gateway: GatewayDep,
) -> SubscriptionRead:
    """Subscribe, upgrade, downgrade or change the billing interval.

    - Subscribing charges the first period at once. If that payment fails the subscription is
      `incomplete` (the workspace stays on free); subscribe again after adding another card.
    - An upgrade (a higher plan, or monthly to yearly) takes effect now: one invoice credits
      the unused time on the old plan and charges the rest of the period on the new one. If
      that charge fails, 402 `payment-failed` and nothing changes.
    - A downgrade (a lower plan, or yearly to monthly) is scheduled for the period end and
      shown as `pending_plan_id` / `pending_interval`.

    Paid plans need a default payment method (409 `payment-method-required`); impossible
    changes are 409 `invalid-state-transition`.
    """
    state = await service.change_subscription(
        session, plans, gateway, caller, plan_id=body.plan_id, interval=body.interval
    )
    return SubscriptionRead.of(state)


@router.delete(
    "/subscription", response_model=SubscriptionRead, responses=problem_responses(403, 409)
)
async def cancel_subscription(
    session: SessionDep, plans: PlansDep, caller: OwnerDep
) -> SubscriptionRead:
    """Cancel at the end of the period (`cancel_at_period_end`); an unpaid subscription
    (`incomplete` or `past_due`) ends at once."""
    return SubscriptionRead.of(await service.cancel_subscription(session, plans, caller))


@router.post(
    "/subscription/resume", response_model=SubscriptionRead, responses=problem_responses(403, 409)
)
async def resume_subscription(
    session: SessionDep, plans: PlansDep, caller: OwnerDep
) -> SubscriptionRead:
    """Undo a cancel before the period ends."""
    return SubscriptionRead.of(await service.resume_subscription(session, plans, caller))


@router.delete(
    "/subscription/pending-change",
    response_model=SubscriptionRead,
    responses=problem_responses(403, 409),
)
async def cancel_pending_change(
    session: SessionDep, plans: PlansDep, caller: OwnerDep
) -> SubscriptionRead:
    """Drop a scheduled downgrade or interval change; the current plan renews as it is."""
    return SubscriptionRead.of(await service.cancel_pending_change(session, plans, caller))


# Payment methods


@router.get("/payment-methods", response_model=PaymentMethodList, responses=problem_responses(403))
async def list_payment_methods(session: SessionDep, caller: AdminDep) -> PaymentMethodList:
    """The workspace's cards, newest first; renewals charge the default one."""
    methods = await payment_methods.list_payment_methods(session, caller.workspace_id)
    return PaymentMethodList(items=[PaymentMethodRead.of(method) for method in methods])


@router.post(
    "/payment-methods",
    response_model=PaymentMethodRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(402, 403, 422, 503),
)
async def add_payment_method(
    body: PaymentMethodCreate, session: SessionDep, caller: OwnerDep, gateway: GatewayDep
) -> PaymentMethodRead:
    """Attach a card by gateway id (e.g. `pm_card_visa`) and make it the default.

    A card refused when attached answers 402 `card-declined`; an unknown id 422.
    """
    method = await payment_methods.add_payment_method(session, gateway, caller, body.payment_method)
    return PaymentMethodRead.of(method)


@router.delete(
    "/payment-methods/{payment_method_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(403, 404, 409, 503),
)
async def remove_payment_method(
    payment_method_id: uuid.UUID,
    session: SessionDep,
    plans: PlansDep,
    caller: OwnerDep,
    gateway: GatewayDep,
) -> None:
    """Detach a card. The only card of a paid subscription that renews cannot be removed."""
    await payment_methods.remove_payment_method(session, plans, gateway, caller, payment_method_id)


@router.post(
    "/payment-methods/{payment_method_id}/default",
    response_model=PaymentMethodRead,
    responses=problem_responses(403, 404),
)
async def set_default_payment_method(
    payment_method_id: uuid.UUID, session: SessionDep, caller: OwnerDep
) -> PaymentMethodRead:
    """Make this card the one renewals and upgrades charge."""
    method = await payment_methods.set_default_payment_method(session, caller, payment_method_id)
    return PaymentMethodRead.of(method)


@router.post(
    "/setup-intent",
    response_model=SetupIntentRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(403, 503),
)
async def create_setup_intent(
    session: SessionDep, caller: OwnerDep, gateway: GatewayDep
) -> SetupIntentRead:
    """A SetupIntent for collecting a card in the browser with Stripe.js; post the resulting
    payment-method id to `/billing/payment-methods`."""
    intent = await payment_methods.create_setup_intent(session, gateway, caller)
    return SetupIntentRead(id=intent.id, client_secret=intent.client_secret)


# Invoices and usage


@router.get("/invoices", response_model=InvoiceList, responses=problem_responses(400, 403))
async def list_invoices(
    session: SessionDep,
    caller: AdminDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> InvoiceList:
    """The workspace's invoices, newest first (`next_cursor` pages on)."""
    page = await invoicing.list_invoices(session, caller.workspace_id, limit=limit, cursor=cursor)
    return InvoiceList(
        items=[InvoiceSummary.of(invoice) for invoice in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/invoices/{invoice_id}", response_model=InvoiceRead, responses=problem_responses(403, 404)
)
async def get_invoice(invoice_id: uuid.UUID, session: SessionDep, caller: AdminDep) -> InvoiceRead:
    """One invoice with its lines (plan, proration credit and charge) and payment attempts."""
    details = await invoicing.get_invoice_details(session, caller.workspace_id, invoice_id)
    return InvoiceRead.with_details(details.invoice, list(details.lines), list(details.attempts))


@router.get("/usage", response_model=UsageRead)
async def get_usage(session: SessionDep, plans: PlansDep, caller: CallerDep) -> UsageRead:
    """This period's counters against the plan's limits (free plan: the calendar month)."""
    report = await usage.usage_report(session, plans, caller.workspace_id)
    return UsageRead(
        period_start=report.period.start,
        period_end=report.period.end,
        plan_id=report.plan.id,
        usage=UsageCounters(**report.usage),
        limits=UsageCounters(**report.limits),
    )


# Webhooks


@router.post(
    "/webhooks/stripe",
    response_model=WebhookReceipt,
    responses=problem_responses(400),
    include_in_schema=True,
)
async def receive_stripe_webhook(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    jobs: JobBufferDep,
    stripe_signature: Annotated[
        str | None, Header(alias="Stripe-Signature", max_length=MAX_WEBHOOK_SIGNATURE_LENGTH)
    ] = None,
) -> WebhookReceipt:
    """Stripe's webhook endpoint. The signature is verified (400 `invalid-signature`), then
    the body is read strictly (400 `invalid-payload` for a signed body that is not a readable
    event: NaN, lone surrogates, NUL, deep nesting, an impossible `created`...); each event is
    stored once by id and processed by a job; a repeated id is acknowledged and ignored."""
    payload = await request.body()
    event, is_new = await receive_stripe_event(session, gateway, payload, stripe_signature)
    if is_new:
        jobs.defer("billing.process_stripe_event", event_id=event.id)
    return WebhookReceipt(duplicate=not is_new)
