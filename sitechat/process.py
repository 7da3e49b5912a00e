"""What every SiteChat process builds once at start, for its requests and its jobs alike.

`sitechat serve` (the app's `create_app` and lifespan, `app.py`) and `sitechat worker`
(`cli.py`) both start here, so an API process with its in-process worker and a standalone
worker hold the same objects: the plan catalog and the payment gateway (`start_components`),
dense retrieval (`provide_dense_retrieval`, which needs the database), and the jobs' context
(`start_task_context`). Each is a typed part of the process state (`core/state.py`); none is
a module global or built on first use.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sitechat.billing.catalog import load_catalog
from sitechat.billing.dependencies import build_gateway
from sitechat.config import Settings
from sitechat.core.mail import build_mailer
from sitechat.core.state import Components, TaskContext
from sitechat.knowledge.dense import DenseSetup, start_dense_retrieval, stop_dense_retrieval


def start_components(settings: Settings) -> Components:
    """The plan catalog (the operator's file, else the shipped one; a bad file refuses to
    start) and the payment gateway the settings name."""
    components = Components()
    components.provide(load_catalog(settings.billing.plans_file))
    components.provide(build_gateway(settings.billing))
    return components


@contextlib.asynccontextmanager
async def provide_dense_retrieval(
    components: Components, engine: AsyncEngine, settings: Settings
) -> AsyncIterator[None]:
    """Dense retrieval while the block runs: on only with an embedder AND pgvector (it logs
    which), otherwise lexical (`DenseSetup(None)`)."""
    dense = await start_dense_retrieval(engine, settings.embedding)
    components.provide(DenseSetup(dense))
    try:
        yield
    finally:
        await stop_dense_retrieval(dense)


def start_task_context(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], components: Components
) -> TaskContext:
    """What this process's jobs are handed (`core/state.py: task_context`)."""
    return TaskContext(
        settings=settings,
        sessionmaker=sessionmaker,
        mailer=build_mailer(settings.mail, settings.env),
        components=components,
    )
