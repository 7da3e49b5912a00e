"""Every error is a problem+json body with a request id; nothing the client sends is a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.app import create_app
from sitechat.chat import service
from sitechat.config import Settings
from sitechat.core.errors import Conflict
from tests.fixtures.accounts import register


class Echo(BaseModel):
    name: str = Field(max_length=20)
    count: int


def _app_with_probe_routes(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.post("/probe/echo")
    async def echo(body: Echo) -> Echo:
        return body

    @app.get("/probe/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @app.get("/probe/conflict")
    async def conflict() -> None:
        raise Conflict("Already there.", extra={"existing_id": "abc"})

    return app


@pytest.fixture
async def probe(settings: Settings) -> httpx.AsyncClient:
    app = _app_with_probe_routes(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].endswith(f"/{slug}")
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body  # type: ignore[no-any-return]


class TestFrameworkErrors:
    async def test_unknown_route_is_a_404_problem(self, probe: httpx.AsyncClient) -> None:
        assert_problem(await probe.get("/nowhere"), 404, "not-found")

    async def test_wrong_method_is_a_405_problem(self, probe: httpx.AsyncClient) -> None:
        assert_problem(await probe.delete("/probe/echo"), 405, "method-not-allowed")

    async def test_validation_error_lists_fields(self, probe: httpx.AsyncClient) -> None:
        response = await probe.post("/probe/echo", json={"name": "x" * 21})
        body = assert_problem(response, 422, "validation-error")
        locations = {tuple(error["loc"]) for error in body["errors"]}  # type: ignore[attr-defined]
        assert ("body", "name") in locations
        assert ("body", "count") in locations

    async def test_malformed_json_is_a_400(self, probe: httpx.AsyncClient) -> None:
        response = await probe.post(
            "/probe/echo", content=b'{"name": ', headers={"content-type": "application/json"}
        )
        assert_problem(response, 400, "malformed-json")

    async def test_bad_utf8_is_a_4xx_problem(self, probe: httpx.AsyncClient) -> None:
        response = await probe.post(
            "/probe/echo",
            content=b'{"name": "\xff\xfe", "count": 1}',
            headers={"content-type": "application/json"},
        )
        assert 400 <= response.status_code < 500
        assert response.headers["content-type"] == "application/problem+json"

    async def test_wrong_content_type_is_a_415(self, probe: httpx.AsyncClient) -> None:
        response = await probe.post(
            "/probe/echo", content=b"name=x", headers={"content-type": "text/plain"}
        )
        assert_problem(response, 415, "unsupported-media-type")

    async def test_declared_oversize_body_is_a_413(
        self, probe: httpx.AsyncClient, settings: Settings
    ) -> None:
        too_big = b"x" * (settings.http.max_body_bytes + 1)
        response = await probe.post(
            "/probe/echo", content=too_big, headers={"content-type": "application/json"}
        )
        assert_problem(response, 413, "payload-too-large")

    async def test_streamed_oversize_body_is_a_413(
        self, probe: httpx.AsyncClient, settings: Settings
    ) -> None:
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(settings.http.max_body_bytes // 65536 + 2):
                yield b"x" * 65536

        response = await probe.post(
            "/probe/echo", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_problem(response, 413, "payload-too-large")


class TestDomainAndUnhandledErrors:
    async def test_domain_error_keeps_its_type_and_extras(self, probe: httpx.AsyncClient) -> None:
        body = assert_problem(await probe.get("/probe/conflict"), 409, "conflict")
        assert body["existing_id"] == "abc"

    async def test_unhandled_exception_is_a_generic_500_with_a_logged_trace(
        self, probe: httpx.AsyncClient
    ) -> None:
        with structlog.testing.capture_logs() as logs:
            response = await probe.get("/probe/boom")
        body = assert_problem(response, 500, "internal-error")
        assert "hunter2" not in response.text and "RuntimeError" not in response.text
        failures = [entry for entry in logs if entry["event"] == "http.unhandled_exception"]
        assert failures and failures[0]["log_level"] == "error"
        assert body["request_id"]


class TestRequestId:
    async def test_generated_when_absent(self, probe: httpx.AsyncClient) -> None:
        response = await probe.get("/healthz")
        assert len(response.headers["x-request-id"]) == 32

    async def test_valid_one_is_echoed(self, probe: httpx.AsyncClient) -> None:
        response = await probe.get("/healthz", headers={"X-Request-ID": "abc-123.x"})
        assert response.headers["x-request-id"] == "abc-123.x"

    @pytest.mark.parametrize("bad", ["has space", "x" * 129, "<script>"])
    async def test_invalid_one_is_refused(self, probe: httpx.AsyncClient, bad: str) -> None:
        response = await probe.get("/healthz", headers={"X-Request-ID": bad})
        assert_problem(response, 400, "invalid-request-id")
        assert response.headers["x-request-id"] != bad


class TestValuesTheDatabaseRefuses:
    async def test_nul_character_in_a_looked_up_value_is_a_422(
        self, client: httpx.AsyncClient
    ) -> None:
        # Found by fuzzing: PostgreSQL refuses NUL in text; that is the client's error.
        response = await client.post(
            "/v1/auth/login", json={"email": "a\x00@example.com", "password": "x" * 12}
        )
        assert_problem(response, 422, "invalid-value")


class TestDatabaseOutOfTime:
    async def test_a_statement_out_of_time_is_a_503_to_retry(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A statement that waits past `statement_timeout` (a lock another transaction holds)
        is the service being busy, not a bug: 503 with Retry-After, and nothing stored."""
        account = await register(client)
        created = await client.post("/v1/chatbots", json={"name": "Bot"}, headers=account.headers)
        chatbot_id = created.json()["id"]
        start_conversation = service.start_conversation

        async def out_of_time(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
            conversation = await start_conversation(session, *args, **kwargs)
            await session.execute(text("SET LOCAL statement_timeout = 20"))
            await session.execute(text("SELECT pg_sleep(1)"))  # canceled by PostgreSQL
            return conversation

        monkeypatch.setattr(service, "start_conversation", out_of_time)
        response = await client.post(
            f"/v1/chatbots/{chatbot_id}/conversations", json={}, headers=account.headers
        )
        monkeypatch.undo()

        assert_problem(response, 503, "database-busy")
        assert response.headers["Retry-After"] == "2"
        listed = await client.get(
            f"/v1/chatbots/{chatbot_id}/conversations", headers=account.headers
        )
        assert listed.json()["items"] == []
