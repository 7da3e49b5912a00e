"""The procrastinate app: jobs live in the same PostgreSQL as the data.

Tasks register on `queue` at import time (each domain's `tasks.py`); a real connector is swapped
in by `connected_queue` at start-up, so importing a task module never touches a database.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from procrastinate import App, PsycopgConnector

TASK_MODULES = [
    "sitechat.billing.tasks",
    "sitechat.ops.tasks",
    "sitechat.crawling.tasks",
    "sitechat.accounts.tasks",
    "sitechat.knowledge.tasks",
    "sitechat.sources.tasks",
    "sitechat.webhooks.tasks",
    "sitechat.workspaces.tasks",
]

queue = App(connector=PsycopgConnector(), import_paths=TASK_MODULES)


@contextlib.asynccontextmanager
async def connected_queue(conninfo: str, *, max_size: int = 10) -> AsyncIterator[App]:
    """The queue with an open connection pool to `conninfo`, for the duration of the block."""
    connector = PsycopgConnector(conninfo=conninfo, min_size=1, max_size=max_size)
    with queue.replace_connector(connector):
        async with queue.open_async():
            yield queue
