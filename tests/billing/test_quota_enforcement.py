"""Quotas where the work starts: chatbots, crawled pages and messages answer 402 past the plan."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from sitechat.core.clock import utcnow
from sitechat.models.base import new_id
from sitechat.models.chat import UsageEvent
from tests.fixtures.accounts import assert_problem, register
from tests.fixtures.billing import upgrade
from tests.fixtures.chat import add_chunk, create_account, create_chatbot


async def _use_messages(app: FastAPI, workspace_id: object, count: int) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        session.add_all(
            UsageEvent(
                id=new_id(),
                workspace_id=workspace_id,
                kind="message",
                quantity=1,
                event_key=f"seeded:{new_id()}",
                occurred_at=utcnow(),
            )
            for _ in range(count)
        )


class TestChatbotQuota:
    async def test_second_chatbot_on_free_is_402_naming_the_upgrade(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        first = await client.post("/v1/chatbots", json={"name": "One"}, headers=account.headers)
        assert first.status_code == 201
        second = await client.post("/v1/chatbots", json={"name": "Two"}, headers=account.headers)
        body = assert_problem(second, 402, "quota-exceeded")
        assert (body["limit"], body["limit_value"], body["usage"]) == ("chatbots", 1, 1)
        assert (body["plan_id"], body["upgrade_plan_id"]) == ("free", "starter")
        assert body["detail"] == "The Free plan allows 1 chatbot; 1 is used."

        await upgrade(client, account, "starter")
        third = await client.post("/v1/chatbots", json={"name": "Two"}, headers=account.headers)
        assert third.status_code == 201


class TestMessageQuota:
    async def test_answers_stop_at_the_monthly_limit(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        await add_chunk(app, chatbot, "Opening hours are nine to five on weekdays.")
        conversation = await client.post(
            f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=account.headers
        )
        conversation_id = conversation.json()["id"]
        await _use_messages(app, account.workspace_id, 98)  # the free plan allows 100

        async def ask() -> int:
            response = await client.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"content": "When are you open?"},
                headers=account.headers,
            )
            return response.status_code

        statuses = await asyncio.gather(*(ask() for _ in range(5)))
        assert sorted(statuses) == [201, 201, 402, 402, 402]
        usage = await client.get("/v1/billing/usage", headers=account.headers)
        assert usage.json()["usage"]["messages"] == 100


class TestPageQuota:
    async def test_a_crawl_above_the_plans_cap_is_refused_not_cut(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        chatbot = await client.post("/v1/chatbots", json={"name": "Bot"}, headers=account.headers)
        crawls, url = f"/v1/chatbots/{chatbot.json()['id']}/crawls", "https://docs.example.com/"
        # The URL is never fetched here: the cap is decided when the crawl is accepted.
        response = await client.post(
            crawls, json={"url": url, "max_pages": 900}, headers=account.headers
        )
        body = assert_problem(response, 402, "quota-exceeded")
        assert (body["limit"], body["limit_value"]) == ("crawl_max_pages", 500)

        response = await client.post(
            crawls, json={"url": url, "max_pages": 500}, headers=account.headers
        )
        assert response.status_code == 202, response.text
        assert response.json()["max_pages"] == 500  # the free plan's pages per crawl and month
