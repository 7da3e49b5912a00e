"""A process-wide listener on one PostgreSQL notification channel (LISTEN/NOTIFY).

PostgreSQL delivers a `NOTIFY` sent inside a transaction when that transaction commits, to
every connection listening on its channel, and never for a transaction that rolled back. One
connection per process listens; while it is lost the process is told (`on_lost`) and a new one
is tried every `reconnect_seconds`; each (re)connection is reported (`on_listening`) once it
listens, so the caller can treat what it cached meanwhile as stale.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger()


class ChannelListener:
    def __init__(
        self,
        engine: AsyncEngine,
        channel: str,
        *,
        on_notification: Callable[[str], None],
        on_listening: Callable[[], None],
        on_lost: Callable[[], None],
        reconnect_seconds: float = 1.0,
    ) -> None:
        _, self._connect_kwargs = engine.dialect.create_connect_args(engine.url)
        self._channel = channel
        self._on_notification = on_notification
        self._on_listening = on_listening
        self._on_lost = on_lost
        self._reconnect_seconds = reconnect_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen before returning (so the first requests are already covered), then keep
        listening in the background."""
        connection = await self._listen()
        self._task = asyncio.create_task(self._run(connection), name=f"listen-{self._channel}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            connection: asyncpg.Connection = await asyncpg.connect(**self._connect_kwargs)
            await connection.add_listener(self._channel, self._notified)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("notifications.listen_failed", channel=self._channel, error=str(error))
            self._on_lost()
            return None
        self._on_listening()
        return connection

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._on_notification(payload)

    async def _run(self, connection: asyncpg.Connection | None) -> None:
        try:
            while True:
                if connection is None:
                    await asyncio.sleep(self._reconnect_seconds)
                    connection = await self._listen()
                    continue
                await _closed(connection)
                log.warning("notifications.connection_lost", channel=self._channel)
                self._on_lost()
                connection = None
        finally:
            if connection is not None and not connection.is_closed():
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)


async def _closed(connection: asyncpg.Connection) -> None:
    """Returns once `connection` is lost (the server went away, the socket broke)."""
    lost = asyncio.Event()
    connection.add_termination_listener(lambda _connection: lost.set())
    await lost.wait()
