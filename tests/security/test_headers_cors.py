"""Security headers and CORS on one route of every route family, and no `Server` banner."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sitechat.config import HttpSettings, Settings
from tests.security.conftest import (
    REPO_ROOT,
    LiveServer,
    running_app,
    server_environment,
    stop_server,
)
from tests.security.world import WIDGET_ORIGIN, World, build_world

API_ORIGIN = "https://app.example.com"
OTHER_ORIGIN = "https://evil.example.net"
# OpenAPI tag of each route family; the widget's public routes are checked on their own.
FAMILIES = (
    "operations",
    "auth",
    "users",
    "api-keys",
    "workspaces",
    "chatbots",
    "crawling",
    "chat",
    "billing",
    "openai compatible",
)
EXPECTED_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


@pytest.fixture
async def cors_app(settings: Settings) -> AsyncIterator[FastAPI]:
    configured = settings.model_copy(update={"http": HttpSettings(cors_origins=[API_ORIGIN])})
    async with running_app(configured) as app:
        yield app


def _one_route_per_family(app: FastAPI) -> dict[str, tuple[str, str]]:
    chosen: dict[str, tuple[str, str]] = {}
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            family = (operation.get("tags") or ["operations"])[0]
            concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
            chosen.setdefault(family, (method.upper(), concrete))
    return chosen


def _assert_security_headers(response: httpx.Response) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.request.url)
    assert response.headers.get("x-request-id")
    assert "strict-transport-security" not in response.headers  # plain http here


class TestEveryFamily:
    async def test_security_headers_and_cors_for_the_configured_origin_only(
        self, cors_app: FastAPI
    ) -> None:
        routes = _one_route_per_family(cors_app)
        mounted = [family for family in FAMILIES if family in routes]
        assert {"operations", "auth", "users", "workspaces"} <= set(mounted)
        transport = httpx.ASGITransport(app=cors_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for family in mounted:
                method, path = routes[family]
                body: dict[str, str] | None = {} if method in ("POST", "PATCH", "PUT") else None
                allowed = await http.request(
                    method, path, json=body, headers={"Origin": API_ORIGIN}
                )
                _assert_security_headers(allowed)
                assert allowed.headers.get("access-control-allow-origin") == API_ORIGIN, family
                refused = await http.request(
                    method, path, json=body, headers={"Origin": OTHER_ORIGIN}
                )
                _assert_security_headers(refused)
                assert "access-control-allow-origin" not in refused.headers, family

                preflight = await http.options(
                    path,
                    headers={
                        "Origin": API_ORIGIN,
                        "Access-Control-Request-Method": method,
                        "Access-Control-Request-Headers": "authorization, content-type",
                    },
                )
                assert preflight.status_code == 200, (family, preflight.text)
                assert preflight.headers["access-control-allow-origin"] == API_ORIGIN
                assert method in preflight.headers["access-control-allow-methods"]
                _assert_security_headers(preflight)
                foreign_preflight = await http.options(
                    path,
                    headers={"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": method},
                )
                assert "access-control-allow-origin" not in foreign_preflight.headers

    async def test_widget_routes_answer_cors_for_the_chatbots_own_origins(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        world: World = await build_world(client, app)
        path = f"/v1/public/chatbots/{world.public_chatbot_id}/conversations"
        allowed = await client.post(path, headers={"Origin": WIDGET_ORIGIN})
        refused = await client.post(path, headers={"Origin": OTHER_ORIGIN})
        assert allowed.status_code == 201
        assert allowed.headers["access-control-allow-origin"] == WIDGET_ORIGIN
        _assert_security_headers(allowed)
        assert refused.status_code in (403, 404)
        # A refusal is readable on any origin, so the widget can say why (ADR 0013); it holds
        # nothing of the chatbot and never a visitor token.
        assert refused.headers["access-control-allow-origin"] == OTHER_ORIGIN
        assert "visitor_token" not in refused.text
        _assert_security_headers(refused)
        preflight = await client.options(
            path, headers={"Origin": WIDGET_ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code in (200, 204), preflight.text
        assert preflight.headers["access-control-allow-origin"] == WIDGET_ORIGIN


# `serve` ends its start with one `sitechat.ready` line naming the port it listens on.
_LISTENING = re.compile(r"\"api\":\"http://127\.0\.0\.1:(\d+)/v1\"")


def _start_sitechat_serve(database_url: str, log_path: Path) -> LiveServer:
    """`sitechat serve --port 0`, the operator's command, and the port it reports."""
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "sitechat.cli", "serve", "--port", "0"],
            cwd=REPO_ROOT,
            env=server_environment(database_url),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, "", log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        match = _LISTENING.search(server.log_text())
        if match:
            server.base_url = f"http://127.0.0.1:{match.group(1)}"
            return server
        time.sleep(0.05)
    stop_server(server)
    raise RuntimeError(f"sitechat serve did not start:\n{server.log_text()[-3000:]}")


class TestServerBanner:
    def test_sitechat_serve_sends_no_server_header(self, database_url: str, tmp_path: Path) -> None:
        server = _start_sitechat_serve(database_url, tmp_path / "serve.log")
        try:
            with httpx.Client(base_url=server.base_url, timeout=5) as http:
                responses = [http.get("/healthz"), http.get("/v1/no-such-route")]
        finally:
            stop_server(server)
        for response in responses:
            assert "server" not in response.headers, response.headers
            _assert_security_headers(response)
        assert responses[1].status_code == 404
