"""The payment gateway of the process, chosen from settings and built once, lazily."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sitechat.billing.disabled_gateway import DisabledGateway
from sitechat.billing.errors import BillingDisabled
from sitechat.billing.invoicing import GatewayContext
from sitechat.billing.sandbox_gateway import SandboxGateway
from sitechat.billing.stripe_gateway import StripeGateway, StripeGatewaySettings
from sitechat.config import BillingSettings
from sitechat.core.state import app_state

GATEWAY_NAMES = ("sandbox", "stripe", "none")
DISABLED = "none"


def build_gateway(settings: BillingSettings) -> GatewayContext:
    webhook_secret = settings.stripe_webhook_secret.get_secret_value()
    if settings.gateway == DISABLED:
        return GatewayContext(DisabledGateway(), DISABLED)
    if settings.gateway == "sandbox":
        return GatewayContext(SandboxGateway(webhook_secret), "sandbox")
    if settings.gateway == "stripe":
        stripe_settings = StripeGatewaySettings(
            api_key=settings.stripe_api_key.get_secret_value(),
            webhook_secret=webhook_secret,
            api_base=settings.stripe_api_base,
        )
        return GatewayContext(StripeGateway(stripe_settings), "stripe")
    raise ValueError(f"unknown billing gateway {settings.gateway!r}; use one of {GATEWAY_NAMES}")


async def get_gateway(request: Request) -> GatewayContext:
    gateway = app_state(request).component(GatewayContext)
    if gateway.name == DISABLED:
        raise BillingDisabled()
    return gateway


GatewayDep = Annotated[GatewayContext, Depends(get_gateway)]


_task_gateway: GatewayContext | None = None


def task_gateway(settings: BillingSettings) -> GatewayContext:
    """The gateway jobs use (jobs have no request, hence no app state)."""
    global _task_gateway
    if _task_gateway is None:
        _task_gateway = build_gateway(settings)
    return _task_gateway


def use_task_gateway(gateway: GatewayContext | None) -> GatewayContext | None:
    """Swap the jobs' gateway (tests); returns the previous one so it can be restored."""
    global _task_gateway
    previous, _task_gateway = _task_gateway, gateway
    return previous
