"""Payment methods: the gateway customer, attaching cards, the default card, SetupIntents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.audit.service import record_audit_event
from sitechat.auth.caller import Caller
from sitechat.billing import repository
from sitechat.billing.errors import (
    CardDeclined,
    GatewayUnavailable,
    InvalidPaymentMethod,
    PaymentMethodRequired,
)
from sitechat.billing.gateway import (
    CardDeclinedError,
    GatewayError,
    GatewayRequestError,
    GatewayUnavailableError,
    SetupIntentInfo,
)
from sitechat.billing.invoicing import GatewayContext
from sitechat.billing.plans import PlanCatalog
from sitechat.billing.service import effective_plan
from sitechat.core.errors import NotFound
from sitechat.models.billing import BillingCustomer, PaymentMethod

log = structlog.get_logger()


def _audit(session: AsyncSession, caller: Caller, action: str, method: PaymentMethod) -> None:
    record_audit_event(
        session,
        action=action,
        workspace_id=caller.workspace_id,
        actor_user_id=caller.user_id,
        actor_api_key_id=caller.api_key_id,
        details={"payment_method_id": str(method.id), "brand": method.brand, "last4": method.last4},
    )


async def ensure_customer(
    session: AsyncSession, gateway: GatewayContext, caller: Caller
) -> BillingCustomer:
    customer = await repository.get_customer(session, caller.workspace_id)
    existing_id = customer.customer_id if customer and customer.gateway == gateway.name else None
    email = await repository.get_user_email(session, caller.user_id) if caller.user_id else None
    try:
        customer_id = await gateway.gateway.ensure_customer(caller.workspace_id, email, existing_id)
    except GatewayError as error:
        raise GatewayUnavailable() from error
    if customer is None:
        customer = BillingCustomer(
            workspace_id=caller.workspace_id, gateway=gateway.name, customer_id=customer_id
        )
        session.add(customer)
    else:
        customer.gateway = gateway.name
        customer.customer_id = customer_id
    await session.flush()
    return customer


async def list_payment_methods(
    session: AsyncSession, workspace_id: uuid.UUID
) -> Sequence[PaymentMethod]:
    return await repository.list_payment_methods(session, workspace_id)


async def add_payment_method(
    session: AsyncSession, gateway: GatewayContext, caller: Caller, token: str
) -> PaymentMethod:
    """Attach a gateway payment method (e.g. `pm_card_visa`) and make it the default."""
    customer = await ensure_customer(session, gateway, caller)
    try:
        attached = await gateway.gateway.attach_payment_method(customer.customer_id, token)
    except CardDeclinedError as error:
        raise CardDeclined(
            error.message, code=error.code, decline_code=error.decline_code
        ) from error
    except GatewayRequestError as error:
        raise InvalidPaymentMethod(error.message) from error
    except (GatewayUnavailableError, GatewayError) as error:
        raise GatewayUnavailable() from error
    await repository.clear_default_payment_method(session, caller.workspace_id)
    method = await repository.find_payment_method_by_gateway_id(
        session, caller.workspace_id, attached.id
    )
    if method is None:
        method = PaymentMethod(workspace_id=caller.workspace_id, gateway_pm_id=attached.id)
        session.add(method)
    method.brand = attached.brand
    method.last4 = attached.last4
    method.exp_month = attached.exp_month
    method.exp_year = attached.exp_year
    method.is_default = True
    await session.flush()
    _audit(session, caller, "billing.payment_method_added", method)
    return method


async def _get(
    session: AsyncSession, caller: Caller, payment_method_id: uuid.UUID
) -> PaymentMethod:
    method = await repository.get_payment_method(session, caller.workspace_id, payment_method_id)
    if method is None:
        raise NotFound("Payment method")
    return method


async def set_default_payment_method(
    session: AsyncSession, caller: Caller, payment_method_id: uuid.UUID
) -> PaymentMethod:
    method = await _get(session, caller, payment_method_id)
    await repository.clear_default_payment_method(session, caller.workspace_id)
    method.is_default = True
    await session.flush()
    _audit(session, caller, "billing.payment_method_made_default", method)
    return method


async def remove_payment_method(
    session: AsyncSession,
    plans: PlanCatalog,
    gateway: GatewayContext,
    caller: Caller,
    payment_method_id: uuid.UUID,
) -> None:
    """Detach a card; the newest remaining card becomes the default if this one was."""
    method = await _get(session, caller, payment_method_id)
    methods = await repository.list_payment_methods(session, caller.workspace_id)
    subscription = await repository.get_subscription(session, caller.workspace_id)
    renews_paid_plan = (
        subscription is not None
        and not effective_plan(plans, subscription).is_free
        and not subscription.cancel_at_period_end
    )
    if len(methods) == 1 and renews_paid_plan:
        raise PaymentMethodRequired(
            "A paid subscription renews with this card; add another card or cancel first."
        )
    customer = await repository.get_customer(session, caller.workspace_id)
    if customer is not None:
        try:
            await gateway.gateway.detach_payment_method(customer.customer_id, method.gateway_pm_id)
        except GatewayRequestError:
            # Already gone at the gateway (or attached under another gateway): forget it here.
            log.info("billing.payment_method_missing_at_gateway", payment_method_id=str(method.id))
        except GatewayError as error:
            raise GatewayUnavailable() from error
    _audit(session, caller, "billing.payment_method_removed", method)
    await session.delete(method)
    if method.is_default:
        remaining = [other for other in methods if other.id != method.id]
        if remaining:
            remaining[0].is_default = True
    await session.flush()


async def create_setup_intent(
    session: AsyncSession, gateway: GatewayContext, caller: Caller
) -> SetupIntentInfo:
    """A SetupIntent whose client secret lets a browser collect a card (Stripe.js)."""
    customer = await ensure_customer(session, gateway, caller)
    try:
        return await gateway.gateway.create_setup_intent(customer.customer_id)
    except GatewayError as error:
        raise GatewayUnavailable() from error
