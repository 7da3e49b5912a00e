"""The gateway of `SITECHAT_BILLING_GATEWAY=none`: billing is off, nothing can be charged.

Routes that need a gateway answer 409 `billing-disabled` before they run
(`billing/dependencies.py`); this class is what jobs get, and it refuses every call the same way.
Plans then come only from the operator (`sitechat admin set-plan`), whose grants renew without
touching a gateway (`billing/renewal.py`).
"""

from __future__ import annotations

import uuid
from typing import NoReturn

from sitechat.billing.errors import BillingDisabled
from sitechat.billing.gateway import (
    ChargeResult,
    GatewayEvent,
    GatewayPaymentMethod,
    SetupIntentInfo,
)


def _refuse() -> NoReturn:
    raise BillingDisabled()


class DisabledGateway:
    async def ensure_customer(
        self, workspace_id: uuid.UUID, email: str | None, existing_customer_id: str | None
    ) -> str:
        _refuse()

    async def attach_payment_method(
        self, customer_id: str, payment_method: str
    ) -> GatewayPaymentMethod:
        _refuse()

    async def detach_payment_method(self, customer_id: str, pm_id: str) -> None:
        _refuse()

    async def create_setup_intent(self, customer_id: str) -> SetupIntentInfo:
        _refuse()

    async def charge(
        self,
        customer_id: str,
        pm_id: str,
        amount: int,
        currency: str,
        idempotency_key: str,
        description: str,
        metadata: dict[str, str],
    ) -> ChargeResult:
        _refuse()

    async def retrieve_payment(self, payment_id: str) -> ChargeResult:
        _refuse()

    async def parse_webhook(self, payload: bytes, signature_header: str | None) -> GatewayEvent:
        _refuse()
