"""Whether any job worker is alive, as the workers' heartbeats in PostgreSQL tell it (ADR 0030).

Each worker, in-process or `sitechat worker`, has a row in procrastinate's
`procrastinate_workers` whose `last_heartbeat` it updates every
`SITECHAT_WORKER_HEARTBEAT_SECONDS` (`worker/runner.py`), and deletes when it stops. A worker
counts as alive while its last heartbeat is younger than `heartbeat_stale_after_seconds`; the
database's own clock writes and judges the heartbeats, so the hosts' clocks do not matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_READ_HEARTBEATS = text(
    "SELECT count(*) FILTER ("
    "  WHERE last_heartbeat > now() - make_interval(secs => CAST(:stale_after AS float))"
    "), EXTRACT(EPOCH FROM now() - max(last_heartbeat)) "
    "FROM procrastinate_workers"
)


@dataclass(frozen=True)
class WorkerHeartbeats:
    alive: int
    """Workers heard from within `stale_after_seconds`."""
    last_heartbeat_age_seconds: float | None
    """How long ago any worker last beat; None when no worker is registered (none ever ran
    since the last ones stopped cleanly)."""
    stale_after_seconds: float

    def as_json(self) -> dict[str, Any]:
        age = self.last_heartbeat_age_seconds
        return {
            "alive": self.alive,
            "last_heartbeat_age_seconds": None if age is None else round(age, 1),
            "stale_after_seconds": self.stale_after_seconds,
        }


async def read_worker_heartbeats(
    connection: AsyncConnection, stale_after_seconds: float
) -> WorkerHeartbeats:
    row = (await connection.execute(_READ_HEARTBEATS, {"stale_after": stale_after_seconds})).one()
    alive, age = row
    return WorkerHeartbeats(
        alive=int(alive),
        last_heartbeat_age_seconds=None if age is None else float(age),
        stale_after_seconds=stale_after_seconds,
    )
