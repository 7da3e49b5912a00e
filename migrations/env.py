"""Alembic environment: async engine, our metadata, queue tables left to procrastinate."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import sitechat.models  # noqa: F401 - registers every table on the metadata
from sitechat.core.db import async_url
from sitechat.core.migrate import MIGRATION_LOCK, include_name, include_object
from sitechat.models.base import Base

config = context.config
target_metadata = Base.metadata


def run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        include_name=include_name,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        # Hosts starting a new version at once: one migrates, the others wait and then find
        # the schema at head (the lock ends with the transaction).
        connection.execute(MIGRATION_LOCK)
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(async_url(config.attributes["database_url"]))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_with_connection)
            await connection.commit()
    finally:
        await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    run_with_connection(connection)
else:
    asyncio.run(run_online())
