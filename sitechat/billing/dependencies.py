"""The process's payment gateway (chosen from settings) and plan catalog, built once at start
(`create_app`, `sitechat worker`) as components of the process state; `GatewayDep` and
`PlansDep` hand them to a request, `task_context(job).component(...)` to a job."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sitechat.billing.disabled_gateway import DisabledGateway
from sitechat.billing.errors import BillingDisabled
from sitechat.billing.invoicing import GatewayContext
from sitechat.billing.plans import PlanCatalog
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


async def get_plans(request: Request) -> PlanCatalog:
    return app_state(request).component(PlanCatalog)


PlansDep = Annotated[PlanCatalog, Depends(get_plans)]
