"""The renewal job: periods roll over, scheduled changes apply, failed payments are dunned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sitechat.billing import renewal
from sitechat.billing.plans import PlanCatalog
from sitechat.billing.renewal import DUNNING_RETRY_DELAYS, RenewalReport
from sitechat.config import Settings
from sitechat.core.clock import FrozenClock
from sitechat.core.state import app_state
from sitechat.models.billing import SubscriptionStatus
from tests.billing.helpers import (
    Owner,
    add_card,
    invoices,
    new_owner,
    sandbox_gateway,
    subscribe,
    subscription_row,
)

FIRST_PERIOD_END = datetime(2026, 2, 15, 12, 0, tzinfo=UTC)


async def run_renewals(app: Any) -> RenewalReport:
    """The renewal job as `app`'s worker runs it (with the sandbox gateway)."""
    jobs = app_state(app).task_context
    return await renewal.renew_subscriptions(
        jobs.session, jobs.component(PlanCatalog), sandbox_gateway(jobs.settings)
    )


async def current(client: httpx.AsyncClient, owner: Owner) -> dict[str, Any]:
    response = await client.get("/v1/billing/subscription", headers=owner.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestRenewal:
    async def test_an_ended_period_is_renewed_and_charged(
        self, app: Any, client: httpx.AsyncClient, settings: Settings, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        frozen_clock.set(FIRST_PERIOD_END - timedelta(seconds=1))
        assert (await run_renewals(app)).renewed == []

        frozen_clock.set(FIRST_PERIOD_END + timedelta(minutes=5))
        report = await run_renewals(app)

        assert len(report.renewed) == 1
        subscription = await current(client, owner)
        assert subscription["status"] == "active"
        assert subscription["current_period_start"] == "2026-02-15T12:00:00Z"
        assert subscription["current_period_end"] == "2026-03-15T12:00:00Z"
        _, second = await invoices(client, owner)
        assert (second["number"], second["status"], second["total"]) == (2, "paid", 1900)
        assert second["reason"] == "subscription_cycle"
        assert (await run_renewals(app)).renewed == []  # nothing left to renew

    async def test_a_scheduled_downgrade_applies_at_the_period_end(
        self, app: Any, client: httpx.AsyncClient, settings: Settings, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "pro")
        await subscribe(client, owner, "starter", "month")
        frozen_clock.set(FIRST_PERIOD_END)

        await run_renewals(app)

        subscription = await current(client, owner)
        assert (subscription["plan_id"], subscription["pending_plan_id"]) == ("starter", None)
        renewal_invoice = (await invoices(client, owner))[-1]
        assert renewal_invoice["total"] == 1900
        assert renewal_invoice["lines"][0]["plan_id"] == "starter"

    async def test_cancel_at_period_end_falls_back_to_free_without_invoice(
        self, app: Any, client: httpx.AsyncClient, settings: Settings, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        await client.delete("/v1/billing/subscription", headers=owner.headers)
        frozen_clock.set(FIRST_PERIOD_END)

        report = await run_renewals(app)

        assert len(report.canceled) == 1
        subscription = await current(client, owner)
        assert (subscription["status"], subscription["effective_plan_id"]) == ("canceled", "free")
        assert len(await invoices(client, owner)) == 1


class TestDunning:
    async def test_failed_renewal_is_retried_then_the_workspace_falls_back_to_free(
        self, app: Any, client: httpx.AsyncClient, settings: Settings, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        await add_card(client, owner, "pm_card_chargeCustomerFail")  # the new default
        frozen_clock.set(FIRST_PERIOD_END)

        report = await run_renewals(app)

        assert len(report.past_due) == 1
        subscription = await current(client, owner)
        assert subscription["status"] == "past_due"
        assert subscription["effective_plan_id"] == "starter"  # limits kept while dunning
        assert subscription["next_retry_at"] == "2026-02-16T12:00:00Z"
        frozen_clock.advance(timedelta(hours=23))
        await run_renewals(app)  # not due yet: no attempt
        assert len((await invoices(client, owner))[-1]["payment_attempts"]) == 1

        retry_times = []
        for _ in DUNNING_RETRY_DELAYS:
            retry_at = datetime.fromisoformat((await current(client, owner))["next_retry_at"])
            retry_times.append(retry_at)
            frozen_clock.set(retry_at)
            await run_renewals(app)

        assert retry_times == [FIRST_PERIOD_END + timedelta(days=days) for days in (1, 3, 7)]
        subscription = await current(client, owner)
        assert (subscription["status"], subscription["effective_plan_id"]) == ("canceled", "free")
        renewal_invoice = (await invoices(client, owner))[-1]
        assert renewal_invoice["status"] == "uncollectible"
        keys = [attempt["attempt_number"] for attempt in renewal_invoice["payment_attempts"]]
        assert keys == [1, 2, 3, 4]
        usage = await client.get("/v1/billing/usage", headers=owner.headers)
        assert usage.json()["plan_id"] == "free"

    async def test_a_retry_with_a_working_card_recovers_the_subscription(
        self, client: httpx.AsyncClient, app: Any, settings: Settings, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        methods = await client.get("/v1/billing/payment-methods", headers=owner.headers)
        visa_id = methods.json()["items"][0]["id"]
        await add_card(client, owner, "pm_card_chargeCustomerFail")
        frozen_clock.set(FIRST_PERIOD_END)
        await run_renewals(app)
        made_default = await client.post(
            f"/v1/billing/payment-methods/{visa_id}/default", headers=owner.headers
        )
        assert made_default.status_code == 200

        frozen_clock.advance(DUNNING_RETRY_DELAYS[0])
        report = await run_renewals(app)

        assert len(report.recovered) == 1
        row = await subscription_row(app, owner.workspace_id)
        assert row.status is SubscriptionStatus.active
        assert row.next_retry_at is None
        renewal_invoice = (await invoices(client, owner))[-1]
        assert renewal_invoice["status"] == "paid"
        assert [a["status"] for a in renewal_invoice["payment_attempts"]] == [
            "failed",
            "succeeded",
        ]


class TestInvoiceNumbers:
    async def test_numbers_are_gapless_per_workspace(
        self, app: Any, client: httpx.AsyncClient, settings: Settings, frozen_clock: FrozenClock
    ) -> None:
        first = await new_owner(client)
        second = await new_owner(client)
        await subscribe(client, first, "starter")
        await subscribe(client, second, "pro")
        frozen_clock.advance(timedelta(days=3))
        await subscribe(client, first, "pro")
        failing_upgrade = await add_card(client, second, "pm_card_chargeCustomerFail")
        assert failing_upgrade.status_code == 201
        refused = await client.post(
            "/v1/billing/subscription", json={"plan_id": "business"}, headers=second.headers
        )
        assert refused.status_code == 402  # rolled back: its number is not used
        await add_card(client, second, "pm_card_visa")
        frozen_clock.set(FIRST_PERIOD_END)
        await run_renewals(app)

        assert [invoice["number"] for invoice in await invoices(client, first)] == [1, 2, 3]
        assert [invoice["number"] for invoice in await invoices(client, second)] == [1, 2]
