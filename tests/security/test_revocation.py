"""Revocation reaches every API process at once: a deleted API key, a removed member and a
demoted admin are refused by a second process that had just cached them as valid."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.fixtures.accounts import Account, assert_problem, create_api_key, register
from tests.security.conftest import LiveServer, server_environment, uvicorn_server

# The shipped Free plan has one seat; these tests need a second member.
SEATS_CATALOG = """
[[plans]]
id = "free"
name = "Free"
rank = 0
features = ["widget", "api_access"]
prices = { month = 0, year = 0 }
[plans.limits]
chatbots = 5
messages_per_month = 100
pages_per_month = 500
members = 5
crawl_max_pages = 500
"""


@contextmanager
def two_processes(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    catalog = tmp_path / "plans.toml"
    catalog.write_text(SEATS_CATALOG, encoding="utf-8")
    env = server_environment(database_url, SITECHAT_BILLING_PLANS_FILE=str(catalog))
    with (
        uvicorn_server(env, tmp_path / "one.log") as one,
        uvicorn_server(env, tmp_path / "two.log") as two,
    ):
        yield one, two


async def join(owner_side: httpx.AsyncClient, owner: Account, member: Account, role: str) -> None:
    invited = await owner_side.post(
        f"/v1/workspaces/{owner.workspace_id}/invitations",
        json={"email": member.email, "role": role},
        headers=owner.headers,
    )
    assert invited.status_code == 201, invited.text
    accepted = await owner_side.post(
        "/v1/invitations/accept", json={"token": invited.json()["token"]}, headers=member.headers
    )
    assert accepted.status_code == 200, accepted.text


class TestAcrossProcesses:
    async def test_a_deleted_api_key_stops_working_on_the_other_process_at_once(
        self, database_url: str, tmp_path: Path
    ) -> None:
        with two_processes(database_url, tmp_path) as (one, two):
            async with (
                httpx.AsyncClient(base_url=one.base_url, timeout=10) as first,
                httpx.AsyncClient(base_url=two.base_url, timeout=10) as second,
            ):
                owner = await register(first)
                key = await create_api_key(first, owner)
                key_id = (await first.get("/v1/api-keys", headers=owner.headers)).json()["items"][
                    0
                ]["id"]
                by_key = {"Authorization": f"Bearer {key}"}
                # The second process looks the key up and caches it as valid.
                assert (await second.get("/v1/chatbots", headers=by_key)).status_code == 200
                assert (await second.get("/v1/chatbots", headers=by_key)).status_code == 200

                deleted = await first.delete(f"/v1/api-keys/{key_id}", headers=owner.headers)
                after = await second.get("/v1/chatbots", headers=by_key)
                created = await second.post("/v1/chatbots", json={"name": "x"}, headers=by_key)

        assert deleted.status_code == 204
        assert_problem(after, 401, "unauthorized")
        assert_problem(created, 401, "unauthorized")

    async def test_a_removed_or_demoted_admin_is_refused_on_the_other_process_at_once(
        self, database_url: str, tmp_path: Path
    ) -> None:
        with two_processes(database_url, tmp_path) as (one, two):
            async with (
                httpx.AsyncClient(base_url=one.base_url, timeout=10) as first,
                httpx.AsyncClient(base_url=two.base_url, timeout=10) as second,
            ):
                owner = await register(first)
                admin = await register(first)
                member = await register(first)
                await join(first, owner, admin, "admin")
                await join(first, owner, member, "admin")
                as_admin = admin.in_workspace(owner.workspace_id)
                as_member = member.in_workspace(owner.workspace_id)
                # The second process caches both memberships with their admin role.
                assert (await second.get("/v1/api-keys", headers=as_admin)).status_code == 200
                assert (await second.get("/v1/api-keys", headers=as_member)).status_code == 200

                removed = await first.delete(
                    f"/v1/workspaces/{owner.workspace_id}/members/{admin.user_id}",
                    headers=owner.headers,
                )
                demoted = await first.patch(
                    f"/v1/workspaces/{owner.workspace_id}/members/{member.user_id}",
                    json={"role": "member"},
                    headers=owner.headers,
                )
                removed_creates = await second.post(
                    "/v1/chatbots", json={"name": "after removal"}, headers=as_admin
                )
                demoted_lists_keys = await second.get("/v1/api-keys", headers=as_member)
                chatbots = await first.get("/v1/chatbots", headers=owner.headers)

        assert removed.status_code == 204
        assert demoted.status_code == 200
        assert_problem(removed_creates, 404, "not-found")
        assert_problem(demoted_lists_keys, 403, "forbidden")
        assert chatbots.json()["items"] == []
