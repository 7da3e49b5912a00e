"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from sitechat.core.errors import problem_response
from sitechat.core.state import app_state
from sitechat.ops.metrics import QueueSnapshot, exposition, read_queue_snapshot
from sitechat.ops.workers import WorkerHeartbeats, read_worker_heartbeats

log = structlog.get_logger()
router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check_database(request: Request) -> None:
    async with app_state(request).engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check_queue(request: Request) -> None:
    async with app_state(request).engine.connect() as connection:
        await connection.execute(text("SELECT 1 FROM procrastinate_jobs LIMIT 1"))


async def _check_redis(request: Request) -> None:
    state = app_state(request)
    if state.rate_limiter is not None and not await state.rate_limiter.check_storage():
        raise ConnectionError("rate-limit storage unreachable")
    if state.redis is not None:
        await state.redis.ping()


async def _worker_heartbeats(request: Request) -> WorkerHeartbeats | None:
    """The workers' heartbeats, or None when they cannot be read in time."""
    stale_after = app_state(request).settings.worker.heartbeat_stale_after_seconds
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with app_state(request).engine.connect() as connection:
                return await read_worker_heartbeats(connection, stale_after)
    except Exception as error:
        log.warning("ops.worker_heartbeats_unreadable", error=type(error).__name__)
        return None


@router.get(
    "/readyz",
    summary="Dependencies are reachable; whether a job worker is alive",
    description=(
        "200 while this API process can serve requests: the database, the queue tables and "
        "Redis (when configured) answer. `status` is `ready`, or `degraded` when no job worker "
        'has sent a heartbeat within `worker.stale_after_seconds` (`degraded: ["worker"]`): '
        "chat still works, but crawls and other jobs wait in the queue until a worker runs. "
        "A degraded worker does not fail the probe, so a load balancer keeps the API in "
        "rotation (ADR 0030); alert on `sitechat_workers_alive` in `/metrics`."
    ),
    responses={503: {"description": "A dependency is down; `failing` names it."}},
)
async def readyz(request: Request) -> Any:
    checks = {"database": _check_database, "queue": _check_queue}
    if app_state(request).redis is not None:
        checks["redis"] = _check_redis
    failing: list[str] = []
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(request), CHECK_TIMEOUT_SECONDS)
        except Exception as error:
            log.warning("ops.readiness_failed", check=name, error=type(error).__name__)
            failing.append(name)
    if failing:
        return problem_response(
            status=503,
            slug="not-ready",
            detail=f"Not ready: {', '.join(failing)} unavailable.",
            request_id=request.state.request_id,
            extra={"failing": failing},
        )
    workers = await _worker_heartbeats(request)
    body: dict[str, Any] = {
        "status": "ready",
        "checks": sorted([*checks, "worker"]),
        "degraded": [],
        "worker": workers.as_json() if workers is not None else None,
    }
    if workers is None or workers.alive == 0:
        stale_after = app_state(request).settings.worker.heartbeat_stale_after_seconds
        body["status"] = "degraded"
        body["degraded"] = ["worker"]
        body["detail"] = (
            f"No job worker has sent a heartbeat in the last {stale_after:g} s: crawls, file "
            "sources and other jobs wait in the queue until one runs."
        )
    return JSONResponse(body)


async def _queue_snapshot(request: Request) -> QueueSnapshot | None:
    state = app_state(request)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with state.engine.connect() as connection:
                return await read_queue_snapshot(
                    connection, state.settings.worker.heartbeat_stale_after_seconds
                )
    except Exception as error:
        log.warning("ops.job_metrics_failed", error=type(error).__name__)
        return None


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    """Every API process's counters (added up across `serve --workers N`), then the queue:
    `sitechat_jobs` by task and state, `sitechat_workers_alive` (ADR 0030)."""
    body = exposition(
        app_state(request).settings.metrics_multiproc_dir, await _queue_snapshot(request)
    )
    return PlainTextResponse(body, media_type=CONTENT_TYPE_LATEST)
