"""Readiness tells an operator whether a job worker is alive: real API and worker processes.

`/readyz` answered "ready" with no worker anywhere, while every crawl waited in the queue
forever. Workers now beat in PostgreSQL (`procrastinate_workers`); the API counts those heard
from within three beats (ADR 0030). The beat is short here so that the tests are quick.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import httpx

from tests.faults.conftest import Processes, base_env, eventually

HEARTBEAT_SECONDS = 0.5
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS
# `sitechat worker` imports the app and connects before its first beat; on a loaded machine
# that took seconds.
WORKER_START_SECONDS = 60.0


async def _readiness(http: httpx.AsyncClient) -> Any:
    response = await http.get("/readyz")
    assert response.status_code == 200, response.text
    return response.json()


async def _workers_alive_gauge(http: httpx.AsyncClient) -> float:
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith("sitechat_workers_alive "):
            return float(line.split()[1])
    raise AssertionError("no sitechat_workers_alive in /metrics")


async def _when(http: httpx.AsyncClient, status: str, *, seconds: float) -> Any:
    async def reported() -> Any:
        body = await _readiness(http)
        return body if body["status"] == status else None

    return await eventually(reported, seconds=seconds, what=f"/readyz {status}", every=0.1)


async def test_readiness_follows_a_standalone_worker(
    processes: Processes, database_url: str
) -> None:
    """No worker: degraded (still 200). A worker: ready, and it stays ready for many stale
    windows (its beat is renewed, not only written at start). Killed: degraded again once its
    last beat is older than the stale window, not before."""
    env = base_env(database_url, SITECHAT_WORKER_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS))
    api = processes.api(env)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as http:
        before = await _readiness(http)
        assert (before["status"], before["degraded"]) == ("degraded", ["worker"])
        assert before["worker"]["alive"] == 0
        assert before["worker"]["stale_after_seconds"] == STALE_AFTER_SECONDS
        assert await _workers_alive_gauge(http) == 0

        worker = processes.worker(env)
        await _when(http, "ready", seconds=WORKER_START_SECONDS)
        for _ in range(4):  # 4 stale windows: only renewed beats keep it ready
            await asyncio.sleep(STALE_AFTER_SECONDS)
            alive = await _readiness(http)
            assert (alive["status"], alive["degraded"]) == ("ready", [])
            assert alive["worker"]["alive"] == 1
            assert alive["worker"]["last_heartbeat_age_seconds"] < STALE_AFTER_SECONDS
        assert await _workers_alive_gauge(http) == 1

        worker.signal(signal.SIGKILL)  # no clean stop: its row stays, its beats stop
        worker.wait(timeout=5)
        killed_at = time.monotonic()
        gone = await _when(http, "degraded", seconds=STALE_AFTER_SECONDS + 10)
        assert time.monotonic() - killed_at >= STALE_AFTER_SECONDS - HEARTBEAT_SECONDS
        assert gone["degraded"] == ["worker"] and gone["worker"]["alive"] == 0
        assert gone["worker"]["last_heartbeat_age_seconds"] >= STALE_AFTER_SECONDS
        assert await _workers_alive_gauge(http) == 0


async def test_a_stopped_worker_is_reported_at_once(
    processes: Processes, database_url: str
) -> None:
    """SIGTERM: the worker deletes its row as it exits, so readiness need not wait out the
    stale window (the default window, 30 s, would fail this test's bound)."""
    env = base_env(database_url)
    api = processes.api(env)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as http:
        worker = processes.worker(env)
        await _when(http, "ready", seconds=WORKER_START_SECONDS)
        # Registered first, then procrastinate installs its SIGTERM handler: give it a moment.
        await asyncio.sleep(0.5)
        assert worker.stop() == 0
        gone = await _readiness(http)
        assert (gone["status"], gone["worker"]["alive"]) == ("degraded", 0)
        assert gone["worker"]["last_heartbeat_age_seconds"] is None


async def test_the_in_process_worker_makes_the_api_ready(
    processes: Processes, database_url: str
) -> None:
    """`make run`'s shape: one process serving the API with its worker inside."""
    env = base_env(database_url, SITECHAT_WORKER_IN_PROCESS="true")
    api = processes.api(env)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as http:
        ready = await _when(http, "ready", seconds=WORKER_START_SECONDS)
        assert ready["worker"]["alive"] == 1
