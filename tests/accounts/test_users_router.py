"""The caller's own profile: read, update, delete, change password."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from sitechat.billing.plans import PlanCatalog
from sitechat.models.accounts import Workspace
from tests.fixtures.accounts import (
    DEFAULT_PASSWORD,
    assert_problem,
    bearer,
    create_api_key,
    log_in,
    register,
)
from tests.fixtures.plans import seats_on_free_fixture  # noqa: F401 (the seats_on_free fixture)

ME = "/v1/users/me"


class TestProfile:
    async def test_read_and_update(self, client: httpx.AsyncClient) -> None:
        account = await register(client, full_name="Ada")
        other = await register(client)
        me = await client.get(ME, headers=account.headers)
        assert me.json()["email"] == account.email
        assert me.json()["personal_workspace_id"] == str(account.workspace_id)

        changed = await client.patch(
            ME,
            json={"full_name": " Ada King ", "email": "ADA.KING@Example.com"},
            headers=account.headers,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["full_name"] == "Ada King"
        assert changed.json()["email"] == "ada.king@example.com"
        await log_in(client, "ada.king@example.com")

        taken = await client.patch(ME, json={"email": other.email.upper()}, headers=account.headers)
        assert_problem(taken, 409, "email-taken")

    async def test_bad_input_and_credentials(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        for payload in ({"email": "nope"}, {"full_name": "a\u202eb"}, {"role": "owner"}):
            response = await client.patch(ME, json=payload, headers=account.headers)
            assert_problem(response, 422, "validation-error")
        for method in ("GET", "PATCH", "DELETE"):
            assert_problem(await client.request(method, ME, json={}), 401)
        key = await create_api_key(client, account)
        for method in ("GET", "PATCH", "DELETE"):
            response = await client.request(method, ME, json={}, headers=bearer(key))
            assert_problem(response, 403)
        response = await client.post(
            f"{ME}/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": "another fine phrase"},
            headers=bearer(key),
        )
        assert_problem(response, 403)


class TestChangePassword:
    async def test_revokes_other_sessions_and_returns_a_fresh_pair(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        other_device = await log_in(client, account.email)
        new_password = "another fine passphrase"
        response = await client.post(
            f"{ME}/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": new_password},
            headers=account.headers,
        )
        assert response.status_code == 200, response.text
        for stale in (account.refresh_token, str(other_device["refresh_token"])):
            refused = await client.post("/v1/auth/refresh", json={"refresh_token": stale})
            assert_problem(refused, 401, "invalid-refresh-token")
        kept = await client.post(
            "/v1/auth/refresh", json={"refresh_token": response.json()["refresh_token"]}
        )
        assert kept.status_code == 200
        await log_in(client, account.email, new_password)
        events = await client.get(
            f"/v1/workspaces/{account.workspace_id}/audit-events",
            headers={"Authorization": f"Bearer {kept.json()['access_token']}"},
        )
        assert "user.password_changed" in [e["action"] for e in events.json()["items"]]

    async def test_wrong_current_password_and_weak_new_one(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        wrong = await client.post(
            f"{ME}/password",
            json={"current_password": "not my password", "new_password": "another fine phrase"},
            headers=account.headers,
        )
        assert_problem(wrong, 403, "wrong-password")
        common = await client.post(
            f"{ME}/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": "password1234"},
            headers=account.headers,
        )
        assert_problem(common, 422, "validation-error")
        unauthenticated = await client.post(
            f"{ME}/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": "another fine phrase"},
        )
        assert_problem(unauthenticated, 401)


class TestDeleteAccount:
    async def test_deletes_user_and_personal_workspace(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        key = await create_api_key(client, account)
        assert (await client.delete(ME, headers=account.headers)).status_code == 204
        assert_problem(await client.get(ME, headers=account.headers), 401)
        assert_problem(
            await client.get(f"/v1/workspaces/{account.workspace_id}", headers=bearer(key)), 401
        )
        refused = await client.post(
            "/v1/auth/login", json={"email": account.email, "password": DEFAULT_PASSWORD}
        )
        assert_problem(refused, 401, "invalid-credentials")
        again = await register(client, email=account.email)
        assert again.user_id != account.user_id

    async def test_sole_owner_of_a_shared_workspace_is_refused(
        self, client: httpx.AsyncClient, app: object, seats_on_free: PlanCatalog
    ) -> None:
        owner = await register(client)
        member = await register(client)
        async with app.state.sessionmaker() as session:  # type: ignore[attr-defined]
            # No route creates team workspaces yet: turn this one into a shared one.
            await session.execute(
                update(Workspace)
                .where(Workspace.id == owner.workspace_id)
                .values(is_personal=False)
            )
            await session.commit()
        invited = await client.post(
            f"/v1/workspaces/{owner.workspace_id}/invitations",
            json={"email": member.email},
            headers=owner.headers,
        )
        await client.post(
            "/v1/invitations/accept",
            json={"token": invited.json()["token"]},
            headers=member.headers,
        )
        assert_problem(await client.delete(ME, headers=owner.headers), 409, "sole-owner")

        await client.delete(
            f"/v1/workspaces/{owner.workspace_id}/members/{member.user_id}",
            headers=owner.headers,
        )
        assert (await client.delete(ME, headers=owner.headers)).status_code == 204
        # The shared workspace the owner was alone in went with the account.
        gone = await client.get(
            f"/v1/workspaces/{owner.workspace_id}",
            headers=member.in_workspace(owner.workspace_id),
        )
        assert_problem(gone, 404)
