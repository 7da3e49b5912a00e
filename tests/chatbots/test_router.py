"""Chatbots over HTTP: configuration, lifecycle, sanitizing, lists, tenancy and roles."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.fixtures.accounts import Account, create_api_key, register
from tests.fixtures.billing import upgrade


async def create_chatbot(client: httpx.AsyncClient, account: Account, **fields: object) -> dict:
    response = await client.post(
        "/v1/chatbots", json={"name": "Helper", **fields}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def add_text(client: httpx.AsyncClient, account: Account, chatbot_id: str) -> None:
    response = await client.post(
        f"/v1/chatbots/{chatbot_id}/sources",
        json={"kind": "text", "title": "Hours", "content": "We open at nine."},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text


class TestCreateAndRead:
    async def test_defaults(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot = await create_chatbot(client, account)
        assert chatbot["status"] == "draft"
        assert chatbot["visibility"] == "private"
        assert chatbot["fallback_message"] == "I'm sorry, I couldn't find that on this site."
        assert chatbot["workspace_id"] == str(account.workspace_id)
        response = await client.get(f"/v1/chatbots/{chatbot['id']}", headers=account.headers)
        assert response.status_code == 200
        # The read adds indexing progress (a new bot has nothing to index; lexical in tests).
        assert chatbot["indexing"] is None
        indexing = {"chunks": 0, "embedded": 0, "state": "lexical_only"}
        assert response.json() == chatbot | {"indexing": indexing}

    async def test_markup_is_stripped_from_text_fields(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot = await create_chatbot(
            client,
            account,
            name="<b>Shop</b><script>alert(1)</script>",
            welcome_message="<img src=x onerror=alert(1)>Hello",
            suggested_questions=["<i>Where</i> are you?"],
        )
        assert chatbot["name"] == "Shop"
        assert chatbot["welcome_message"] == "Hello"
        assert chatbot["suggested_questions"] == ["Where are you?"]

    @pytest.mark.parametrize(
        "fields",
        [
            {"name": ""},
            {"name": "<script>x</script>"},
            {"name": "x" * 201},
            {"allowed_origins": ["https://example.com/path"]},
            {"allowed_origins": ["javascript:alert(1)"]},
            {"allowed_origins": [f"https://a{i}.example.com" for i in range(21)]},
            {"language": "klingon"},
            {"temperature": 3},
            {"visibility": "secret"},
            {"unknown": 1},
        ],
    )
    async def test_bad_input_is_422(self, client: httpx.AsyncClient, fields: dict) -> None:
        account = await register(client)
        response = await client.post(
            "/v1/chatbots", json={"name": "Helper", **fields}, headers=account.headers
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"

    async def test_origins_are_normalized(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot = await create_chatbot(
            client, account, allowed_origins=["https://Shop.Example.com:8443", "http://a.io"]
        )
        assert chatbot["allowed_origins"] == ["https://shop.example.com:8443", "http://a.io"]


class TestList:
    async def test_pages_newest_first_and_filters_by_status(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        await upgrade(client, account)  # five chatbots need more than the free plan's one
        ids = [(await create_chatbot(client, account, name=f"Bot {i}"))["id"] for i in range(5)]
        await add_text(client, account, ids[0])  # the oldest becomes ready

        seen: list[str] = []
        cursor = None
        for _ in range(5):
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            response = await client.get("/v1/chatbots", params=params, headers=account.headers)
            assert response.status_code == 200
            body = response.json()
            seen += [item["id"] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids))

        ready = await client.get("/v1/chatbots?status=ready", headers=account.headers)
        assert [item["id"] for item in ready.json()["items"]] == [ids[0]]

    async def test_bad_cursor_and_status_are_422(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        made_up = "AAAAAAAAAAAAAAAAAAAAAA"  # base64 of sixteen bytes, but no id ever listed
        for query in ("cursor=not-a-cursor!", f"cursor={made_up}", "status=flying", "limit=0"):
            response = await client.get(f"/v1/chatbots?{query}", headers=account.headers)
            assert response.status_code == 422, query


class TestLifecycle:
    async def test_pause_resume_archive(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot = await create_chatbot(client, account)
        url = f"/v1/chatbots/{chatbot['id']}"
        await add_text(client, account, chatbot["id"])
        for target in ("paused", "ready", "archived"):
            response = await client.patch(url, json={"status": target}, headers=account.headers)
            assert response.status_code == 200, response.text
            assert response.json()["status"] == target

    @pytest.mark.parametrize("target", ["paused", "ready", "training"])
    async def test_moves_users_cannot_make_are_409(
        self, client: httpx.AsyncClient, target: str
    ) -> None:
        account = await register(client)
        chatbot = await create_chatbot(client, account)  # draft
        response = await client.patch(
            f"/v1/chatbots/{chatbot['id']}", json={"status": target}, headers=account.headers
        )
        assert response.status_code == 409
        problem = response.json()
        assert problem["type"].endswith("/invalid-state-transition")
        assert (problem["from"], problem["to"]) == ("draft", target)

    async def test_archived_is_final(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot = await create_chatbot(client, account)
        url = f"/v1/chatbots/{chatbot['id']}"
        await client.patch(url, json={"status": "archived"}, headers=account.headers)
        response = await client.patch(url, json={"status": "ready"}, headers=account.headers)
        assert response.status_code == 409
        assert response.json()["from"] == "archived"

    async def test_update_changes_only_sent_fields(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot = await create_chatbot(client, account, instructions="Be brief.")
        response = await client.patch(
            f"/v1/chatbots/{chatbot['id']}",
            json={"name": "<u>Renamed</u>", "temperature": 0.7},
            headers=account.headers,
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["name"], body["temperature"], body["instructions"]) == (
            "Renamed",
            0.7,
            "Be brief.",
        )
        nulled = await client.patch(
            f"/v1/chatbots/{chatbot['id']}", json={"name": None}, headers=account.headers
        )
        assert nulled.status_code == 422


class TestWhileSourcesAreWritten:
    async def test_changes_do_not_wait_for_a_file_being_indexed(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        # A file's pages are written in one transaction (a minute for a large one), and every
        # chunk it inserts locks the chatbot's row the way a foreign key does (FOR KEY SHARE).
        account = await register(client)
        chatbot = await create_chatbot(client, account)
        url = f"/v1/chatbots/{chatbot['id']}"
        async with app.state.sessionmaker() as indexing, indexing.begin():
            await indexing.execute(
                text("SELECT 1 FROM chatbots WHERE id = :id FOR KEY SHARE"), {"id": chatbot["id"]}
            )
            renamed = await asyncio.wait_for(
                client.patch(url, json={"name": "Renamed"}, headers=account.headers), timeout=10
            )
            text_source = await asyncio.wait_for(
                client.post(
                    f"{url}/sources",
                    json={"kind": "text", "title": "Vans", "content": "Our vans carry parts."},
                    headers=account.headers,
                ),
                timeout=10,
            )

        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name"] == "Renamed"
        assert text_source.status_code == 201, text_source.text


class TestDelete:
    async def test_delete_removes_chatbot_and_its_sources(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot = await create_chatbot(client, account)
        await add_text(client, account, chatbot["id"])
        response = await client.delete(f"/v1/chatbots/{chatbot['id']}", headers=account.headers)
        assert response.status_code == 204
        again = await client.get(f"/v1/chatbots/{chatbot['id']}", headers=account.headers)
        assert again.status_code == 404
        sources = await client.get(f"/v1/chatbots/{chatbot['id']}/sources", headers=account.headers)
        assert sources.status_code == 404


class TestTenancyAndRoles:
    async def test_another_workspace_gets_404_everywhere(self, client: httpx.AsyncClient) -> None:
        owner = await register(client)
        stranger = await register(client)
        chatbot = await create_chatbot(client, owner)
        base = f"/v1/chatbots/{chatbot['id']}"
        calls = [
            ("GET", base, None),
            ("PATCH", base, {"name": "x"}),
            ("DELETE", base, None),
            ("GET", f"{base}/sources", None),
            ("POST", f"{base}/sources", {"kind": "qa", "question": "q", "answer": "a"}),
            ("DELETE", f"{base}/sources/{uuid.uuid4()}", None),
            ("GET", f"/v1/chatbots/{uuid.uuid4()}", None),
        ]
        for method, url, body in calls:
            response = await client.request(method, url, json=body, headers=stranger.headers)
            assert response.status_code == 404, (method, url, response.text)
        listed = await client.get("/v1/chatbots", headers=stranger.headers)
        assert listed.json()["items"] == []

    async def test_members_read_but_do_not_change(self, client: httpx.AsyncClient) -> None:
        owner = await register(client)
        chatbot = await create_chatbot(client, owner)
        member_key = await create_api_key(client, owner, role="member")
        member = {"Authorization": f"Bearer {member_key}"}
        base = f"/v1/chatbots/{chatbot['id']}"
        assert (await client.get(base, headers=member)).status_code == 200
        assert (await client.get("/v1/chatbots", headers=member)).status_code == 200
        writes = [
            ("POST", "/v1/chatbots", {"name": "Mine"}),
            ("PATCH", base, {"name": "x"}),
            ("DELETE", base, None),
            ("POST", f"{base}/sources", {"kind": "qa", "question": "q", "answer": "a"}),
        ]
        for method, url, body in writes:
            response = await client.request(method, url, json=body, headers=member)
            assert response.status_code == 403, (method, url)
