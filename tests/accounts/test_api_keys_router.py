"""Workspace API keys: created once, usable as Bearer, revocable, expiring."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from sitechat.core.clock import FrozenClock
from tests.fixtures.accounts import assert_problem, bearer, create_api_key, register

KEYS = "/v1/api-keys"


class TestCreateAndUse:
    async def test_key_reads_its_workspace_and_records_last_use(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        created = await client.post(
            KEYS, json={"name": "backend", "role": "member"}, headers=account.headers
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["key"].startswith(f"sk_{body['prefix']}_")
        assert body["role"] == "member" and body["last_used_at"] is None

        workspace = await client.get(
            f"/v1/workspaces/{account.workspace_id}", headers=bearer(body["key"])
        )
        assert workspace.status_code == 200, workspace.text
        assert workspace.json()["role"] == "member"

        listed = await client.get(KEYS, headers=account.headers)
        [item] = listed.json()["items"]
        assert item["id"] == body["id"] and item["last_used_at"] is not None
        assert "key" not in item and "key_hash" not in item

        other = await register(client)
        foreign = await client.get(
            f"/v1/workspaces/{other.workspace_id}", headers=bearer(body["key"])
        )
        assert_problem(foreign, 404)
        # An API key lists only its own workspace.
        mine = await client.get("/v1/workspaces", headers=bearer(body["key"]))
        assert [w["id"] for w in mine.json()["items"]] == [str(account.workspace_id)]

    async def test_a_default_key_says_at_creation_what_it_cannot_do(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        created = (await client.post(KEYS, json={"name": "ci"}, headers=account.headers)).json()
        assert created["role"] == "member"
        cannot = "create, change and delete chatbots and sources (needs admin)"
        assert cannot in created["cannot"]
        assert any(action.startswith("chat") for action in created["can"])
        refused = await client.post(
            "/v1/chatbots", json={"name": "Docs"}, headers=bearer(created["key"])
        )
        assert refused.status_code == 403  # exactly what creation said

        admin_key = await client.post(
            KEYS, json={"name": "deploy", "role": "admin"}, headers=account.headers
        )
        assert cannot not in admin_key.json()["cannot"]
        made = await client.post(
            "/v1/chatbots", json={"name": "Docs"}, headers=bearer(admin_key.json()["key"])
        )
        assert made.status_code == 201

    async def test_roles_and_bad_input(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        member_key = await create_api_key(client, account, role="member")
        admin_key = await create_api_key(client, account, role="admin")
        assert_problem(await client.post(KEYS, json={"name": "x"}, headers=bearer(member_key)), 403)
        assert_problem(await client.get(KEYS, headers=bearer(member_key)), 403)
        too_high = await client.post(
            KEYS, json={"name": "x", "role": "owner"}, headers=bearer(admin_key)
        )
        assert_problem(too_high, 403, "role-too-high")
        assert_problem(await client.post(KEYS, json={"name": "x"}), 401)
        assert_problem(await client.get(KEYS), 401)
        for payload in (
            {"name": ""},
            {"name": "x" * 101},
            {"name": "tab\there"},
            {"name": "x", "role": "superuser"},
            {"name": "x", "expires_at": "2030-01-01T00:00:00"},
            {"name": "x", "secret": "mine"},
        ):
            response = await client.post(KEYS, json=payload, headers=account.headers)
            assert_problem(response, 422, "validation-error")
        past = await client.post(
            KEYS,
            json={"name": "x", "expires_at": "2020-01-01T00:00:00Z"},
            headers=account.headers,
        )
        assert_problem(past, 422, "invalid-expiry")


class TestRevokeAndExpire:
    async def test_revoked_key_is_refused(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        created = await client.post(KEYS, json={"name": "ci"}, headers=account.headers)
        key, key_id = created.json()["key"], created.json()["id"]
        assert (await client.get("/v1/workspaces", headers=bearer(key))).status_code == 200
        for _ in range(2):
            revoked = await client.delete(f"{KEYS}/{key_id}", headers=account.headers)
            assert revoked.status_code == 204
        assert_problem(await client.get("/v1/workspaces", headers=bearer(key)), 401)
        [item] = (await client.get(KEYS, headers=account.headers)).json()["items"]
        assert item["revoked_at"] is not None

        events = await client.get(
            f"/v1/workspaces/{account.workspace_id}/audit-events", headers=account.headers
        )
        actions = [e["action"] for e in events.json()["items"]]
        assert actions.count("api_key.created") == 1 and actions.count("api_key.revoked") == 1

    async def test_foreign_missing_and_unauthorized_revocation(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        other = await register(client)
        created = await client.post(KEYS, json={"name": "ci"}, headers=other.headers)
        foreign_id = created.json()["id"]
        assert_problem(await client.delete(f"{KEYS}/{foreign_id}", headers=account.headers), 404)
        assert_problem(await client.delete(f"{KEYS}/{uuid.uuid4()}", headers=account.headers), 404)
        assert_problem(await client.delete(f"{KEYS}/{foreign_id}"), 401)
        member_key = await create_api_key(client, other, role="member")
        assert_problem(await client.delete(f"{KEYS}/{foreign_id}", headers=bearer(member_key)), 403)
        assert_problem(await client.delete(f"{KEYS}/not-a-uuid", headers=account.headers), 422)

    async def test_expired_key_is_refused(
        self, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        account = await register(client)
        expires_at = frozen_clock.now() + timedelta(hours=1)
        created = await client.post(
            KEYS,
            json={"name": "temp", "expires_at": expires_at.isoformat()},
            headers=account.headers,
        )
        key = created.json()["key"]
        assert (await client.get("/v1/workspaces", headers=bearer(key))).status_code == 200
        frozen_clock.advance(timedelta(hours=1, seconds=1))
        assert_problem(await client.get("/v1/workspaces", headers=bearer(key)), 401)
