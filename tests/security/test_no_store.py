"""Responses that carry a credential are never stored by a browser, proxy or CDN."""

from __future__ import annotations

import httpx

from sitechat.billing.plans import PlanCatalog
from tests.fixtures.accounts import DEFAULT_PASSWORD, register
from tests.fixtures.plans import seats_on_free_fixture  # noqa: F401 (the seats_on_free fixture)


def assert_no_store(response: httpx.Response) -> None:
    assert response.status_code in (200, 201), response.text
    assert response.headers.get("cache-control") == "no-store", dict(response.headers)


class TestNoStore:
    async def test_sign_up_sign_in_refresh_and_password_change(
        self, client: httpx.AsyncClient
    ) -> None:
        email = "no-store@example.com"
        registered = await client.post(
            "/v1/auth/register",
            json={"email": email, "password": DEFAULT_PASSWORD, "full_name": "Ada"},
        )
        login = await client.post(
            "/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
        )
        form = await client.post(
            "/v1/auth/token", data={"username": email, "password": DEFAULT_PASSWORD}
        )
        refreshed = await client.post(
            "/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
        )
        changed = await client.post(
            "/v1/users/me/password",
            json={
                "current_password": DEFAULT_PASSWORD,
                "new_password": "another long uncommon passphrase",
            },
            headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
        )
        for response in (registered, login, form, refreshed, changed):
            assert_no_store(response)

    async def test_api_key_and_invitation_creation(
        self, client: httpx.AsyncClient, seats_on_free: PlanCatalog
    ) -> None:
        account = await register(client)
        key = await client.post("/v1/api-keys", json={"name": "ci"}, headers=account.headers)
        invitation = await client.post(
            f"/v1/workspaces/{account.workspace_id}/invitations",
            json={"email": "grace@example.com"},
            headers=account.headers,
        )
        assert_no_store(key)
        assert_no_store(invitation)
