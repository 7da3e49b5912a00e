"""Rate limits as a client sees them: headers on every API response, 429 problems, buckets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sitechat.app import create_app
from sitechat.config import RateLimitSettings, Settings
from sitechat.core.ratelimit import RouteClass
from sitechat.core.routing import api_router, rate_limit_class
from tests.fixtures.accounts import register


def _app(settings: Settings) -> FastAPI:
    limited = settings.model_copy(
        update={
            "ratelimit": RateLimitSettings(
                enabled=True, read="3/minute", write="2/minute", chat="1/minute"
            )
        }
    )
    app = create_app(limited)
    router = api_router(prefix="/probe")

    @router.get("/read")
    async def read() -> dict[str, str]:
        return {"ok": "read"}

    @router.post("/write")
    async def write() -> dict[str, str]:
        return {"ok": "write"}

    @router.post("/chat", openapi_extra=rate_limit_class(RouteClass.CHAT))
    async def chat() -> dict[str, str]:
        return {"ok": "chat"}

    app.include_router(router)
    return app


@pytest.fixture
async def probe(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = _app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


class TestRateLimitedRoutes:
    async def test_headers_count_down_then_429_problem(self, probe: httpx.AsyncClient) -> None:
        remaining = []
        for _ in range(3):
            response = await probe.get("/v1/probe/read")
            assert response.status_code == 200
            assert response.headers["ratelimit-limit"] == "3"
            assert response.headers["ratelimit-policy"] == "3;w=60"
            remaining.append(int(response.headers["ratelimit-remaining"]))
        assert remaining == [2, 1, 0]
        denied = await probe.get("/v1/probe/read")
        assert denied.status_code == 429
        assert denied.headers["content-type"] == "application/problem+json"
        assert denied.json()["type"].endswith("/rate-limited")
        assert int(denied.headers["retry-after"]) >= 1
        assert denied.headers["ratelimit-remaining"] == "0"

    async def test_route_classes_have_separate_buckets(self, probe: httpx.AsyncClient) -> None:
        assert (await probe.post("/v1/probe/chat")).status_code == 200
        assert (await probe.post("/v1/probe/chat")).status_code == 429
        assert (await probe.post("/v1/probe/write")).status_code == 200
        assert (await probe.get("/v1/probe/read")).status_code == 200

    async def test_each_verified_credential_has_its_own_bucket(
        self, probe: httpx.AsyncClient
    ) -> None:
        first, second = (await register(probe)).headers, (await register(probe)).headers
        assert (await probe.post("/v1/probe/chat", headers=first)).status_code == 200
        assert (await probe.post("/v1/probe/chat", headers=first)).status_code == 429
        assert (await probe.post("/v1/probe/chat", headers=second)).status_code == 200

    async def test_made_up_keys_share_the_client_address_bucket(
        self, probe: httpx.AsyncClient
    ) -> None:
        """Issue 13: a key nobody issued buys no bucket of its own."""
        first = {"Authorization": "Bearer sk_aaaaaaaaaaaa_secret1"}
        second = {"Authorization": "Bearer sk_bbbbbbbbbbbb_secret2"}
        assert (await probe.post("/v1/probe/chat", headers=first)).status_code == 200
        assert (await probe.post("/v1/probe/chat", headers=second)).status_code == 429

    async def test_unlimited_routes_carry_no_headers(self, probe: httpx.AsyncClient) -> None:
        response = await probe.get("/healthz")
        assert "ratelimit-limit" not in response.headers


class TestStrictQueries:
    async def test_unknown_query_parameter_is_a_422_naming_it(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/v1/billing/plans", params={"stauts": "ready"})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"] == [
            {"loc": ["query", "stauts"], "msg": "unknown parameter"}
        ]

    async def test_declared_query_parameters_pass(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        response = await client.get(
            "/v1/chatbots", params={"limit": 5, "status": "ready"}, headers=account.headers
        )
        assert response.status_code == 200
