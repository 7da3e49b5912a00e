"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy import text

from sitechat.core.errors import problem_response
from sitechat.core.state import app_state

log = structlog.get_logger()
router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 2.0
JOBS_BY_STATE = Gauge("sitechat_jobs", "Jobs in the queue by task and state", ["task", "state"])


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


@router.get(
    "/readyz",
    summary="Dependencies are reachable",
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
    return JSONResponse({"status": "ready", "checks": sorted(checks)})


async def _refresh_job_gauge(request: Request) -> None:
    query = text("SELECT task_name, status::text, count(*) FROM procrastinate_jobs GROUP BY 1, 2")
    try:
        async with app_state(request).engine.connect() as connection:
            rows = (await connection.execute(query)).all()
    except Exception as error:
        log.warning("ops.job_metrics_failed", error=type(error).__name__)
        return
    JOBS_BY_STATE.clear()
    for task, state, count in rows:
        JOBS_BY_STATE.labels(task, state).set(count)


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    await _refresh_job_gauge(request)
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)
