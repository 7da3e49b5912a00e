"""Billing routes: public plans, roles, tenancy, input validation, payment methods, paging."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from sitechat.core.clock import FrozenClock
from tests.billing.helpers import add_card, new_owner, subscribe
from tests.fixtures.accounts import assert_problem, create_api_key, register


class TestPlans:
    async def test_plans_are_public_with_prices_and_limits(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/billing/plans")

        assert response.status_code == 200
        plans = {plan["id"]: plan for plan in response.json()["items"]}
        assert list(plans) == ["free", "starter", "pro", "business"]
        assert plans["starter"]["prices"] == {"month": 1900, "year": 19000}
        assert plans["free"]["limits"]["chatbots"] == 1


class TestSubscriptionRoute:
    async def test_a_new_workspace_is_on_free(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        response = await client.get("/v1/billing/subscription", headers=account.headers)
        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["plan_id"], body["status"]) == (None, "free", "active")

    async def test_bad_input_is_a_problem(self, client: httpx.AsyncClient) -> None:
        owner = await new_owner(client)
        for body in (
            {"plan_id": "starter", "interval": "week"},
            {"plan_id": "starter", "extra": 1},
            {"plan_id": ""},
            {"plan_id": "x" * 100},
        ):
            response = await client.post(
                "/v1/billing/subscription", json=body, headers=owner.headers
            )
            assert_problem(response, 422, "validation-error")
        unknown = await client.post(
            "/v1/billing/subscription", json={"plan_id": "platinum"}, headers=owner.headers
        )
        assert_problem(unknown, 422, "unknown-plan")

    async def test_changes_need_the_owner_and_reads_an_admin(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        admin = {"Authorization": f"Bearer {await create_api_key(client, account, role='admin')}"}
        member = {"Authorization": f"Bearer {await create_api_key(client, account, role='member')}"}

        for method, path in (
            ("POST", "/v1/billing/subscription"),
            ("DELETE", "/v1/billing/subscription"),
            ("POST", "/v1/billing/subscription/resume"),
            ("DELETE", "/v1/billing/subscription/pending-change"),
            ("POST", "/v1/billing/payment-methods"),
            ("POST", "/v1/billing/setup-intent"),
        ):
            body = {"plan_id": "starter"} if path.endswith("subscription") else None
            if path.endswith("payment-methods"):
                body = {"payment_method": "pm_card_visa"}
            response = await client.request(method, path, json=body, headers=admin)
            assert_problem(response, 403, "forbidden")
        assert (await client.get("/v1/billing/subscription", headers=admin)).status_code == 200
        assert (await client.get("/v1/billing/invoices", headers=admin)).status_code == 200
        for path in ("/v1/billing/subscription", "/v1/billing/invoices"):
            assert_problem(await client.get(path, headers=member), 403, "forbidden")
        assert (await client.get("/v1/billing/usage", headers=member)).status_code == 200

    async def test_anonymous_callers_are_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/billing/subscription")
        assert_problem(response, 401)


class TestPaymentMethods:
    async def test_add_list_default_remove(self, client: httpx.AsyncClient) -> None:
        owner = await new_owner(client)
        await add_card(client, owner, "pm_card_mastercard")

        listed = (await client.get("/v1/billing/payment-methods", headers=owner.headers)).json()
        mastercard, visa = listed["items"]
        assert (mastercard["brand"], mastercard["last4"], mastercard["is_default"]) == (
            "mastercard",
            "4444",
            True,
        )
        assert visa["is_default"] is False

        made_default = await client.post(
            f"/v1/billing/payment-methods/{visa['id']}/default", headers=owner.headers
        )
        assert made_default.json()["is_default"] is True
        removed = await client.delete(
            f"/v1/billing/payment-methods/{visa['id']}", headers=owner.headers
        )
        assert removed.status_code == 204
        [left] = (await client.get("/v1/billing/payment-methods", headers=owner.headers)).json()[
            "items"
        ]
        assert (left["id"], left["is_default"]) == (mastercard["id"], True)

    async def test_an_unknown_payment_method_is_422(self, client: httpx.AsyncClient) -> None:
        owner = await new_owner(client, card=None)
        response = await add_card(client, owner, "pm_card_doesNotExist")
        assert_problem(response, 422, "invalid-payment-method")
        malformed = await add_card(client, owner, "pm card; drop table")
        assert_problem(malformed, 422, "validation-error")

    async def test_the_only_card_of_a_renewing_paid_plan_stays(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        [card] = (await client.get("/v1/billing/payment-methods", headers=owner.headers)).json()[
            "items"
        ]
        response = await client.delete(
            f"/v1/billing/payment-methods/{card['id']}", headers=owner.headers
        )
        assert_problem(response, 409, "payment-method-required")

    async def test_setup_intent_returns_a_client_secret(self, client: httpx.AsyncClient) -> None:
        owner = await new_owner(client, card=None)
        response = await client.post("/v1/billing/setup-intent", headers=owner.headers)
        assert response.status_code == 201
        assert "_secret_" in response.json()["client_secret"]


class TestTenancy:
    async def test_another_workspaces_ids_are_404(self, client: httpx.AsyncClient) -> None:
        victim = await new_owner(client)
        await subscribe(client, victim, "starter")
        [card] = (await client.get("/v1/billing/payment-methods", headers=victim.headers)).json()[
            "items"
        ]
        [invoice] = (await client.get("/v1/billing/invoices", headers=victim.headers)).json()[
            "items"
        ]
        intruder = await new_owner(client)

        for method, path in (
            ("GET", f"/v1/billing/invoices/{invoice['id']}"),
            ("GET", f"/v1/billing/invoices/{uuid.uuid4()}"),
            ("DELETE", f"/v1/billing/payment-methods/{card['id']}"),
            ("POST", f"/v1/billing/payment-methods/{card['id']}/default"),
        ):
            response = await client.request(method, path, headers=intruder.headers)
            assert_problem(response, 404, "not-found")
        listed = await client.get("/v1/billing/invoices", headers=intruder.headers)
        assert listed.json()["items"] == []


class TestInvoiceList:
    async def test_invoices_are_paged_newest_first(
        self, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")
        frozen_clock.advance(timedelta(days=1))
        await subscribe(client, owner, "pro")
        frozen_clock.advance(timedelta(days=1))
        await subscribe(client, owner, "business")

        first = (await client.get("/v1/billing/invoices?limit=2", headers=owner.headers)).json()
        second = (
            await client.get(
                f"/v1/billing/invoices?limit=2&cursor={first['next_cursor']}",
                headers=owner.headers,
            )
        ).json()

        assert [invoice["number"] for invoice in first["items"]] == [3, 2]
        assert [invoice["number"] for invoice in second["items"]] == [1]
        assert second["next_cursor"] is None
        bad = await client.get("/v1/billing/invoices?cursor=%%%", headers=owner.headers)
        assert_problem(bad, 422, "invalid-cursor")
