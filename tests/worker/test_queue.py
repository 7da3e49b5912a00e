"""Jobs leave a request only if it commits; stalled jobs go back to the queue."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from sitechat.app import create_app
from sitechat.config import Settings
from sitechat.core.db import JobBufferDep, SessionDep
from sitechat.core.errors import Conflict
from sitechat.core.routing import api_router
from sitechat.ops.tasks import retry_stalled_jobs
from sitechat.worker.queue import queue
from tests.fixtures.database import connect_kwargs

PROBE_TASK = "ops.purge_finished_jobs"


def _app_with_enqueuing_routes(settings: Settings) -> FastAPI:
    app = create_app(settings)
    router = api_router()

    @router.post("/probe/enqueue")
    async def enqueue(session: SessionDep, jobs: JobBufferDep) -> dict[str, str]:
        await session.execute(text("SELECT 1"))
        jobs.defer(PROBE_TASK, timestamp=1)
        return {"status": "queued"}

    @router.post("/probe/enqueue-then-fail")
    async def enqueue_then_fail(session: SessionDep, jobs: JobBufferDep) -> None:
        await session.execute(text("SELECT 1"))
        jobs.defer(PROBE_TASK, timestamp=2)
        raise Conflict("The request failed after asking for a job.")

    @router.post("/probe/enqueue-then-commit-fails")
    async def enqueue_then_commit_fails(session: SessionDep, jobs: JobBufferDep) -> None:
        # The row breaks a deferred constraint: the commit itself fails.
        await session.execute(text("INSERT INTO sitechat_test_probe (id) VALUES (1)"))
        jobs.defer(PROBE_TASK, timestamp=4)

    app.include_router(router)
    return app


@pytest.fixture
async def probe(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = _app_with_enqueuing_routes(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def _queued_jobs() -> list[dict[str, object]]:
    jobs = await queue.job_manager.list_jobs_async(task=PROBE_TASK)
    return [{"id": job.id, "args": job.task_kwargs, "status": job.status} for job in jobs]


class TestJobsInTheRequestTransaction:
    async def test_committed_request_sends_its_job(self, probe: httpx.AsyncClient) -> None:
        response = await probe.post("/v1/probe/enqueue")
        assert response.status_code == 200
        jobs = await _queued_jobs()
        assert [job["args"] for job in jobs] == [{"timestamp": 1}]

    async def test_failed_request_sends_nothing(self, probe: httpx.AsyncClient) -> None:
        response = await probe.post("/v1/probe/enqueue-then-fail")
        assert response.status_code == 409
        assert await _queued_jobs() == []

    async def test_a_request_whose_commit_fails_sends_nothing(
        self, probe: httpx.AsyncClient, app: FastAPI
    ) -> None:
        statements = [
            "CREATE TABLE sitechat_test_probe (id integer)",
            "CREATE FUNCTION sitechat_test_refuse_probe() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$",
            "CREATE CONSTRAINT TRIGGER sitechat_test_refuse_probe AFTER INSERT "
            "ON sitechat_test_probe DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            "EXECUTE FUNCTION sitechat_test_refuse_probe()",
        ]
        async with app.state.sessionmaker() as session, session.begin():
            for statement in statements:
                await session.execute(text(statement))
        try:
            response = await probe.post("/v1/probe/enqueue-then-commit-fails")
        finally:
            async with app.state.sessionmaker() as session, session.begin():
                await session.execute(text("DROP TABLE sitechat_test_probe"))
                await session.execute(text("DROP FUNCTION sitechat_test_refuse_probe()"))
        assert response.status_code >= 500
        assert await _queued_jobs() == []


class TestStalledJobs:
    async def test_job_of_a_dead_worker_is_retried(self, app: object) -> None:
        job_id = await queue.configure_task(PROBE_TASK).defer_async(timestamp=3)
        manager = queue.job_manager
        worker_id = await manager.register_worker()
        job = await manager.fetch_job(queues=None, worker_id=worker_id)
        assert job is not None and job.id == job_id
        # The worker "dies": no more heartbeats, its job stays in `doing`.
        assert await retry_stalled_jobs(seconds_since_heartbeat=3600) == 0
        assert await retry_stalled_jobs(seconds_since_heartbeat=0) == 1
        status = await manager.get_job_status_async(job_id)
        assert status.value == "todo"


async def _last_worker_id(database_url: str) -> int:
    connection = await asyncpg.connect(**connect_kwargs(database_url))
    try:
        query = "SELECT coalesce(max(id), 0) FROM procrastinate_workers"
        return int(await connection.fetchval(query))
    finally:
        await connection.close()


class TestStandaloneWorkerLog:
    def test_says_when_it_starts_with_what_and_when_it_stops(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """`sitechat worker` logged nothing of its own between start and exit."""
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "SITECHAT_ENV": "test",
            "DATABASE_URL": database_url,
            "SITECHAT_EMBEDDING_PROVIDER": "none",
        }
        log_path = tmp_path / "worker.log"
        registered_before = asyncio.run(_last_worker_id(database_url))
        with log_path.open("wb") as log_file:
            worker = subprocess.Popen(
                [sys.executable, "-m", "sitechat.cli", "worker", "--concurrency", "3"],
                cwd=tmp_path,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + 60
                # Registered in the database: procrastinate handles SIGTERM from here on.
                while asyncio.run(_last_worker_id(database_url)) == registered_before:
                    assert worker.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.1)
                time.sleep(0.5)
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(timeout=30) == 0, log_path.read_text()
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
        lines = [json.loads(line) for line in log_path.read_text().splitlines()]
        events = {line["event"]: line for line in lines}
        started = events["worker.started"]
        assert (started["concurrency"], started["queues"]) == (3, "all")
        assert started["dense_retrieval"] is False
        assert "worker.stopped" in events
