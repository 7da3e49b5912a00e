"""Plan limits that held only one request at a time, or until something was switched (issue
13): seats, interval switches, and the features the catalog lists. Crawl pages:
`tests/crawling/test_page_quota.py`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sitechat.billing.catalog import parse_catalog
from sitechat.core.clock import FrozenClock
from sitechat.models.chat import UsageEvent
from tests.billing import helpers
from tests.billing.helpers import SMALL_CATALOG, new_owner, subscribe
from tests.fixtures.accounts import Account, assert_problem, register
from tests.fixtures.plans import provided

small_catalog_fixture = helpers.small_catalog_fixture


async def invite(client: httpx.AsyncClient, owner: Account, email: str) -> httpx.Response:
    return await client.post(
        f"/v1/workspaces/{owner.workspace_id}/invitations",
        json={"email": email, "role": "member"},
        headers=owner.headers,
    )


class TestSeats:
    async def test_invitations_beyond_the_plans_members_are_402(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await register(client)
        guest = await register(client)
        first = await invite(client, owner, guest.email)
        second = await invite(client, owner, "third-person@example.com")

        assert first.status_code == 201, first.text
        body = assert_problem(second, 402, "quota-exceeded")
        assert (body["limit"], body["limit_value"], body["upgrade_plan_id"]) == (
            "members",
            2,
            "starter",
        )
        # A seat frees when the guest joins in it; the next invitation is still over the plan.
        joined = await client.post(
            "/v1/invitations/accept", json={"token": first.json()["token"]}, headers=guest.headers
        )
        assert joined.status_code == 200
        assert_problem(await invite(client, owner, "third-person@example.com"), 402)

    async def test_accepting_beyond_the_plans_members_is_402(
        self, client: httpx.AsyncClient, app: Any
    ) -> None:
        owner, first, second = [await register(client) for _ in range(3)]
        bigger = parse_catalog(SMALL_CATALOG.replace("members = 2", "members = 3"), "bigger")
        with provided(app, bigger):
            tokens = [
                (await invite(client, owner, guest.email)).json()["token"]
                for guest in (first, second)
            ]
        # The plan shrank (back to the small catalog) while the invitations were open.

        joined = await client.post(
            "/v1/invitations/accept", json={"token": tokens[0]}, headers=first.headers
        )
        refused = await client.post(
            "/v1/invitations/accept", json={"token": tokens[1]}, headers=second.headers
        )

        assert joined.status_code == 200, joined.text
        assert_problem(refused, 402, "quota-exceeded")
        members = await client.get(
            f"/v1/workspaces/{owner.workspace_id}/members", headers=owner.headers
        )
        assert sorted(member["user_id"] for member in members.json()["items"]) == sorted(
            [str(owner.user_id), str(first.user_id)]
        )


class TestIntervalSwitch:
    async def test_switching_to_yearly_billing_keeps_the_months_counters(
        self, client: httpx.AsyncClient, app: Any, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter", "month")
        frozen_clock.advance(timedelta(days=5))
        async with app.state.sessionmaker() as session, session.begin():
            for kind, quantity in (("message", 7), ("pages", 9)):
                session.add(
                    UsageEvent(
                        workspace_id=owner.workspace_id,
                        kind=kind,
                        quantity=quantity,
                        event_key=f"test:{uuid.uuid4()}",
                        occurred_at=frozen_clock.now(),
                    )
                )
        frozen_clock.advance(timedelta(days=5))
        before = (await client.get("/v1/billing/usage", headers=owner.headers)).json()

        await subscribe(client, owner, "starter", "year")
        after = (await client.get("/v1/billing/usage", headers=owner.headers)).json()

        assert (before["usage"]["messages"], before["usage"]["pages"]) == (7, 9)
        assert (after["usage"]["messages"], after["usage"]["pages"]) == (7, 9)
        assert after["period_start"] == before["period_start"]
        # The next usage month starts on the new anchor day, counting from zero.
        frozen_clock.set(datetime(2026, 2, 25, 12, 1, tzinfo=UTC))
        later = (await client.get("/v1/billing/usage", headers=owner.headers)).json()
        assert later["period_start"] == "2026-02-25T12:00:00Z"
        assert (later["usage"]["messages"], later["usage"]["pages"]) == (0, 0)


class TestFeatures:
    async def test_the_openai_compatible_api_needs_a_plan_that_lists_it(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await new_owner(client)
        body = {"model": f"chatbot:{uuid.uuid4()}", "messages": [{"role": "user", "content": "hi"}]}

        on_free = await client.post("/v1/chat/completions", json=body, headers=owner.headers)
        await subscribe(client, owner, "pro")
        on_pro = await client.post("/v1/chat/completions", json=body, headers=owner.headers)

        # OpenAI's error envelope on this route (chat/openai_errors.py), the problem inside.
        assert on_free.status_code == 402
        error = on_free.json()["error"]
        assert error["code"] == "quota-exceeded"
        assert (error["feature"], error["upgrade_plan_id"]) == ("openai_compatible_api", "pro")
        # Past the plan check: that chatbot does not exist.
        assert (on_pro.status_code, on_pro.json()["error"]["code"]) == (404, "not-found")
