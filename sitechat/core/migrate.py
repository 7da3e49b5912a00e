"""Schema management: Alembic for our tables, procrastinate's own SQL for the queue tables."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from sitechat.core.db import async_url

log = structlog.get_logger()

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
QUEUE_TABLES_PREFIX = "procrastinate_"
# Taken for the transaction that changes the schema (ours, then the queue's), so that processes
# migrating one database at once do it one after the other. The key is arbitrary and constant.
MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(7384019246)")
# Tables that exist only on some servers (pgvector), so they cannot be in the models' metadata.
OPTIONAL_TABLES = frozenset({"chunk_embeddings"})


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate compares the models' tables only: the queue's tables belong to
    procrastinate, and the optional tables are managed by their migrations alone."""
    table_name = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    table_name = table_name or ""
    return not table_name.startswith(QUEUE_TABLES_PREFIX) and table_name not in OPTIONAL_TABLES


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Optional tables are not even reflected (their column types may be unknown here)."""
    return not (type_ == "table" and name in OPTIONAL_TABLES)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["database_url"] = database_url
    return config


class DatabaseNewerThanCode(Exception):
    """The database is at a revision this code has no migration for: a newer SiteChat
    migrated it. Upgrading would fail inside alembic; running on it would break."""

    def __init__(self, revision: str, head: str) -> None:
        super().__init__(
            f"the database is at revision {revision}, which this version of SiteChat does not "
            f"know (its newest is {head}): a newer version migrated it. Run that version, or "
            "restore the backup taken before the upgrade; nothing was changed"
        )
        self.revision = revision
        self.head = head


@dataclass(frozen=True)
class MigrationOutcome:
    """Where the database was and where it is now (None: no revision, an empty database)."""

    before: str | None
    after: str

    def describe(self) -> str:
        if self.before == self.after:
            return f"the database is at revision {self.after}, the newest: nothing to migrate"
        source = "an empty database" if self.before is None else f"revision {self.before}"
        return f"the database is at revision {self.after}, the newest, migrated from {source}"


def upgrade_database(database_url: str) -> MigrationOutcome:
    """Bring the schema to head: our migrations, then the queue schema if it is missing.
    Raises `DatabaseNewerThanCode`, changing nothing, for a revision this code does not know."""
    config = alembic_config(database_url)
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    assert head is not None, "the migrations have one head"
    before = current_revision(database_url)
    _refuse_unknown(scripts, before, head)
    try:
        command.upgrade(config, "head")
    except CommandError:
        # Another host with newer code migrated it between our look and our upgrade.
        _refuse_unknown(scripts, current_revision(database_url), head)
        raise
    asyncio.run(ensure_queue_schema(database_url))
    return MigrationOutcome(before=before, after=current_revision(database_url) or head)


def _refuse_unknown(scripts: ScriptDirectory, revision: str | None, head: str) -> None:
    if revision is None:
        return
    try:
        scripts.get_revision(revision)
    except CommandError:
        raise DatabaseNewerThanCode(revision, head) from None


def current_revision(database_url: str) -> str | None:
    """The revision recorded in the database's `alembic_version`; None when it has none."""

    async def read() -> str | None:
        engine = create_async_engine(async_url(database_url))
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_revision()
                )
        finally:
            await engine.dispose()

    return asyncio.run(read())


async def ensure_queue_schema(database_url: str) -> None:
    from procrastinate.schema import SchemaManager

    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.begin() as connection:
            await connection.execute(MIGRATION_LOCK)
            present = await connection.scalar(text("SELECT to_regclass('procrastinate_jobs')"))
            if present:
                return
            raw = await connection.get_raw_connection()
            assert raw.driver_connection is not None
            # A multi-statement script: asyncpg runs it with the simple query protocol.
            await raw.driver_connection.execute(SchemaManager.get_schema())
            log.info("migrate.queue_schema_applied")
    finally:
        await engine.dispose()
