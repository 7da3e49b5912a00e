"""`sitechat admin ...` as an operator runs it: a real process against the run's database,
checked through the API the users then see."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from sitechat.config import Settings
from sitechat.core.embedded_db import ensure_database
from sitechat.core.login_throttle import LoginThrottle
from sitechat.core.ratelimit import create_storage
from tests.core.ratelimit_conftest_helpers import SHARED_REDIS_URL, delete_keys_with_prefix
from tests.fixtures.accounts import register

REPOSITORY = Path(__file__).resolve().parents[2]


def admin(
    settings: Settings, tmp_path: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "SITECHAT_ENV": "test",
        "SITECHAT_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": str(settings.db.url),
        # The API under test verifies keys and tokens with the run's own secrets.
        "SITECHAT_AUTH_API_KEY_PEPPER": settings.auth.api_key_pepper.get_secret_value(),
        "SITECHAT_AUTH_JWT_SECRET": settings.auth.jwt_secret.get_secret_value(),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "sitechat.cli", "admin", *args],
        cwd=tmp_path,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def failed_with(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sitechat admin: "), lines
    return lines[0]


def field(output: str, name: str) -> str:
    return next(line.split()[1] for line in output.splitlines() if line.startswith(f"{name} "))


class TestCreateUser:
    async def test_the_user_signs_in_with_the_generated_password(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient
    ) -> None:
        output = succeeded(admin(settings, tmp_path, "create-user", "ada@example.com"))
        password = field(output, "password")
        login = await client.post(
            "/v1/auth/login", json={"email": "ada@example.com", "password": password}
        )
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        workspaces = await client.get(
            "/v1/workspaces", headers={"Authorization": f"Bearer {token}"}
        )
        assert [item["id"] for item in workspaces.json()["items"]] == [field(output, "workspace")]

    async def test_a_password_from_stdin_and_the_sign_up_rules(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient
    ) -> None:
        weak = admin(
            settings,
            tmp_path,
            "create-user",
            "bob@example.com",
            "--password-stdin",
            stdin="short\n",
        )
        assert "password" in failed_with(weak).lower()
        passphrase = "a long and uncommon passphrase"
        succeeded(
            admin(
                settings,
                tmp_path,
                "create-user",
                "bob@example.com",
                "--name",
                "Bob",
                "--password-stdin",
                stdin=passphrase + "\n",
            )
        )
        login = await client.post(
            "/v1/auth/login", json={"email": "bob@example.com", "password": passphrase}
        )
        assert login.status_code == 200
        again = admin(settings, tmp_path, "create-user", "BOB@example.com")
        assert failed_with(again) == "sitechat admin: a user with this email address exists already"


class TestWorkspacesAndPlans:
    async def test_list_then_grant_a_plan_without_billing(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        listed = [
            json.loads(line)
            for line in succeeded(
                admin(settings, tmp_path, "list-workspaces", "--json")
            ).splitlines()
        ]
        mine = next(row for row in listed if row["id"] == str(account.workspace_id))
        assert (mine["plan"], mine["owners"], mine["members"]) == ("free", [account.email], 1)

        granted = admin(settings, tmp_path, "set-plan", str(account.workspace_id), "pro")
        assert "plan pro" in succeeded(granted)
        usage = (await client.get("/v1/billing/usage", headers=account.headers)).json()
        assert usage["limits"]["chatbots"] == 10
        subscription = await client.get("/v1/billing/subscription", headers=account.headers)
        assert subscription.json()["plan_id"] == "pro"
        invoices = await client.get("/v1/billing/invoices", headers=account.headers)
        assert invoices.json()["items"] == []  # a grant is never invoiced

        back = admin(settings, tmp_path, "set-plan", str(account.workspace_id), "free")
        succeeded(back)
        usage = (await client.get("/v1/billing/usage", headers=account.headers)).json()
        assert usage["limits"]["chatbots"] == 1

    async def test_set_plan_refuses_unknown_plans_and_workspaces(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        unknown_plan = admin(settings, tmp_path, "set-plan", str(account.workspace_id), "gold")
        assert "free, starter, pro, business" in failed_with(unknown_plan)
        unknown_workspace = admin(settings, tmp_path, "set-plan", str(uuid.uuid4()), "pro")
        assert "Workspace not found" in failed_with(unknown_workspace)

    async def test_set_plan_with_billing_charges_like_the_owner_would(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        workspace = str(account.workspace_id)
        no_card = admin(settings, tmp_path, "set-plan", workspace, "starter", "--billing")
        assert "payment method" in failed_with(no_card)
        card = await client.post(
            "/v1/billing/payment-methods",
            json={"payment_method": "pm_card_visa"},
            headers=account.headers,
        )
        assert card.status_code == 201, card.text
        succeeded(admin(settings, tmp_path, "set-plan", workspace, "starter", "--billing"))
        invoices = (await client.get("/v1/billing/invoices", headers=account.headers)).json()
        assert [(item["status"], item["total"]) for item in invoices["items"]] == [("paid", 1900)]

    async def test_with_billing_off_only_grants_exist(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        refused = admin(
            settings,
            tmp_path,
            "set-plan",
            str(account.workspace_id),
            "pro",
            "--billing",
            SITECHAT_BILLING_GATEWAY="none",
        )
        assert "SITECHAT_BILLING_GATEWAY=none" in failed_with(refused)


class TestApiKeys:
    async def test_a_member_key_says_what_it_cannot_do_and_works(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        output = succeeded(admin(settings, tmp_path, "create-api-key", str(account.workspace_id)))
        assert "role member" in output
        assert "cannot: create, change and delete chatbots and sources (needs admin)" in output
        headers = {"Authorization": f"Bearer {field(output, 'key')}"}
        assert (await client.get("/v1/chatbots", headers=headers)).status_code == 200
        created = await client.post("/v1/chatbots", json={"name": "Docs"}, headers=headers)
        assert created.status_code == 403

    async def test_an_admin_key_creates_chatbots(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        output = succeeded(
            admin(
                settings, tmp_path, "create-api-key", str(account.workspace_id), "--role", "admin"
            )
        )
        assert "cannot: create" not in output
        headers = {"Authorization": f"Bearer {field(output, 'key')}"}
        created = await client.post("/v1/chatbots", json={"name": "Docs"}, headers=headers)
        assert created.status_code == 201, created.text


class TestProductionChecks:
    @pytest.mark.parametrize("command", ["create-api-key", "list-workspaces"])
    async def test_admin_refuses_what_serve_refuses(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient, command: str
    ) -> None:
        """Without the production pepper, create-api-key printed a key that never worked."""
        account = await register(client)
        args = [str(account.workspace_id)] if command == "create-api-key" else []
        result = admin(
            settings,
            tmp_path,
            command,
            *args,
            SITECHAT_ENV="production",
            SITECHAT_AUTH_API_KEY_PEPPER="",
            SITECHAT_BILLING_ALLOW_SANDBOX_IN_PRODUCTION="true",
            SITECHAT_HTTP_ALLOW_LOOPBACK_BASE_URL_IN_PRODUCTION="true",
            SITECHAT_MAIL_ALLOW_NO_SMTP_IN_PRODUCTION="true",
        )

        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr.splitlines() == [
            "sitechat: SITECHAT_AUTH_API_KEY_PEPPER is not set: "
            "production needs a random secret of at least 32 characters"
        ]
        assert not (tmp_path / "data").exists()  # no secrets.json, no database


class TestUnlock:
    async def test_unlock_lifts_a_lockout_kept_in_redis(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        prefix = f"test-unlock-{secrets.token_hex(4)}"
        throttle = LoginThrottle(create_storage(SHARED_REDIS_URL, key_prefix=prefix))
        try:
            for _ in range(throttle.policy.max_account_failures):
                await throttle.record_failure(account.email, "203.0.113.9")
            assert not (await throttle.check(account.email, "203.0.113.10")).allowed
            result = admin(
                settings,
                tmp_path,
                "unlock",
                account.email,
                REDIS_URL=SHARED_REDIS_URL,
                SITECHAT_RATELIMIT_KEY_PREFIX=prefix,
            )
            assert "can sign in again" in succeeded(result)
            assert (await throttle.check(account.email, "203.0.113.10")).allowed
        finally:
            await delete_keys_with_prefix(SHARED_REDIS_URL, prefix)

    async def test_an_account_that_was_not_locked_is_said_to_be_so(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient
    ) -> None:
        """It printed "<email> can sign in again" for an account nothing had locked."""
        account = await register(client)
        prefix = f"test-unlock-{secrets.token_hex(4)}"
        throttle = LoginThrottle(create_storage(SHARED_REDIS_URL, key_prefix=prefix))
        try:
            await throttle.record_failure(account.email, "203.0.113.9")  # one, not a lockout
            result = admin(
                settings,
                tmp_path,
                "unlock",
                account.email,
                REDIS_URL=SHARED_REDIS_URL,
                SITECHAT_RATELIMIT_KEY_PREFIX=prefix,
            )
            output = succeeded(result)
            assert output.strip() == f"{account.email} was not locked out: nothing to lift"
            assert "can sign in again" not in output
        finally:
            await delete_keys_with_prefix(SHARED_REDIS_URL, prefix)

    async def test_without_redis_it_says_where_lockouts_are(
        self, settings: Settings, tmp_path: Path, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        line = failed_with(admin(settings, tmp_path, "unlock", account.email))
        assert "REDIS_URL is not set" in line and "restarting `sitechat serve`" in line


class TestWhereTheDatabaseIs:
    def test_a_folder_without_a_database_says_where_to_run_it(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        """Run from another folder, a command found no `.sitechat` there: it created a new
        empty embedded database and printed a traceback."""
        line = failed_with(admin(settings, tmp_path, "list-workspaces", DATABASE_URL=""))

        assert "there is no SiteChat database in" in line and "SITECHAT_DATA_DIR" in line
        assert not (tmp_path / "data" / "postgres").exists()

    async def test_a_database_without_tables_says_to_migrate(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        name = f"sitechat_empty_{uuid.uuid4().hex[:12]}"
        server = make_url(str(settings.db.url)).set(database="postgres")
        await ensure_database(server.render_as_string(hide_password=False), name)
        empty = server.set(database=name).render_as_string(hide_password=False)
        try:
            line = failed_with(admin(settings, tmp_path, "list-workspaces", DATABASE_URL=empty))
        finally:
            connection = await asyncpg.connect(
                user=server.username or "postgres",
                host=server.query.get("host") or server.host,
                port=server.port,
                database="postgres",
            )
            await connection.execute(f'DROP DATABASE "{name}"')
            await connection.close()

        assert "run `sitechat migrate`" in line
