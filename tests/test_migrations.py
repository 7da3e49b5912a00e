"""Migrations and models agree, and every migration can be undone."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from sitechat.core.db import async_url
from sitechat.core.embedded_db import ensure_database
from sitechat.core.migrate import (
    alembic_config,
    include_name,
    include_object,
    upgrade_database,
)
from sitechat.models.base import Base
from tests.fixtures.database import drop_database


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_object": include_object,
            "include_name": include_name,
            "compare_type": True,
            "compare_server_default": True,
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def _autogenerate_diff(database_url: str) -> list[object]:
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_differences)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def scratch_database_url(server_url: str) -> Iterator[str]:
    """A database of its own: dropping types under the app's pooled connections (which cache
    type ids) would break the tests that share the suite's database."""
    name = f"sitechat_migrations_{secrets.token_hex(4)}"
    asyncio.run(ensure_database(server_url, name))
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(drop_database(server_url, name))


class TestMigrations:
    def test_head_matches_the_models(self, scratch_database_url: str) -> None:
        upgrade_database(scratch_database_url)
        assert asyncio.run(_autogenerate_diff(scratch_database_url)) == []

    def test_downgrade_to_base_and_back(self, scratch_database_url: str) -> None:
        upgrade_database(scratch_database_url)
        config = alembic_config(scratch_database_url)
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        assert asyncio.run(_autogenerate_diff(scratch_database_url)) == []


def test_two_processes_migrating_at_once_both_succeed(server_url: str) -> None:
    # Hosts starting a new version together each run the migrations at start; unserialized,
    # the second one's CREATE TYPE / CREATE TABLE failed on the first one's.
    name = f"sitechat_migrations_{secrets.token_hex(4)}"
    asyncio.run(ensure_database(server_url, name))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    code = "import sys; from sitechat.core.migrate import upgrade_database as u; u(sys.argv[1])"
    try:
        runs = [subprocess.Popen([sys.executable, "-c", code, url]) for _ in range(2)]
        assert [run.wait(timeout=300) for run in runs] == [0, 0]
        assert asyncio.run(_autogenerate_diff(url)) == []
    finally:
        asyncio.run(drop_database(server_url, name))
