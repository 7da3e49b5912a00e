"""Usage metering and quota enforcement, including concurrent requests."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sitechat.billing.usage import ensure_quota
from sitechat.core.clock import FrozenClock
from sitechat.core.errors import PaymentRequired
from sitechat.models.chat import UsageEvent
from sitechat.models.chatbots import Chatbot, ChatbotStatus, Visibility
from tests.billing.helpers import new_owner, subscribe
from tests.fixtures.plans import SHIPPED_PLANS


def sessions(app: Any) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return maker


def chatbot(workspace_id: uuid.UUID, status: ChatbotStatus = ChatbotStatus.draft) -> Chatbot:
    return Chatbot(
        workspace_id=workspace_id,
        name="bot",
        fallback_message="Sorry.",
        visibility=Visibility.private,
        status=status,
    )


def message_event(workspace_id: uuid.UUID, at: datetime, quantity: int = 1) -> UsageEvent:
    return UsageEvent(
        workspace_id=workspace_id,
        kind="message",
        quantity=quantity,
        event_key=f"test:{uuid.uuid4()}",
        occurred_at=at,
    )


class TestUsage:
    async def test_free_plan_usage_is_counted_in_the_calendar_month(
        self, client: httpx.AsyncClient, app: Any, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client, card=None)
        async with sessions(app)() as session, session.begin():
            session.add(chatbot(owner.workspace_id))
            session.add(chatbot(owner.workspace_id, ChatbotStatus.archived))
            session.add(message_event(owner.workspace_id, datetime(2026, 1, 3, tzinfo=UTC), 2))
            session.add(message_event(owner.workspace_id, datetime(2026, 1, 20, tzinfo=UTC)))
            session.add(message_event(owner.workspace_id, datetime(2025, 12, 31, tzinfo=UTC)))

        response = await client.get("/v1/billing/usage", headers=owner.headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["period_start"], body["period_end"]) == (
            "2026-01-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
        )
        assert body["plan_id"] == "free"
        assert body["usage"] == {"chatbots": 1, "messages": 3, "pages": 0, "members": 1}
        assert body["limits"] == {"chatbots": 1, "messages": 100, "pages": 500, "members": 1}

    async def test_a_paid_plan_counts_its_own_period(
        self, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")

        body = (await client.get("/v1/billing/usage", headers=owner.headers)).json()

        assert (body["plan_id"], body["period_start"]) == ("starter", "2026-01-15T12:00:00Z")
        assert body["limits"]["chatbots"] == 3


class TestEnsureQuota:
    async def test_over_the_limit_names_limit_usage_and_upgrade(
        self, client: httpx.AsyncClient, app: Any
    ) -> None:
        owner = await new_owner(client, card=None)
        async with sessions(app)() as session, session.begin():
            session.add(chatbot(owner.workspace_id))

        async with sessions(app)() as session, session.begin():
            with pytest.raises(PaymentRequired) as raised:
                await ensure_quota(session, SHIPPED_PLANS, owner.workspace_id, "chatbots")

        assert raised.value.status == 402
        assert raised.value.slug == "quota-exceeded"
        assert raised.value.extra == {
            "limit": "chatbots",
            "limit_value": 1,
            "usage": 1,
            "plan_id": "free",
            "upgrade_plan_id": "starter",
        }

    async def test_under_the_limit_reports_what_remains(
        self, client: httpx.AsyncClient, app: Any, frozen_clock: FrozenClock
    ) -> None:
        owner = await new_owner(client, card=None)
        async with sessions(app)() as session, session.begin():
            session.add(message_event(owner.workspace_id, frozen_clock.now(), 40))

        async with sessions(app)() as session, session.begin():
            status = await ensure_quota(
                session, SHIPPED_PLANS, owner.workspace_id, "messages", needed=60
            )
            with pytest.raises(PaymentRequired) as raised:
                await ensure_quota(
                    session, SHIPPED_PLANS, owner.workspace_id, "messages_per_month", needed=61
                )

        assert (status.usage, status.remaining) == (40, 60)
        assert raised.value.extra["upgrade_plan_id"] == "starter"

    async def test_concurrent_requests_never_overshoot_the_limit(
        self, client: httpx.AsyncClient, app: Any
    ) -> None:
        owner = await new_owner(client)
        await subscribe(client, owner, "starter")  # 3 chatbots

        async def create_one() -> bool:
            async with sessions(app)() as session, session.begin():
                try:
                    await ensure_quota(session, SHIPPED_PLANS, owner.workspace_id, "chatbots")
                except PaymentRequired:
                    return False
                session.add(chatbot(owner.workspace_id))
                return True

        outcomes = await asyncio.gather(*(create_one() for _ in range(10)))

        assert outcomes.count(True) == 3
        usage = (await client.get("/v1/billing/usage", headers=owner.headers)).json()
        assert usage["usage"]["chatbots"] == 3
