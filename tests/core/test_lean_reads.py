"""The lean read path (`PreparedSelect` + `fetch_row`) and the per-request session."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError

from sitechat.core.db import PreparedSelect, fetch_row
from sitechat.models.chatbots import Chatbot, ChatbotStatus, Visibility
from tests.fixtures.accounts import register

CHATBOTS = Chatbot.__table__
BY_ID = PreparedSelect.of(
    select(CHATBOTS.c.id, CHATBOTS.c.name, CHATBOTS.c.status).where(
        CHATBOTS.c.id == bindparam("chatbot_id")
    )
)


class TestPreparedSelect:
    def test_refuses_values_written_into_the_statement(self) -> None:
        with pytest.raises(ValueError, match="bindparam"):
            PreparedSelect.of(select(CHATBOTS.c.id).where(CHATBOTS.c.name == "x"))

    def test_parameters_are_positional_in_order(self) -> None:
        query = PreparedSelect.of(
            select(CHATBOTS.c.id).where(
                CHATBOTS.c.workspace_id == bindparam("workspace_id"),
                CHATBOTS.c.id == bindparam("chatbot_id"),
            )
        )
        assert query.parameter_names == ("workspace_id", "chatbot_id")
        assert "$1" in query.sql and "$2" in query.sql


class TestFetchRow:
    async def test_row_as_mapping_and_none_when_missing(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        created = await client.post("/v1/chatbots", json={"name": "Lean"}, headers=account.headers)
        chatbot_id = uuid.UUID(created.json()["id"])
        async with app.state.read_sessionmaker() as session:
            row = await fetch_row(session, BY_ID, chatbot_id=chatbot_id)
            missing = await fetch_row(session, BY_ID, chatbot_id=uuid.uuid4())
        assert row == {"id": chatbot_id, "name": "Lean", "status": "draft"}
        assert missing is None

    async def test_in_a_transaction_it_sees_the_sessions_own_writes(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        async with app.state.sessionmaker() as session:
            chatbot = Chatbot(
                workspace_id=account.workspace_id,
                name="Uncommitted",
                fallback_message="-",
                visibility=Visibility.private,
                status=ChatbotStatus.draft,
            )
            session.add(chatbot)
            await session.flush()
            row = await fetch_row(session, BY_ID, chatbot_id=chatbot.id)
            await session.rollback()
        assert row is not None and row["name"] == "Uncommitted"

    async def test_driver_errors_are_sqlalchemy_errors(self, app: Any) -> None:
        broken = PreparedSelect(sql="SELECT * FROM no_such_table", parameter_names=())
        async with app.state.read_sessionmaker() as session:
            with pytest.raises(DBAPIError):
                await fetch_row(session, broken)
            # The pooled connection went back usable: the next read works.
            assert await fetch_row(session, BY_ID, chatbot_id=uuid.uuid4()) is None


class TestRequestSession:
    async def test_unknown_chatbot_is_404_and_the_pool_is_not_drained(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        pool = app.state.engine.sync_engine.pool
        read_pool = app.state.read_pool
        for _ in range(max(pool.size(), read_pool.get_max_size()) + 5):
            response = await client.get(f"/v1/chatbots/{uuid.uuid4()}", headers=account.headers)
            assert response.status_code == 404
        assert pool.checkedout() == 0
        assert read_pool.get_idle_size() == read_pool.get_size()
