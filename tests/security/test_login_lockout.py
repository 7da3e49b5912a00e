"""Password guessing over HTTP: lockout, what a locked account answers, unlocking, auditing.

Choice (docs/decisions/0004): a locked account answers 429 `rate-limited` with `Retry-After`,
not a 401. That tells the client when to retry, and it reveals nothing a wrong password does
not: failures are counted per submitted email whether or not an account exists, so an unknown
email locks exactly like a real one, and during the lock even the right password gets the
same 429.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from structlog.testing import capture_logs

from sitechat.config import Settings
from sitechat.core.login_throttle import LoginThrottle, LoginThrottlePolicy
from sitechat.models.audit import AuditEvent
from tests.conftest import run_queued_jobs
from tests.core.ratelimit_conftest_helpers import FakeClock
from tests.fixtures.accounts import Account, assert_problem, register
from tests.security.conftest import asgi_client, rate_limited_settings, running_app

LOGIN = "/v1/auth/login"
WRONG_PASSWORD = "definitely not the password"
POLICY = LoginThrottlePolicy(max_account_failures=3, first_lockout_seconds=60)


@dataclass
class Harness:
    app: FastAPI
    http: httpx.AsyncClient
    clock: FakeClock


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    # The request limit is out of the way; this is about the per-account throttle.
    async with running_app(rate_limited_settings(settings, auth="1000/minute")) as app:
        clock = FakeClock()
        app.state.login_guard = LoginThrottle(app.state.rate_limiter.storage, POLICY, clock=clock)
        async with asgi_client(app) as http:
            yield Harness(app, http, clock)


async def _login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post(LOGIN, json={"email": email, "password": password})


async def _lock(http: httpx.AsyncClient, email: str) -> list[int]:
    return [(await _login(http, email, WRONG_PASSWORD)).status_code for _ in range(3)]


def _comparable(response: httpx.Response) -> tuple[int, dict[str, Any], str | None]:
    body = dict(response.json())
    body.pop("request_id")
    return response.status_code, body, response.headers.get("retry-after")


async def _audit_actions(app: FastAPI, account: Account) -> list[str]:
    async with app.state.sessionmaker() as session:
        actions = await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.actor_user_id == account.user_id)
            .order_by(AuditEvent.id)
        )
        return list(actions)


class TestLockout:
    async def test_locked_account_answers_like_a_locked_unknown_email(
        self, harness: Harness
    ) -> None:
        account = await register(harness.http)
        assert await _lock(harness.http, account.email) == [401, 401, 401]
        assert await _lock(harness.http, "ghost@example.com") == [401, 401, 401]

        right_password = await _login(harness.http, account.email, account.password)
        wrong_password = await _login(harness.http, account.email, WRONG_PASSWORD)
        unknown_email = await _login(harness.http, "ghost@example.com", WRONG_PASSWORD)

        assert_problem(right_password, 429, "rate-limited")
        assert _comparable(right_password) == _comparable(wrong_password)
        assert _comparable(right_password) == _comparable(unknown_email)
        assert right_password.headers["retry-after"] == "60"
        assert "locked" not in right_password.text.lower()

    async def test_lock_ends_with_time(self, harness: Harness) -> None:
        account = await register(harness.http)
        await _lock(harness.http, account.email)
        harness.clock.advance(59)
        assert (await _login(harness.http, account.email, account.password)).status_code == 429
        harness.clock.advance(2)
        assert (await _login(harness.http, account.email, account.password)).status_code == 200

    async def test_completed_password_reset_lifts_the_lock(self, harness: Harness) -> None:
        account = await register(harness.http)
        await _lock(harness.http, account.email)
        with capture_logs() as logs:
            await harness.http.post("/v1/auth/password-reset", json={"email": account.email})
            await run_queued_jobs(harness.app)
        mail = next(event for event in logs if event["event"] == "mail.sent")
        token = str(mail["body"]).split("Reset token: ")[1].split()[0]
        new_password = "a fresh and long passphrase"
        confirmed = await harness.http.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
        )
        assert confirmed.status_code == 204, confirmed.text
        assert (await _login(harness.http, account.email, new_password)).status_code == 200

    async def test_failures_lockout_and_refusals_are_audited(self, harness: Harness) -> None:
        account = await register(harness.http)
        await _lock(harness.http, account.email)
        await _login(harness.http, account.email, account.password)  # refused while locked
        harness.clock.advance(61)
        await _login(harness.http, account.email, account.password)
        assert await _audit_actions(harness.app, account) == [
            "user.registered",
            *["auth.login_failed"] * 3,
            "auth.login_throttled",
            "auth.login_succeeded",
        ]
