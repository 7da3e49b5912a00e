"""Health, readiness and metrics as an operator's probes see them."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from sitechat.core.db import async_url


class TestProbes:
    async def test_healthz(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200 and response.json() == {"status": "ok"}

    async def test_readyz_checks_database_queue_and_worker(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"] == ["database", "queue", "worker"]

    async def test_readyz_without_a_worker_is_degraded_not_failing(
        self, client: httpx.AsyncClient
    ) -> None:
        """The suite's app runs no worker: the API serves, jobs would wait. A load balancer
        keeps it (200); the body and the gauge say what is missing (ADR 0030)."""
        response = await client.get("/readyz")
        assert response.status_code == 200
        body = response.json()
        assert (body["status"], body["degraded"]) == ("degraded", ["worker"])
        assert body["worker"] == {
            "alive": 0,
            "last_heartbeat_age_seconds": None,
            "stale_after_seconds": 30.0,
        }
        assert "No job worker has sent a heartbeat in the last 30 s" in body["detail"]
        metrics = (await client.get("/metrics")).text
        assert "\nsitechat_workers_alive 0.0\n" in metrics

    async def test_readyz_names_the_failing_dependency(self, app: object) -> None:
        state = app.state  # type: ignore[attr-defined]
        healthy_engine = state.engine
        state.engine = create_async_engine(
            async_url("postgresql://nobody@127.0.0.1:1/none"), pool_pre_ping=False
        )
        try:
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.get("/readyz")
        finally:
            await state.engine.dispose()
            state.engine = healthy_engine
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert set(response.json()["failing"]) == {"database", "queue"}


class TestMetrics:
    async def test_request_counts_and_latency_by_route_template(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.get("/healthz")
        await client.get("/no/such/route")
        text = (await client.get("/metrics")).text
        assert 'sitechat_http_requests_total{method="GET",route="/healthz",status="200"}' in text
        assert 'route="<unmatched>",status="404"' in text
        assert "sitechat_http_request_duration_seconds_bucket" in text
        assert "sitechat_jobs" in text
