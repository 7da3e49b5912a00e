"""Schema management: Alembic for our tables, procrastinate's own SQL for the queue tables."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
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


def upgrade_database(database_url: str) -> None:
    """Bring the schema to head: our migrations, then the queue schema if it is missing."""
    command.upgrade(alembic_config(database_url), "head")
    asyncio.run(ensure_queue_schema(database_url))


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
