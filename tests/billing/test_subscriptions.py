"""Subscribing, upgrading with proration, downgrading at period end, cancel and resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from sitechat.billing.proration import prorate_interval_change, prorate_plan_change
from sitechat.core.clock import FrozenClock
from tests.billing.helpers import add_card, invoices, new_owner, subscribe
from tests.fixtures.accounts import assert_problem
from tests.fixtures.plans import SHIPPED_PLANS

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
PERIOD_END = datetime(2026, 2, 15, 12, 0, tzinfo=UTC)

STARTER = SHIPPED_PLANS.get("starter")
PRO = SHIPPED_PLANS.get("pro")


class TestSubscribe:
    async def test_starter_with_a_card_is_active_and_its_invoice_paid(
        self, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)

        subscription = await subscribe(client, owner, "starter")

        assert subscription["status"] == "active"
        assert subscription["plan_id"] == subscription["effective_plan_id"] == "starter"
        assert subscription["current_period_end"] == "2026-02-15T12:00:00Z"
        [invoice] = await invoices(client, owner)
        assert invoice["status"] == "paid"
        assert invoice["number"] == 1
        assert invoice["total"] == invoice["subtotal"] == STARTER.prices.month == 1900
        assert invoice["tax"] == 0
        assert [line["kind"] for line in invoice["lines"]] == ["plan"]
        [attempt] = invoice["payment_attempts"]
        assert attempt["status"] == "succeeded"
        assert attempt["amount"] == 1900

    async def test_without_a_payment_method_is_refused(self, client: httpx.AsyncClient) -> None:
        owner = await new_owner(client, card=None)

        response = await client.post(
            "/v1/billing/subscription", json={"plan_id": "pro"}, headers=owner.headers
        )

        assert_problem(response, 409, "payment-method-required")
        assert (await invoices(client, owner)) == []

    async def test_a_card_declined_at_attach_is_402(self, client: httpx.AsyncClient) -> None:
        owner = await new_owner(client, card=None)

        response = await add_card(client, owner, "pm_card_chargeDeclined")

        body = assert_problem(response, 402, "card-declined")
        assert body["code"] == "card_declined"
        listed = await client.get("/v1/billing/payment-methods", headers=owner.headers)
        assert listed.json()["items"] == []

    async def test_a_failing_first_payment_leaves_it_incomplete_on_free(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await new_owner(client, card="pm_card_chargeCustomerFail")

        subscription = await subscribe(client, owner, "starter")

        assert subscription["status"] == "incomplete"
        assert subscription["effective_plan_id"] == "free"
        [invoice] = await invoices(client, owner)
        assert invoice["status"] == "open"
        assert invoice["payment_attempts"][0]["failure_code"] == "card_declined"

    async def test_an_incomplete_subscription_is_paid_by_subscribing_again_with_a_new_card(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await new_owner(client, card="pm_card_chargeCustomerFail")
        await subscribe(client, owner, "starter")
        await add_card(client, owner, "pm_card_visa")

        subscription = await subscribe(client, owner, "starter")

        assert subscription["status"] == "active"
        first, second = await invoices(client, owner)
        assert (first["number"], first["status"]) == (1, "void")
        assert (second["number"], second["status"]) == (2, "paid")

    async def test_free_plan_cannot_be_subscribed(self, client: httpx.AsyncClient) -> None:
        owner = await new_owner(client)
        response = await client.post(
            "/v1/billing/subscription", json={"plan_id": "free"}, headers=owner.headers
        )
        assert_problem(response, 409, "invalid-state-transition")


class TestUpgrade:
    async def test_mid_period_upgrade_is_prorated_to_the_cent(
        self, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        frozen_clock.advance(timedelta(days=10, hours=5, minutes=7, seconds=3))
        change_at = frozen_clock.now()

        subscription = await subscribe(client, owner, "pro")

        expected = prorate_plan_change(
            old_plan=STARTER,
            old_amount=1900,
            new_plan=PRO,
            new_amount=4900,
            period_start=START,
            period_end=PERIOD_END,
            at=change_at,
        )
        assert subscription["plan_id"] == "pro"
        assert subscription["current_period_end"] == "2026-02-15T12:00:00Z"
        _, upgrade = await invoices(client, owner)
        assert upgrade["reason"] == "subscription_update"
        assert [(line["kind"], line["amount"]) for line in upgrade["lines"]] == [
            ("proration_credit", expected.credit.amount),
            ("proration_charge", expected.charge.amount),
        ]
        assert (
            upgrade["total"] == expected.total == sum(line["amount"] for line in upgrade["lines"])
        )
        # 1,795,977 of the period's 2,678,400 seconds remain: the exact credit is 1274.03
        # (rounded up), the exact net 2011.62 (rounded down), the charge line the difference.
        assert (expected.credit.amount, expected.charge.amount, expected.total) == (
            -1275,
            3286,
            2011,
        )
        assert upgrade["status"] == "paid"
        assert upgrade["payment_attempts"][0]["amount"] == expected.total

    async def test_monthly_to_yearly_starts_a_new_yearly_period_now(
        self, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        frozen_clock.advance(timedelta(days=5))

        subscription = await subscribe(client, owner, "starter", "year")

        expected = prorate_interval_change(
            old_plan=STARTER,
            old_amount=1900,
            new_plan=STARTER,
            new_interval="year",
            period_start=START,
            period_end=PERIOD_END,
            at=frozen_clock.now(),
        )
        assert subscription["interval"] == "year"
        assert subscription["current_period_start"] == "2026-01-20T12:00:00Z"
        assert subscription["current_period_end"] == "2027-01-20T12:00:00Z"
        _, change = await invoices(client, owner)
        assert change["total"] == expected.total == 19000 - 1594

    async def test_a_failed_upgrade_payment_changes_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        await add_card(client, owner, "pm_card_chargeCustomerFail")

        response = await client.post(
            "/v1/billing/subscription", json={"plan_id": "pro"}, headers=owner.headers
        )

        assert_problem(response, 402, "payment-failed")
        current = await client.get("/v1/billing/subscription", headers=owner.headers)
        assert current.json()["plan_id"] == "starter"
        assert [invoice["number"] for invoice in await invoices(client, owner)] == [1]


class TestScheduledChanges:
    async def test_downgrade_waits_for_the_period_end_and_can_be_canceled(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "pro")

        scheduled = await subscribe(client, owner, "starter")

        assert scheduled["plan_id"] == "pro"
        assert scheduled["pending_plan_id"] == "starter"
        assert len(await invoices(client, owner)) == 1
        canceled = await client.delete(
            "/v1/billing/subscription/pending-change", headers=owner.headers
        )
        assert canceled.status_code == 200
        assert canceled.json()["pending_plan_id"] is None
        again = await client.delete(
            "/v1/billing/subscription/pending-change", headers=owner.headers
        )
        assert_problem(again, 409, "invalid-state-transition")

    async def test_cancel_at_period_end_then_resume(self, client: httpx.AsyncClient) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")

        canceled = await client.delete("/v1/billing/subscription", headers=owner.headers)
        assert canceled.status_code == 200
        assert canceled.json()["cancel_at_period_end"] is True
        assert canceled.json()["status"] == "active"
        assert_problem(
            await client.delete("/v1/billing/subscription", headers=owner.headers),
            409,
            "invalid-state-transition",
        )

        resumed = await client.post("/v1/billing/subscription/resume", headers=owner.headers)
        assert resumed.status_code == 200
        assert resumed.json()["cancel_at_period_end"] is False
        assert_problem(
            await client.post("/v1/billing/subscription/resume", headers=owner.headers),
            409,
            "invalid-state-transition",
        )

    async def test_same_plan_again_is_an_invalid_transition(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        response = await client.post(
            "/v1/billing/subscription", json={"plan_id": "starter"}, headers=owner.headers
        )
        assert_problem(response, 409, "invalid-state-transition")

    async def test_cancel_without_subscription_is_an_invalid_transition(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await new_owner(client, card=None)
        response = await client.delete("/v1/billing/subscription", headers=owner.headers)
        assert_problem(response, 409, "invalid-state-transition")
