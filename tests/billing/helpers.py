"""Billing test helpers: owners with cards, subscriptions, and direct database reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sitechat.billing.catalog import parse_catalog
from sitechat.billing.invoicing import GatewayContext
from sitechat.billing.plans import PlanCatalog
from sitechat.billing.sandbox_gateway import SandboxGateway
from sitechat.config import Settings
from sitechat.models.billing import Subscription
from tests.fixtures.accounts import create_api_key, register
from tests.fixtures.plans import provided


@dataclass
class Owner:
    """A workspace owner authenticated by an owner API key (keys do not expire when tests
    move the clock a month ahead, access tokens do)."""

    workspace_id: uuid.UUID
    headers: dict[str, str]


async def new_owner(client: httpx.AsyncClient, *, card: str | None = "pm_card_visa") -> Owner:
    account = await register(client)
    key = await create_api_key(client, account, name="billing owner", role="owner")
    owner = Owner(workspace_id=account.workspace_id, headers={"Authorization": f"Bearer {key}"})
    if card is not None:
        response = await add_card(client, owner, card)
        assert response.status_code == 201, response.text
    return owner


async def add_card(client: httpx.AsyncClient, owner: Owner, card: str) -> httpx.Response:
    return await client.post(
        "/v1/billing/payment-methods", json={"payment_method": card}, headers=owner.headers
    )


async def subscribe(
    client: httpx.AsyncClient, owner: Owner, plan_id: str, interval: str = "month"
) -> dict[str, Any]:
    response = await client.post(
        "/v1/billing/subscription",
        json={"plan_id": plan_id, "interval": interval},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def invoices(client: httpx.AsyncClient, owner: Owner) -> list[dict[str, Any]]:
    """Every invoice of the owner's workspace with its details, oldest first."""
    response = await client.get("/v1/billing/invoices?limit=100", headers=owner.headers)
    assert response.status_code == 200, response.text
    details = []
    for summary in reversed(response.json()["items"]):
        detail = await client.get(f"/v1/billing/invoices/{summary['id']}", headers=owner.headers)
        assert detail.status_code == 200, detail.text
        details.append(detail.json())
    return details


async def subscription_row(app: Any, workspace_id: uuid.UUID) -> Subscription:
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    async with sessionmaker() as session:
        row = await session.scalar(
            select(Subscription).where(Subscription.workspace_id == workspace_id)
        )
    assert row is not None
    return row


def sandbox_gateway(settings: Settings) -> GatewayContext:
    """The gateway the app builds from the test settings (the sandbox is stateless)."""
    secret = settings.billing.stripe_webhook_secret.get_secret_value()
    return GatewayContext(SandboxGateway(secret), "sandbox")


# Small numbers, so the edges are reached with a few pages.
SMALL_CATALOG = """
[[plans]]
id = "free"
name = "Free"
rank = 0
features = ["widget", "api_access"]
prices = { month = 0, year = 0 }
[plans.limits]
chatbots = 5
messages_per_month = 100
pages_per_month = 10
members = 2
crawl_max_pages = 6

[[plans]]
id = "starter"
name = "Starter"
rank = 1
features = ["widget", "api_access"]
prices = { month = 1900, year = 19000 }
[plans.limits]
chatbots = 5
messages_per_month = 100
pages_per_month = 20
members = 3
crawl_max_pages = 6

[[plans]]
id = "pro"
name = "Pro"
rank = 2
features = ["widget", "api_access", "openai_compatible_api"]
prices = { month = 4900, year = 49000 }
[plans.limits]
chatbots = 5
messages_per_month = 100
pages_per_month = 20
members = 3
crawl_max_pages = 6
"""


@pytest.fixture(autouse=True, name="small_catalog")
def small_catalog_fixture(target_app: Any) -> Iterator[PlanCatalog]:
    """The small catalog for the whole test (import it into a module to use it there)."""
    with provided(target_app, parse_catalog(SMALL_CATALOG, "test catalog")) as catalog:
        yield catalog
