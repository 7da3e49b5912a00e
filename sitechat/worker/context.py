"""What jobs need from the process they run in: a database session factory and the settings.

The API process (in-process worker) and `sitechat worker` both call `configure_task_context`
at start, so a task can open its own short transactions with `task_session()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sitechat.config import Settings


@dataclass
class TaskContext:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]


_context: TaskContext | None = None


def configure_task_context(context: TaskContext) -> None:
    global _context
    _context = context


def task_context() -> TaskContext:
    if _context is None:
        raise RuntimeError("the task context is not configured; start the worker through sitechat")
    return _context


@contextlib.asynccontextmanager
async def task_session() -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits when the block ends without an error."""
    async with task_context().sessionmaker() as session, session.begin():
        yield session
