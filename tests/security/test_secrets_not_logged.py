"""Passwords, tokens and API keys never reach a log line, in a real server's JSON stdout.

The one allowed exception, outside production, is the password-reset link in the log mailer's
`mail.sent` event: delivering it through the log is that mailer's purpose. Production without
SMTP logs only that a mail was not sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
from structlog.testing import capture_logs

from sitechat.config import Environment, MailSettings
from sitechat.core.mail import MailMessage, build_mailer
from sitechat.core.security import split_api_key
from tests.fixtures.accounts import register
from tests.security.conftest import server_environment, uvicorn_server

NEW_PASSWORD = "another long passphrase 42"
CHANGED_PASSWORD = "yet another long passphrase 43"
MAIL_WAIT_SECONDS = 15.0


def _log_events(text: str) -> list[dict[str, Any]]:
    events = []
    for line in text.splitlines():
        if line.startswith("{"):
            events.append(dict(json.loads(line)))
    return events


def _key_secret(api_key: str) -> str:
    """The key's secret part, whole: it is URL-safe base64, so it may hold a "_" itself (the
    part after the last one was once a single letter, "found" in an unrelated log line)."""
    parts = split_api_key(api_key)
    assert parts is not None
    return parts[1]


async def _exercise_every_credential(http: httpx.AsyncClient, log_text: Any) -> list[str]:
    """Register, log in, refresh, use an API key, reset and change the password."""
    account = await register(http)
    login = await http.post(
        "/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    pair = login.json()
    refreshed = (
        await http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).json()
    created = await http.post("/v1/api-keys", json={"name": "ci"}, headers=account.headers)
    api_key = created.json()["key"]
    used = await http.get("/v1/chatbots", headers={"Authorization": f"Bearer {api_key}"})
    assert used.status_code == 200
    forged = await http.get("/v1/chatbots", headers={"Authorization": f"Bearer {api_key}x"})
    assert forged.status_code == 401

    await http.post("/v1/auth/password-reset", json={"email": account.email})
    reset_token = ""
    # The server's in-process worker sends the mail from a job, just after the request.
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    while not reset_token and time.monotonic() < deadline:
        for event in _log_events(log_text()):
            if event.get("event") == "mail.sent":
                reset_token = str(event["body"]).split("Reset token: ")[1].split()[0]
        await asyncio.sleep(0.1)
    assert reset_token, "the log mailer should have written the reset mail"
    confirmed = await http.post(
        "/v1/auth/password-reset/confirm",
        json={"token": reset_token, "new_password": NEW_PASSWORD},
    )
    assert confirmed.status_code == 204, confirmed.text
    fresh = (
        await http.post("/v1/auth/login", json={"email": account.email, "password": NEW_PASSWORD})
    ).json()
    changed = await http.post(
        "/v1/users/me/password",
        json={"current_password": NEW_PASSWORD, "new_password": CHANGED_PASSWORD},
        headers={"Authorization": f"Bearer {fresh['access_token']}"},
    )
    assert changed.status_code == 200, changed.text
    await http.post("/v1/auth/logout", json={"refresh_token": changed.json()["refresh_token"]})
    return [
        account.password,
        NEW_PASSWORD,
        CHANGED_PASSWORD,
        account.access_token,
        account.refresh_token,
        pair["access_token"],
        pair["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        fresh["access_token"],
        fresh["refresh_token"],
        changed.json()["access_token"],
        changed.json()["refresh_token"],
        api_key,
        _key_secret(api_key),  # the secret part of the key on its own
        reset_token,
    ]


class TestServerLogs:
    async def test_no_secret_in_any_json_log_line(self, database_url: str, tmp_path: Path) -> None:
        env = server_environment(
            database_url, SITECHAT_LOG_LEVEL="DEBUG", SITECHAT_WORKER_IN_PROCESS="true"
        )
        with uvicorn_server(env, tmp_path / "api.log") as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                secrets = await _exercise_every_credential(http, server.log_text)
            log_text = server.log_text()

        events = _log_events(log_text)
        assert len([e for e in events if e.get("event") == "http.request"]) >= 10
        reset_token = secrets[-1]
        for event in events:
            line = json.dumps(event)
            allowed = {reset_token} if event.get("event") == "mail.sent" else set()
            leaked = [secret for secret in secrets if secret in line and secret not in allowed]
            assert not leaked, f"secret in log event {event.get('event')!r}"
        mails = [e for e in events if reset_token in json.dumps(e)]
        assert [e["event"] for e in mails] == ["mail.sent"]
        # Lines that are not JSON (a library writing around structlog) leak nothing either.
        raw_lines = [line for line in log_text.splitlines() if not line.startswith("{")]
        assert not [s for s in secrets for line in raw_lines if s in line]


class TestMailWithoutSmtp:
    RESET_MAIL = MailMessage(
        to="ada@example.com",
        subject="Reset your SiteChat password",
        body="https://chat.example.com/reset-password?token=tok123\nReset token: tok123\n",
    )

    async def test_production_logs_that_the_mail_was_not_sent_without_its_body(self) -> None:
        """It logged the whole mail, reset token included, as `mail.sent` at info level."""
        mailer = build_mailer(MailSettings(smtp_host=None), Environment.production)
        with capture_logs() as logs:
            await mailer.send(self.RESET_MAIL)

        assert [e["event"] for e in logs] == ["mail.not_sent"]
        (event,) = logs
        assert event["log_level"] == "warning"
        assert (event["to"], event["subject"]) == (self.RESET_MAIL.to, self.RESET_MAIL.subject)
        assert "SITECHAT_MAIL_SMTP_HOST" in event["reason"]
        assert "tok123" not in json.dumps(event)

    async def test_development_writes_the_mail_to_the_log(self) -> None:
        mailer = build_mailer(MailSettings(smtp_host=None), Environment.development)
        with capture_logs() as logs:
            await mailer.send(self.RESET_MAIL)

        assert [(e["event"], e["body"]) for e in logs] == [("mail.sent", self.RESET_MAIL.body)]
