"""Plans the operator controls: a catalog file of their own, grants that renew without an
invoice, and a deployment with billing off."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sitechat.app import create_app
from sitechat.billing import renewal
from sitechat.billing.catalog import PlanCatalogError, load_catalog
from sitechat.billing.grants import grant_plan
from sitechat.billing.plans import PlanCatalog
from sitechat.config import BillingSettings, Settings
from sitechat.core.clock import FrozenClock
from sitechat.core.state import app_state
from tests.billing.helpers import invoices, new_owner, sandbox_gateway, subscribe
from tests.fixtures.accounts import register
from tests.fixtures.plans import SHIPPED_PLANS

OPERATOR_CATALOG = """
[[plans]]
id = "free"
name = "Community"
rank = 0
prices = { month = 0, year = 0 }
[plans.limits]
chatbots = 25
messages_per_month = 1000000
pages_per_month = 100000
members = 100
crawl_max_pages = 5000

[[plans]]
id = "team"
name = "Team"
rank = 1
currency = "eur"
features = ["widget", "api_access"]
prices = { month = 900, year = 9000 }
[plans.limits]
chatbots = 100
messages_per_month = 5000000
pages_per_month = 500000
members = 500
crawl_max_pages = 5000
"""


@contextlib.asynccontextmanager
async def client_of(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own made from `settings` (started as `sitechat serve` would), and a
    client of it."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield application, http


@pytest.fixture
async def operator_client(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose operator named their own catalog file."""
    path = tmp_path / "plans.toml"
    path.write_text(OPERATOR_CATALOG, encoding="utf-8")
    billing = settings.billing.model_copy(update={"plans_file": path})
    async with client_of(settings.model_copy(update={"billing": billing})) as (_, http):
        yield http


class TestCatalogFile:
    def test_the_shipped_catalog_is_todays_plans(self) -> None:
        catalog = load_catalog(None)
        assert [plan.id for plan in catalog.plans] == ["free", "starter", "pro", "business"]
        free = catalog.get("free")
        # A first trial crawls the documented default of 500 pages (README, docs/billing.md).
        assert (free.limits.crawl_max_pages, free.limits.pages_per_month) == (500, 500)

    async def test_an_operator_catalog_replaces_the_plans(
        self, operator_client: httpx.AsyncClient
    ) -> None:
        client = operator_client
        listed = (await client.get("/v1/billing/plans")).json()["items"]
        assert [(plan["id"], plan["name"]) for plan in listed] == [
            ("free", "Community"),
            ("team", "Team"),
        ]
        account = await register(client)
        usage = (await client.get("/v1/billing/usage", headers=account.headers)).json()
        assert usage["limits"]["chatbots"] == 25

    @pytest.mark.parametrize(
        ("text", "complaint"),
        [
            ("plans = 3", "plans"),
            ("[[plans]]\nid = 'x'", "name"),
            (OPERATOR_CATALOG.replace('id = "free"', 'id = "basic"'), "'free'"),
            (OPERATOR_CATALOG.replace("rank = 1", "rank = 0"), "rank"),
            (OPERATOR_CATALOG.replace("chatbots = 25", "chatbots = -1"), "chatbots"),
            ("[[plans", "not valid TOML"),
            # A feature SiteChat does not enforce cannot be promised (issue 13).
            (OPERATOR_CATALOG.replace('"api_access"]', '"analytics"]'), "analytics"),
        ],
    )
    def test_a_broken_file_is_refused_with_one_line(
        self, tmp_path: Path, text: str, complaint: str
    ) -> None:
        path = tmp_path / "plans.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(PlanCatalogError) as raised:
            load_catalog(path)
        message = str(raised.value)
        assert complaint in message and "\n" not in message

    def test_a_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(PlanCatalogError, match="cannot read"):
            load_catalog(tmp_path / "absent.toml")


class TestGrants:
    async def test_a_grant_renews_without_an_invoice(
        self, client: httpx.AsyncClient, app: Any, settings: Settings, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        jobs = app_state(app).task_context
        async with jobs.session() as session:
            await grant_plan(session, owner.workspace_id, SHIPPED_PLANS.get("business"), "month")
        frozen_clock.set(datetime(2026, 2, 15, 12, 5, tzinfo=UTC))
        report = await renewal.renew_subscriptions(
            jobs.session, jobs.component(PlanCatalog), sandbox_gateway(settings)
        )
        assert report.renewed and not report.past_due
        subscription = (await client.get("/v1/billing/subscription", headers=owner.headers)).json()
        assert (subscription["plan_id"], subscription["status"]) == ("business", "active")
        assert subscription["current_period_end"] == "2026-03-15T12:00:00Z"
        invoices = await client.get("/v1/billing/invoices", headers=owner.headers)
        assert invoices.json()["items"] == []

    async def test_a_subscription_after_an_ended_grant_is_charged_at_renewal(
        self, client: httpx.AsyncClient, app: Any, settings: Settings, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        jobs = app_state(app).task_context
        for plan_id in ("business", "free"):  # granted, then the grant ended
            async with jobs.session() as session:
                await grant_plan(session, owner.workspace_id, SHIPPED_PLANS.get(plan_id), "month")
        await subscribe(client, owner, "starter")  # paid by the owner from now on
        frozen_clock.set(datetime(2026, 2, 15, 12, 5, tzinfo=UTC))

        report = await renewal.renew_subscriptions(
            jobs.session, jobs.component(PlanCatalog), sandbox_gateway(settings)
        )

        assert report.renewed and not report.past_due
        reasons = [invoice["reason"] for invoice in await invoices(client, owner)]
        assert reasons == ["subscription_create", "subscription_cycle"]


@pytest.fixture
async def billing_off(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    off = settings.model_copy(update={"billing": BillingSettings(gateway="none")})
    async with client_of(off) as (application, http):
        yield application, http


class TestBillingOff:
    async def test_subscribing_and_cards_answer_billing_disabled(
        self, billing_off: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        _, client = billing_off
        account = await register(client)
        for path, body in (
            ("/v1/billing/payment-methods", {"payment_method": "pm_card_visa"}),
            ("/v1/billing/subscription", {"plan_id": "pro", "interval": "month"}),
        ):
            response = await client.post(path, json=body, headers=account.headers)
            assert response.status_code == 409, response.text
            problem = response.json()
            assert problem["type"].endswith("/billing-disabled")
            assert "sitechat admin set-plan" in problem["detail"]
        methods = await client.get("/v1/billing/payment-methods", headers=account.headers)
        assert methods.json()["items"] == []

    async def test_the_operators_grant_sets_the_limits(
        self, billing_off: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        application, client = billing_off
        account = await register(client)
        async with app_state(application).task_context.session() as session:
            await grant_plan(session, account.workspace_id, SHIPPED_PLANS.get("pro"), "year")
        usage = (await client.get("/v1/billing/usage", headers=account.headers)).json()
        assert usage["limits"]["messages"] == SHIPPED_PLANS.get("pro").limits.messages_per_month
        assert datetime.fromisoformat(usage["period_end"]) - datetime.fromisoformat(
            usage["period_start"]
        ) <= timedelta(days=31)
