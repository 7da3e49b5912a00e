"""What every benchmark needs: a database to run against and a way to wait for a server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from sitechat.core.embedded_db import EmbeddedPostgres, ensure_database


@contextlib.contextmanager
def bench_database(scratch: Path, name: str) -> Iterator[str]:
    """A fresh database `name`: on BENCH_DATABASE_URL's server, else on an embedded one."""
    admin_url = os.environ.get("BENCH_DATABASE_URL")
    embedded = None
    if admin_url is None:
        embedded = EmbeddedPostgres(scratch)
        admin_url = embedded.start()
    try:
        asyncio.run(_recreate(admin_url, name))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if embedded is not None:
            embedded.stop()


async def _recreate(admin_url: str, name: str) -> None:
    import asyncpg

    url = make_url(admin_url)
    connection = await asyncpg.connect(
        user=url.username or "postgres",
        database=url.database or "postgres",
        host=url.query.get("host") or url.host,
        port=url.port,
    )
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
    await ensure_database(admin_url, name)


def wait_for_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")
