"""Test harness: one fresh database per run, migrations applied once, every test isolated.

By default the run starts the embedded PostgreSQL (as `make run` does); with
`TEST_DATABASE_URL` it creates its database on that server instead (CI runs both).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from sitechat.app import create_app
from sitechat.config import (
    DatabaseSettings,
    EmbeddingSettings,
    Environment,
    RateLimitSettings,
    Settings,
    WorkerSettings,
)
from sitechat.core.clock import FrozenClock, use_clock
from sitechat.core.embedded_db import EmbeddedPostgres, ensure_database
from sitechat.core.migrate import upgrade_database
from sitechat.core.state import app_state, worker_context
from sitechat.models.base import Base
from sitechat.worker.queue import queue
from tests.fixtures.database import connect_kwargs, drop_database


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An admin URL of the PostgreSQL server the run uses."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    with tempfile.TemporaryDirectory(prefix="sitechat-test-") as data_dir:
        embedded = EmbeddedPostgres(Path(data_dir))
        url = embedded.start()
        try:
            yield make_url(url).set(database="postgres").render_as_string(hide_password=False)
        finally:
            embedded.stop()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    name = f"sitechat_test_{secrets.token_hex(4)}"
    asyncio.run(ensure_database(server_url, name))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    yield url
    asyncio.run(drop_database(server_url, name))


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        env=Environment.test,
        db=DatabaseSettings(DATABASE_URL=database_url, pool_size=5, max_overflow=5),
        worker=WorkerSettings(in_process=False),
        # Most tests register many users from one address; rate limits have their own tests.
        ratelimit=RateLimitSettings(enabled=False),
        # Lexical unless a test turns dense retrieval on (tests/knowledge: the real local model
        # or a local OpenAI-compatible server), so other tests' rankings do not depend on it.
        embedding=EmbeddingSettings(provider="none"),
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[object]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def target_app(app: object) -> object:
    """The app whose components a test swaps (the plan catalog, dense retrieval); a module
    whose tests run against another app overrides it."""
    return app


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


_TABLES_TO_CLEAN = ", ".join(
    [f'"{table.name}"' for table in Base.metadata.sorted_tables]
    # A worker row left by a test (a registered "dead" worker, a killed process) would count
    # as a live worker in the next test's readiness for up to three heartbeats.
    + ["procrastinate_jobs", "procrastinate_periodic_defers", "procrastinate_workers"]
)


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "database_url" not in request.fixturenames:
        return
    database_url = request.getfixturevalue("database_url")
    connection = await asyncpg.connect(**connect_kwargs(database_url))  # type: ignore[arg-type]
    try:
        await connection.execute(f"TRUNCATE {_TABLES_TO_CLEAN} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture
def frozen_clock() -> Iterator[FrozenClock]:
    clock = FrozenClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    previous = use_clock(clock)
    try:
        yield clock
    finally:
        use_clock(previous)


async def run_queued_jobs(app: Any) -> None:
    """Run every queued job to completion in this process, as `app`'s worker would (with its
    task context), then return."""
    await queue.run_worker_async(
        wait=False,
        install_signal_handlers=False,
        concurrency=1,
        additional_context=worker_context(app_state(app).task_context),
    )
