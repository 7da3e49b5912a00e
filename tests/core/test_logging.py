"""Secrets never reach a log line; every request writes one access line."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
import structlog

from sitechat.core.logging import REDACTED, redact_secrets


class TestRedaction:
    def test_secret_named_fields_are_redacted(self) -> None:
        event = redact_secrets(
            None,
            "info",
            {
                "event": "x",
                "password": "hunter2-hunter2",
                "refresh_token": "abc",
                "headers": {"Authorization": "Bearer abc"},
                "email": "a@example.com",
            },
        )
        assert event["password"] == REDACTED
        assert event["refresh_token"] == REDACTED
        assert event["headers"]["Authorization"] == REDACTED
        assert event["email"] == "a@example.com"

    def test_credential_shaped_values_are_redacted_anywhere(self) -> None:
        jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlX3NpZw"
        event = redact_secrets(
            None,
            "info",
            {"event": "x", "note": f"key sk_live_abcdefghijkl and {jwt}", "items": [jwt]},
        )
        assert "sk_live_abcdefghijkl" not in event["note"]
        assert jwt not in event["note"] and event["items"] == [REDACTED]

    def test_configured_pipeline_writes_redacted_json(self) -> None:
        from sitechat.core.logging import configure_logging

        configure_logging("INFO", cache_loggers=False)
        buffer = io.StringIO()
        logger = structlog.wrap_logger(
            structlog.WriteLogger(buffer),
            processors=structlog.get_config()["processors"],
        )
        logger.info("auth.login", api_key="sk_test_123456789", user_id="u1")
        line = json.loads(buffer.getvalue())
        assert line["api_key"] == REDACTED and line["user_id"] == "u1"


def _access_lines(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines()]
    return [line for line in lines if line["event"] == "http.request"]


class TestAccessLog:
    async def test_one_json_line_per_request_with_route_template(
        self, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        response = await client.get("/healthz", headers={"X-Request-ID": "req-1"})
        access = _access_lines(capsys.readouterr().out)
        assert len(access) == 1
        line = access[0]
        assert line["route"] == "/healthz" and line["status"] == response.status_code
        assert line["method"] == "GET" and line["latency_ms"] >= 0
        assert line["request_id"] == "req-1" and line["level"] == "info"
        assert line["timestamp"].endswith("Z")

    async def test_a_credential_sent_as_request_id_is_redacted(
        self, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        await client.get("/healthz", headers={"X-Request-ID": "sk_live_abcdefghijklmnop"})
        output = capsys.readouterr().out
        assert "http.request" in output
        assert "sk_live_abcdefghijklmnop" not in output

    async def test_an_unknown_method_is_logged_as_other(
        self, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        response = await client.request("BREW", "/healthz")
        access = _access_lines(capsys.readouterr().out)
        assert response.status_code == 405
        assert [line["method"] for line in access] == ["OTHER"]
