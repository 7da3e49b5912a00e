"""Workspaces, members, invitations and the audit log, through the HTTP API."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from sitechat.billing.plans import PlanCatalog
from sitechat.core.clock import FrozenClock
from tests.conftest import run_queued_jobs
from tests.fixtures.accounts import Account, assert_problem, bearer, create_api_key, register
from tests.fixtures.plans import seats_on_free_fixture  # noqa: F401 (the seats_on_free fixture)


@pytest.fixture(autouse=True)
def _invitations_need_seats(seats_on_free: PlanCatalog) -> None:
    """The shipped Free plan has one seat; the members limit is tested in tests/billing."""


def ws(account: Account, suffix: str = "") -> str:
    return f"/v1/workspaces/{account.workspace_id}{suffix}"


async def invite(
    client: httpx.AsyncClient, owner: Account, email: str, role: str = "member"
) -> httpx.Response:
    return await client.post(
        ws(owner, "/invitations"), json={"email": email, "role": role}, headers=owner.headers
    )


async def join(
    client: httpx.AsyncClient, owner: Account, member: Account, role: str = "member"
) -> None:
    invited = await invite(client, owner, member.email, role)
    assert invited.status_code == 201, invited.text
    accepted = await client.post(
        "/v1/invitations/accept", json={"token": invited.json()["token"]}, headers=member.headers
    )
    assert accepted.status_code == 200, accepted.text


class TestInvitationFlow:
    async def test_invited_user_accepts_and_sees_the_workspace(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        owner = await register(client, full_name="Olga")
        guest = await register(client)
        with capture_logs() as logs:
            invited = await invite(client, owner, guest.email.upper(), "admin")
            # The mail leaves from a job, after the request has committed.
            assert not [e for e in logs if e["event"] == "mail.sent"]
            await run_queued_jobs(app)
        assert invited.status_code == 201, invited.text
        token = invited.json()["token"]
        assert invited.json()["email"] == guest.email
        mail = next(e for e in logs if e["event"] == "mail.sent")
        assert mail["to"] == guest.email and token in str(mail["body"])

        accepted = await client.post(
            "/v1/invitations/accept", json={"token": token}, headers=guest.headers
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["id"] == str(owner.workspace_id)
        assert accepted.json()["role"] == "admin"

        listed = await client.get("/v1/workspaces", headers=guest.headers)
        assert [(w["id"], w["role"]) for w in listed.json()["items"]] == [
            (str(guest.workspace_id), "owner"),
            (str(owner.workspace_id), "admin"),
        ]
        # X-Workspace-ID picks the workspace that API keys are created in, for instance.
        key = await client.post(
            "/v1/api-keys", json={"name": "shared"}, headers=guest.in_workspace(owner.workspace_id)
        )
        assert key.json()["workspace_id"] == str(owner.workspace_id)

        members = await client.get(ws(owner, "/members"), headers=guest.headers)
        assert [(m["user_id"], m["role"]) for m in members.json()["items"]] == [
            (str(owner.user_id), "owner"),
            (str(guest.user_id), "admin"),
        ]
        used = await client.post(
            "/v1/invitations/accept", json={"token": token}, headers=guest.headers
        )
        assert_problem(used, 400, "invalid-invitation")

    async def test_refusals(self, client: httpx.AsyncClient, frozen_clock: FrozenClock) -> None:
        owner = await register(client)
        guest = await register(client)
        stranger = await register(client)
        token = (await invite(client, owner, guest.email)).json()["token"]

        wrong_user = await client.post(
            "/v1/invitations/accept", json={"token": token}, headers=stranger.headers
        )
        assert_problem(wrong_user, 404)
        assert_problem(await client.post("/v1/invitations/accept", json={"token": token}), 401)
        assert_problem(
            await client.post("/v1/invitations/accept", json={}, headers=guest.headers), 422
        )
        unknown = await client.post(
            "/v1/invitations/accept", json={"token": "nope"}, headers=guest.headers
        )
        assert_problem(unknown, 400, "invalid-invitation")

        assert_problem(await invite(client, owner, owner.email), 409, "already-member")
        assert_problem(await invite(client, owner, "not an email"), 422, "validation-error")
        assert_problem(await invite(client, owner, "x@example.com", "god"), 422)
        assert_problem(
            await client.post(ws(owner, "/invitations"), json={"email": "x@example.com"}), 401
        )
        # Another workspace's id is a 404, exactly like a missing one.
        foreign = await client.post(
            ws(owner, "/invitations"), json={"email": "x@example.com"}, headers=stranger.headers
        )
        assert_problem(foreign, 404)

        frozen_clock.advance(timedelta(days=8))
        # Access tokens from before the jump expired too; sign in again with a fresh one.
        fresh = await client.post("/v1/auth/refresh", json={"refresh_token": guest.refresh_token})
        expired = await client.post(
            "/v1/invitations/accept",
            json={"token": token},
            headers=bearer(fresh.json()["access_token"]),
        )
        assert_problem(expired, 400, "invalid-invitation")

    async def test_only_owners_invite(self, client: httpx.AsyncClient) -> None:
        owner = await register(client)
        admin = await register(client)
        await join(client, owner, admin, "admin")
        response = await client.post(
            ws(owner, "/invitations"),
            json={"email": "x@example.com"},
            headers=admin.headers,
        )
        assert_problem(response, 403)


class TestWorkspaceRead:
    async def test_get_and_rename(self, client: httpx.AsyncClient) -> None:
        owner = await register(client)
        member = await register(client)
        await join(client, owner, member)
        got = await client.get(ws(owner), headers=owner.headers)
        assert got.json()["role"] == "owner" and got.json()["is_personal"] is True

        renamed = await client.patch(ws(owner), json={"name": " Support "}, headers=owner.headers)
        assert renamed.status_code == 200 and renamed.json()["name"] == "Support"
        assert_problem(
            await client.patch(ws(owner), json={"name": "Mine"}, headers=member.headers), 403
        )
        for payload in ({"name": ""}, {"name": "x" * 201}, {"name": "a\nb"}, {"owner": "me"}):
            assert_problem(await client.patch(ws(owner), json=payload, headers=owner.headers), 422)
        assert_problem(await client.get(ws(owner)), 401)
        assert_problem(await client.get("/v1/workspaces"), 401)

    async def test_foreign_and_missing_workspaces_are_404(self, client: httpx.AsyncClient) -> None:
        owner = await register(client)
        stranger = await register(client)
        key = await create_api_key(client, stranger, role="admin")
        for suffix in ("", "/members", "/audit-events"):
            for headers in (stranger.headers, bearer(key)):
                assert_problem(await client.get(ws(owner, suffix), headers=headers), 404)
            missing = f"/v1/workspaces/{uuid.uuid4()}{suffix}"
            assert_problem(await client.get(missing, headers=owner.headers), 404)
        assert_problem(
            await client.patch(ws(owner), json={"name": "x"}, headers=stranger.headers), 404
        )
        # The header cannot reach a foreign workspace either.
        assert_problem(
            await client.get("/v1/api-keys", headers=stranger.in_workspace(owner.workspace_id)),
            404,
        )


class TestMembers:
    async def test_change_role_and_last_owner_rule(self, client: httpx.AsyncClient) -> None:
        owner = await register(client)
        member = await register(client)
        await join(client, owner, member)
        path = ws(owner, f"/members/{member.user_id}")

        promoted = await client.patch(path, json={"role": "owner"}, headers=owner.headers)
        assert promoted.status_code == 200 and promoted.json()["role"] == "owner"
        # Two owners: one may step down; then the remaining one may not.
        own_path = ws(owner, f"/members/{owner.user_id}")
        demoted = await client.patch(own_path, json={"role": "admin"}, headers=owner.headers)
        assert demoted.status_code == 200
        last = await client.patch(path, json={"role": "member"}, headers=member.headers)
        assert_problem(last, 409, "last-owner")
        removed_last = await client.delete(path, headers=member.headers)
        assert_problem(removed_last, 409, "last-owner")

        # The demoted former owner lost owner rights at once.
        assert_problem(
            await client.patch(path, json={"role": "member"}, headers=owner.headers), 403
        )
        assert_problem(await client.patch(path, json={"role": "boss"}, headers=member.headers), 422)
        missing = ws(owner, f"/members/{uuid.uuid4()}")
        assert_problem(
            await client.patch(missing, json={"role": "admin"}, headers=member.headers), 404
        )
        assert_problem(await client.patch(path, json={"role": "admin"}), 401)

        events = await client.get(ws(owner, "/audit-events"), headers=member.headers)
        actions = [e["action"] for e in events.json()["items"]]
        assert actions.count("member.role_changed") == 2

    async def test_remove_and_leave(self, client: httpx.AsyncClient) -> None:
        owner = await register(client)
        first = await register(client)
        second = await register(client)
        await join(client, owner, first)
        await join(client, owner, second)

        refused = await client.delete(
            ws(owner, f"/members/{second.user_id}"), headers=first.headers
        )
        assert_problem(refused, 403)
        left = await client.delete(ws(owner, f"/members/{first.user_id}"), headers=first.headers)
        assert left.status_code == 204
        assert_problem(await client.get(ws(owner), headers=first.headers), 404)

        removed = await client.delete(
            ws(owner, f"/members/{second.user_id}"), headers=owner.headers
        )
        assert removed.status_code == 204
        listed = await client.get("/v1/workspaces", headers=second.headers)
        assert [w["id"] for w in listed.json()["items"]] == [str(second.workspace_id)]
        assert_problem(
            await client.delete(ws(owner, f"/members/{second.user_id}"), headers=owner.headers),
            404,
        )
        assert_problem(
            await client.delete(ws(owner, f"/members/{owner.user_id}"), headers=owner.headers),
            409,
            "last-owner",
        )


class TestAuditEvents:
    async def test_owner_pages_newest_first(self, client: httpx.AsyncClient) -> None:
        owner = await register(client)
        member = await register(client)
        await join(client, owner, member)
        for name in ("a", "b", "c"):
            await client.post("/v1/api-keys", json={"name": name}, headers=owner.headers)

        seen: list[dict[str, object]] = []
        cursor: str | None = None
        for _ in range(10):
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = await client.get(
                ws(owner, "/audit-events"), params=params, headers=owner.headers
            )
            assert page.status_code == 200, page.text
            seen.extend(page.json()["items"])
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        actions = [e["action"] for e in seen]
        assert actions[:3] == ["api_key.created"] * 3
        assert [e["details"]["name"] for e in seen[:3]] == ["c", "b", "a"]
        assert actions[-1] == "user.registered"
        assert {"member.invited", "member.joined"} <= set(actions)
        assert len({e["id"] for e in seen}) == len(seen)

        assert_problem(await client.get(ws(owner, "/audit-events"), headers=member.headers), 403)
        assert_problem(await client.get(ws(owner, "/audit-events")), 401)
        bad_cursor = await client.get(
            ws(owner, "/audit-events"), params={"cursor": "%%%"}, headers=owner.headers
        )
        assert_problem(bad_cursor, 422)
        assert_problem(
            await client.get(
                ws(owner, "/audit-events"), params={"limit": 0}, headers=owner.headers
            ),
            422,
        )
