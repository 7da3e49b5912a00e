"""Sign-up, sign-in, refresh rotation, logout and password reset, through the HTTP API."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import func, select
from structlog.testing import capture_logs

from sitechat.core.clock import FrozenClock
from sitechat.models.accounts import PasswordResetToken
from sitechat.models.audit import AuditEvent
from sitechat.worker.queue import queue
from tests.conftest import run_queued_jobs
from tests.fixtures.accounts import (
    DEFAULT_PASSWORD,
    assert_problem,
    bearer,
    log_in,
    register,
)


async def audit_rows(app: object, action: str) -> list[AuditEvent]:
    async with app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.created_at)
        )
        return list(rows.all())


class TestRegister:
    async def test_creates_user_personal_workspace_and_tokens(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/v1/auth/register",
            json={"email": " Ada@Example.COM ", "password": DEFAULT_PASSWORD, "full_name": "Ada"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["user"]["email"] == "ada@example.com"
        assert body["user"]["full_name"] == "Ada"
        assert body["workspace"]["name"] == "Ada's workspace"
        assert body["workspace"]["is_personal"] is True
        assert body["tokens"]["token_type"] == "bearer"
        assert body["tokens"]["expires_in"] == 900
        workspaces = await client.get(
            "/v1/workspaces", headers=bearer(body["tokens"]["access_token"])
        )
        assert [(w["id"], w["role"]) for w in workspaces.json()["items"]] == [
            (body["workspace"]["id"], "owner")
        ]

    async def test_duplicate_email_differing_in_case_is_409(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client, email="grace@example.com")
        response = await client.post(
            "/v1/auth/register",
            json={"email": "GRACE@example.com", "password": DEFAULT_PASSWORD, "full_name": "G"},
        )
        body = assert_problem(response, 409, "email-taken")
        assert account.email not in body["detail"]

    async def test_refuses_bad_input(self, client: httpx.AsyncClient) -> None:
        cases = [
            {"email": "not-an-email", "password": DEFAULT_PASSWORD, "full_name": "X"},
            {"email": "a@example.com", "password": "short", "full_name": "X"},
            {"email": "a@example.com", "password": "x" * 129, "full_name": "X"},
            {"email": "a@example.com", "password": "password1234", "full_name": "X"},
            {"email": "longname1234@example.com", "password": "longname1234", "full_name": "X"},
            {"email": "a@example.com", "password": DEFAULT_PASSWORD, "full_name": "bad\x00name"},
            {"email": "a@example.com", "password": DEFAULT_PASSWORD, "full_name": "   "},
            {"email": "a@example.com", "password": DEFAULT_PASSWORD, "full_name": "X", "x": 1},
            {"email": "a@example.com", "password": DEFAULT_PASSWORD},
        ]
        for payload in cases:
            response = await client.post("/v1/auth/register", json=payload)
            body = assert_problem(response, 422, "validation-error")
            assert body["errors"], payload


class TestLogin:
    async def test_json_and_form_login_return_working_tokens(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        tokens = await log_in(client, account.email.upper())
        me = await client.get("/v1/users/me", headers=bearer(str(tokens["access_token"])))
        assert me.json()["id"] == str(account.user_id)

        form = await client.post(
            "/v1/auth/token", data={"username": account.email, "password": DEFAULT_PASSWORD}
        )
        assert form.status_code == 200, form.text
        assert form.json()["token_type"] == "bearer"

    async def test_wrong_password_and_unknown_email_answer_alike(
        self, client: httpx.AsyncClient, app: object
    ) -> None:
        account = await register(client)
        wrong = await client.post(
            "/v1/auth/login", json={"email": account.email, "password": "wrong password!"}
        )
        unknown = await client.post(
            "/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong password!"}
        )
        form = await client.post(
            "/v1/auth/token", data={"username": account.email, "password": "wrong password!"}
        )
        bodies = [assert_problem(r, 401, "invalid-credentials") for r in (wrong, unknown, form)]
        assert bodies[0]["detail"] == bodies[1]["detail"] == bodies[2]["detail"]

        # Failed logins are recorded although the request failed; they belong to no workspace.
        failures = await audit_rows(app, "auth.login_failed")
        assert [(row.workspace_id, row.actor_user_id) for row in failures] == [
            (None, account.user_id),
            (None, None),
            (None, account.user_id),
        ]

    async def test_bad_input(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/auth/login", json={"email": "a@example.com"})
        assert_problem(response, 422, "validation-error")
        response = await client.post("/v1/auth/token", data={"username": "a@example.com"})
        assert_problem(response, 422, "validation-error")

    async def test_login_guard_hook_is_consulted(
        self, client: httpx.AsyncClient, app: object
    ) -> None:
        calls: list[tuple[str, str]] = []

        class Verdict:
            def __init__(self, allowed: bool) -> None:
                self.allowed, self.retry_after = allowed, 30

        class RecordingGuard:
            blocked = False

            async def check(self, email: str, ip: str) -> Verdict:
                calls.append(("check", email))
                return Verdict(not self.blocked)

            async def record_failure(self, email: str, ip: str) -> None:
                calls.append(("failure", email))

            async def record_success(self, email: str, ip: str) -> None:
                calls.append(("success", email))

            async def unlock(self, email: str) -> None:
                calls.append(("unlock", email))

        account = await register(client)
        guard = RecordingGuard()
        app.state.login_guard = guard  # type: ignore[attr-defined]
        try:
            await client.post("/v1/auth/login", json={"email": account.email, "password": "nope!"})
            await log_in(client, account.email)
            guard.blocked = True
            throttled = await client.post(
                "/v1/auth/login", json={"email": account.email, "password": DEFAULT_PASSWORD}
            )
        finally:
            app.state.login_guard = None  # type: ignore[attr-defined]
        assert_problem(throttled, 429, "rate-limited")
        assert throttled.headers["retry-after"] == "30"
        assert [name for name, _ in calls] == ["check", "failure", "check", "success", "check"]
        assert {email for _, email in calls} == {account.email}


class TestRefresh:
    async def test_rotation_and_reuse_revokes_the_family(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        first = await client.post("/v1/auth/refresh", json={"refresh_token": account.refresh_token})
        assert first.status_code == 200, first.text
        second_token = first.json()["refresh_token"]
        assert second_token != account.refresh_token
        other_session = await log_in(client, account.email)

        with capture_logs() as logs:
            reused = await client.post(
                "/v1/auth/refresh", json={"refresh_token": account.refresh_token}
            )
        assert_problem(reused, 401, "invalid-refresh-token")
        warning = next(e for e in logs if e["event"] == "auth.refresh_reuse_detected")
        assert warning["log_level"] == "warning"
        # The descendant of the spent token is revoked with it; other sessions are not.
        descendant = await client.post("/v1/auth/refresh", json={"refresh_token": second_token})
        assert_problem(descendant, 401, "invalid-refresh-token")
        other = await client.post(
            "/v1/auth/refresh", json={"refresh_token": other_session["refresh_token"]}
        )
        assert other.status_code == 200

        # The revoked session's access token is signed out too; the other session reads.
        assert_problem(await client.get("/v1/users/me", headers=account.headers), 401)
        events = await client.get(
            f"/v1/workspaces/{account.workspace_id}/audit-events",
            headers={"Authorization": f"Bearer {other.json()['access_token']}"},
        )
        assert "auth.refresh_reuse_detected" in [e["action"] for e in events.json()["items"]]

    async def test_expired_and_unknown_tokens_are_refused(
        self, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        account = await register(client)
        unknown = await client.post("/v1/auth/refresh", json={"refresh_token": "not-a-token"})
        assert_problem(unknown, 401, "invalid-refresh-token")
        frozen_clock.advance(timedelta(days=31))
        expired = await client.post(
            "/v1/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert_problem(expired, 401, "invalid-refresh-token")
        empty = await client.post("/v1/auth/refresh", json={"refresh_token": ""})
        assert_problem(empty, 422, "validation-error")

    async def test_logout_revokes_the_family_and_is_idempotent(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        rotated = await client.post(
            "/v1/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        latest = rotated.json()["refresh_token"]
        for _ in range(2):
            response = await client.post("/v1/auth/logout", json={"refresh_token": latest})
            assert response.status_code == 204
        refused = await client.post("/v1/auth/refresh", json={"refresh_token": latest})
        assert_problem(refused, 401, "invalid-refresh-token")
        unknown = await client.post("/v1/auth/logout", json={"refresh_token": "whatever"})
        assert unknown.status_code == 204
        bad = await client.post("/v1/auth/logout", json={})
        assert_problem(bad, 422, "validation-error")


def _mailed_token(logs: list[dict[str, object]]) -> str:
    mail = next(e for e in logs if e["event"] == "mail.sent")
    match = re.search(r"token=([A-Za-z0-9_-]+)", str(mail["body"]))
    assert match, mail
    return match.group(1)


class TestPasswordReset:
    async def test_known_and_unknown_emails_cost_the_request_the_same_work(
        self, client: httpx.AsyncClient, app: object
    ) -> None:
        account = await register(client)
        with capture_logs() as logs:
            known = await client.post("/v1/auth/password-reset", json={"email": account.email})
            unknown = await client.post(
                "/v1/auth/password-reset", json={"email": "nobody-here@example.com"}
            )
        # In the request: no account lookup result shows, no token, no mail; one job each.
        assert (known.status_code, unknown.status_code) == (202, 202)
        assert known.headers.get("content-length") == unknown.headers.get("content-length")
        assert not [e for e in logs if e["event"] == "mail.sent"]
        async with app.state.sessionmaker() as session:  # type: ignore[attr-defined]
            assert await session.scalar(select(func.count()).select_from(PasswordResetToken)) == 0
        jobs = await queue.job_manager.list_jobs_async(task="accounts.send_password_reset")
        assert sorted(str(job.task_kwargs["email"]) for job in jobs) == sorted(
            [account.email, "nobody-here@example.com"]
        )

        with capture_logs() as logs:
            await run_queued_jobs(app)
        assert [e["to"] for e in logs if e["event"] == "mail.sent"] == [account.email]

    async def test_reset_flow(self, client: httpx.AsyncClient, app: object) -> None:
        account = await register(client)
        unlocked: list[str] = []

        class Guard:
            async def unlock(self, email: str) -> None:
                unlocked.append(email)

        with capture_logs() as logs:
            response = await client.post(
                "/v1/auth/password-reset", json={"email": account.email.upper()}
            )
            await run_queued_jobs(app)  # the mail leaves from a job, after the request
        assert response.status_code == 202
        token = _mailed_token(logs)
        mail = next(e for e in logs if e["event"] == "mail.sent")
        assert mail["to"] == account.email

        new_password = "a brand new passphrase"
        app.state.login_guard = Guard()  # type: ignore[attr-defined]
        try:
            confirmed = await client.post(
                "/v1/auth/password-reset/confirm",
                json={"token": token, "new_password": new_password},
            )
        finally:
            app.state.login_guard = None  # type: ignore[attr-defined]
        assert confirmed.status_code == 204, confirmed.text
        assert unlocked == [account.email]

        again = await client.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
        )
        assert_problem(again, 400, "invalid-token")
        old_session = await client.post(
            "/v1/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert_problem(old_session, 401)
        old_password = await client.post(
            "/v1/auth/login", json={"email": account.email, "password": DEFAULT_PASSWORD}
        )
        assert_problem(old_password, 401, "invalid-credentials")
        await log_in(client, account.email, new_password)

    async def test_unknown_email_is_accepted_silently(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        with capture_logs() as logs:
            response = await client.post(
                "/v1/auth/password-reset", json={"email": "ghost@example.com"}
            )
            await run_queued_jobs(app)
        assert response.status_code == 202
        assert not [e for e in logs if e["event"] == "mail.sent"]
        bad = await client.post("/v1/auth/password-reset", json={"email": "nope"})
        assert_problem(bad, 422, "validation-error")

    async def test_expired_token_and_weak_password(
        self, app: Any, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        account = await register(client)
        with capture_logs() as logs:
            await client.post("/v1/auth/password-reset", json={"email": account.email})
            await run_queued_jobs(app)
        token = _mailed_token(logs)
        same_as_email = await client.post(
            "/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": account.email},
        )
        assert_problem(same_as_email, 422, "weak-password")
        common = await client.post(
            "/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": "qwerty123456"},
        )
        assert_problem(common, 422, "validation-error")
        frozen_clock.advance(timedelta(hours=1, seconds=1))
        expired = await client.post(
            "/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": "a brand new passphrase"},
        )
        assert_problem(expired, 400, "invalid-token")


class TestSecretsStayOutOfLogs:
    async def test_tokens_and_keys_are_never_logged(self, client: httpx.AsyncClient) -> None:
        with capture_logs() as logs:
            account = await register(client)
            tokens = await log_in(client, account.email)
            rotated = await client.post(
                "/v1/auth/refresh", json={"refresh_token": str(tokens["refresh_token"])}
            )
            created = await client.post(
                "/v1/api-keys", json={"name": "ci"}, headers=account.headers
            )
        secrets = [
            DEFAULT_PASSWORD,
            account.access_token,
            account.refresh_token,
            str(tokens["access_token"]),
            str(tokens["refresh_token"]),
            rotated.json()["access_token"],
            rotated.json()["refresh_token"],
            created.json()["key"],
        ]
        logged = repr(logs)
        assert logs
        for secret in secrets:
            assert secret not in logged
        assert structlog.is_configured()
