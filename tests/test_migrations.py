"""Migrations and models agree, every migration can be undone, and `sitechat migrate` says
where it took the database or why it would not."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from sitechat.core.db import async_url
from sitechat.core.embedded_db import ensure_database
from sitechat.core.migrate import (
    DatabaseNewerThanCode,
    alembic_config,
    current_revision,
    include_name,
    include_object,
    upgrade_database,
)
from sitechat.models.base import Base
from tests.fixtures.database import connect_kwargs, drop_database

HANDOFF_ENABLED_REVISION = "c4d0e0000033"


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


_CHATBOT_ROW = """
INSERT INTO chatbots (id, created_at, updated_at, workspace_id, name, description, instructions,
    temperature, max_answer_chars, welcome_message, suggested_questions, fallback_message,
    visibility, allowed_origins, language, retrieval, status, lead_capture, handoff_message)
VALUES (gen_random_uuid(), now(), now(), :workspace_id, :name, '', '', 0.2, 1200, '', '[]',
    'Sorry', 'public', '[]', 'english', '{}', 'ready', '{}', 'A person will reply.')
"""


async def _chatbots_handoff(database_url: str, add_chatbot: str | None) -> dict[str, bool]:
    """Every chatbot's `handoff_enabled` by name, after adding one named `add_chatbot` (with
    the workspace it needs) when given; the column is left out when it does not exist yet."""
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.begin() as connection:
            if add_chatbot is not None:
                workspace_id = await connection.scalar(
                    text(
                        "INSERT INTO workspaces (id, created_at, updated_at, name, is_personal) "
                        "VALUES (gen_random_uuid(), now(), now(), 'Shop', false) RETURNING id"
                    )
                )
                await connection.execute(
                    text(_CHATBOT_ROW), {"workspace_id": workspace_id, "name": add_chatbot}
                )
            has_column = await connection.scalar(
                text(
                    "SELECT count(*) FROM information_schema.columns "
                    "WHERE table_name = 'chatbots' AND column_name = 'handoff_enabled'"
                )
            )
            if not has_column:
                return {}
            rows = await connection.execute(text("SELECT name, handoff_enabled FROM chatbots"))
            return {name: enabled for name, enabled in rows}
    finally:
        await engine.dispose()


class TestHandoffEnabledMigration:
    def test_existing_chatbots_keep_handoff_and_new_ones_start_without(
        self, scratch_database_url: str
    ) -> None:
        upgrade_database(scratch_database_url)
        config = alembic_config(scratch_database_url)
        command.downgrade(config, HANDOFF_ENABLED_REVISION + "-1")
        try:
            asyncio.run(_chatbots_handoff(scratch_database_url, "existing"))
            command.upgrade(config, "head")
            after = asyncio.run(_chatbots_handoff(scratch_database_url, "created later"))
        finally:
            command.downgrade(config, "base")
            upgrade_database(scratch_database_url)

        assert after == {"existing": True, "created later": False}


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


UNKNOWN_REVISION = "ffff00000099"


def _sitechat(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`sitechat ARGS` as an operator runs it, on `database_url`, with bounded time."""
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "LANG": "C.UTF-8",
        "SITECHAT_ENV": "test",
        "SITECHAT_LOG_LEVEL": "WARNING",
        "SITECHAT_EMBEDDING_PROVIDER": "none",
        "DATABASE_URL": database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "sitechat.cli", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _the_line(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sitechat: "), lines
    return lines[0]


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config("postgresql:///unused")).get_current_head()
    assert head is not None
    return head


async def _set_revision(database_url: str, revision: str) -> None:
    connection = await asyncpg.connect(**connect_kwargs(database_url))  # type: ignore[arg-type]
    try:
        await connection.execute("UPDATE alembic_version SET version_num = $1", revision)
    finally:
        await connection.close()


@pytest.fixture
def empty_database_url(server_url: str) -> Iterator[str]:
    name = f"sitechat_migrate_cli_{secrets.token_hex(4)}"
    asyncio.run(ensure_database(server_url, name))
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(drop_database(server_url, name))


class TestMigrateCommand:
    """`sitechat migrate` said nothing of where it took the database, and a database a newer
    version had migrated ended in an alembic traceback."""

    def test_says_where_the_database_came_from_and_is(
        self, empty_database_url: str, tmp_path: Path
    ) -> None:
        head = _head()
        first = _the_line(_sitechat(empty_database_url, tmp_path, "migrate"), 0)
        assert first == (
            f"sitechat: the database is at revision {head}, the newest, migrated from an "
            "empty database"
        )
        again = _the_line(_sitechat(empty_database_url, tmp_path, "migrate"), 0)
        assert (
            again == f"sitechat: the database is at revision {head}, the newest: nothing to migrate"
        )

        config = alembic_config(empty_database_url)
        command.downgrade(config, "-1")
        previous = current_revision(empty_database_url)
        assert previous is not None and previous != head
        step = _the_line(_sitechat(empty_database_url, tmp_path, "migrate"), 0)
        assert step == (
            f"sitechat: the database is at revision {head}, the newest, migrated from "
            f"revision {previous}"
        )
        assert current_revision(empty_database_url) == head

    @pytest.mark.parametrize("command_args", [("migrate",), ("serve", "--port", "0")])
    def test_a_database_newer_than_the_code_is_refused_in_one_line(
        self, empty_database_url: str, tmp_path: Path, command_args: tuple[str, ...]
    ) -> None:
        upgrade_database(empty_database_url)
        asyncio.run(_set_revision(empty_database_url, UNKNOWN_REVISION))
        result = _sitechat(empty_database_url, tmp_path, *command_args)
        line = _the_line(result, 1)
        assert line.startswith(f"sitechat: the database is at revision {UNKNOWN_REVISION}, ")
        assert f"does not know (its newest is {_head()})" in line
        assert current_revision(empty_database_url) == UNKNOWN_REVISION
        with pytest.raises(DatabaseNewerThanCode):
            upgrade_database(empty_database_url)
