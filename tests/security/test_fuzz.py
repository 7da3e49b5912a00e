"""Schemathesis against a real uvicorn server: generated requests for every operation of the
live OpenAPI schema, with a valid user's credentials. No 5xx; every response has a documented
content type and matches its documented schema.

Bounded for CI: a few examples per operation, no shrinking, no example database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.security.conftest import LiveServer, server_environment, uvicorn_server

EXAMPLES_PER_OPERATION = 5
# Operations that cannot be fuzzed with one credential, each with the reason:
EXCLUDED = {
    # Deletes the fuzzing user and its workspace; every later request would be a 401.
    "DELETE /v1/users/me",
    # Changes the password and revokes the sessions the rest of the run relies on.
    "POST /v1/users/me/password",
}
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


def _fuzz_operation(operation: Any, base_url: str, headers: dict[str, str]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def fuzz(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)

    fuzz()


def _register(server: LiveServer) -> tuple[dict[str, str], dict[str, Any]]:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        registered = http.post(
            "/v1/auth/register",
            json={
                "email": "fuzzer@example.com",
                "password": "a long fuzzing passphrase",
                "full_name": "Fuzzer",
            },
        )
        assert registered.status_code == 201, registered.text
        schema = http.get("/openapi.json").json()
    token = registered.json()["tokens"]["access_token"]
    return {"Authorization": f"Bearer {token}"}, schema


def test_generated_requests_get_documented_answers_and_no_5xx(
    database_url: str, tmp_path: Path
) -> None:
    with uvicorn_server(server_environment(database_url), tmp_path / "api.log") as server:
        headers, openapi = _register(server)
        schema = schemathesis.openapi.from_dict(openapi)
        failures: dict[str, str] = {}
        fuzzed = 0
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            label = f"{operation.method.upper()} {operation.path}"
            if label in EXCLUDED:
                continue
            fuzzed += 1
            try:
                _fuzz_operation(operation, server.base_url, headers)
            except (Exception, BaseExceptionGroup) as failure:
                failures[label] = str(failure)[:1500]
        server_errors = "Traceback" in server.log_text()
    assert fuzzed >= 50
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert not server_errors
