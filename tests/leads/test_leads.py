"""Lead capture: the widget's form per the chatbot's config; leads listed and exported by
admins, never readable by visitors."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from sitechat.models import Chatbot, Role, Visibility
from tests.fixtures.accounts import assert_problem
from tests.fixtures.chat import ChatAccount, create_account, create_api_key, create_chatbot

SITE = "https://shop.example.com"
LEAD_CAPTURE = {"enabled": True, "fields": ["name", "email"], "when": "on_fallback"}


async def _bot(
    app: FastAPI, client: httpx.AsyncClient, lead_capture: dict[str, Any] | None = None
) -> tuple[ChatAccount, Chatbot]:
    account = await create_account(app)
    chatbot = await create_chatbot(
        app, account, visibility=Visibility.public, allowed_origins=[SITE]
    )
    if lead_capture is not None:
        updated = await client.patch(
            f"/v1/chatbots/{chatbot.id}",
            json={"lead_capture": lead_capture},
            headers=account.headers,
        )
        assert updated.status_code == 200, updated.text
    return account, chatbot


async def _visit(client: httpx.AsyncClient, chatbot: Chatbot) -> tuple[str, dict[str, str]]:
    response = await client.post(
        f"/v1/public/chatbots/{chatbot.id}/conversations", headers={"Origin": SITE}
    )
    body = response.json()
    return body["conversation_id"], {
        "Authorization": f"Bearer {body['visitor_token']}",
        "Origin": SITE,
    }


async def _leave(
    client: httpx.AsyncClient, conversation_id: str, visitor: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/public/conversations/{conversation_id}/lead", json=body, headers=visitor
    )


class TestLeadCaptureConfig:
    async def test_the_chatbot_shows_its_lead_capture(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _bot(
            app,
            client,
            {"enabled": True, "fields": ["email"], "when": "after_messages", "after_messages": 3,
             "prompt": "<i>Stay</i> in touch"},
        )  # fmt: skip

        read = await client.get(f"/v1/chatbots/{chatbot.id}", headers=account.headers)

        assert read.json()["lead_capture"] == {
            "enabled": True,
            "fields": ["email"],
            "when": "after_messages",
            "after_messages": 3,
            "prompt": "Stay in touch",
        }
        assert read.json()["handoff_message"]

    async def test_inconsistent_configs_are_refused(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _bot(app, client)

        for config in (
            {"enabled": True, "when": "after_messages"},
            {"when": "start", "after_messages": 2},
            {"fields": []},
            {"fields": ["email", "email"]},
            {"fields": ["phone"]},
            {"when": "sometimes"},
        ):
            response = await client.patch(
                f"/v1/chatbots/{chatbot.id}", json={"lead_capture": config}, headers=account.headers
            )
            assert_problem(response, 422, "validation-error")
        read = await client.get(f"/v1/chatbots/{chatbot.id}", headers=account.headers)
        assert read.json()["lead_capture"]["enabled"] is False


class TestCaptureLead:
    async def test_a_visitor_leaves_a_contact_the_admin_reads(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _bot(app, client, LEAD_CAPTURE)
        conversation_id, visitor = await _visit(client, chatbot)

        sent = await _leave(
            client, conversation_id, visitor, name="<b>Ada</b> Lovelace", email=" Ada@Example.COM "
        )
        listed = await client.get(f"/v1/chatbots/{chatbot.id}/leads", headers=account.headers)

        assert sent.status_code == 201, sent.text
        assert sent.json() == {"captured": True}  # nothing of the lead comes back
        assert sent.headers["access-control-allow-origin"] == SITE
        [lead] = listed.json()["items"]
        assert lead["name"] == "Ada Lovelace"
        assert lead["email"] == "ada@example.com"
        assert lead["conversation_id"] == conversation_id

    async def test_sending_again_updates_until_the_cap(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _bot(app, client, LEAD_CAPTURE)
        conversation_id, visitor = await _visit(client, chatbot)

        statuses = [
            (await _leave(client, conversation_id, visitor, name=f"Ada {n}", email="a@b.co"))
            for n in range(6)
        ]

        assert [response.status_code for response in statuses] == [201] * 5 + [429]
        assert_problem(statuses[-1], 429, "too-many-lead-submissions")
        [lead] = (
            await client.get(f"/v1/chatbots/{chatbot.id}/leads", headers=account.headers)
        ).json()["items"]
        assert lead["name"] == "Ada 4"

    async def test_required_fields_and_disabled_capture(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        _, chatbot = await _bot(app, client, LEAD_CAPTURE)
        _, silent_bot = await _bot(app, client)
        conversation_id, visitor = await _visit(client, chatbot)
        silent_id, silent_visitor = await _visit(client, silent_bot)

        missing = await _leave(client, conversation_id, visitor, email="ada@example.com")
        disabled = await _leave(
            client, silent_id, silent_visitor, name="Ada", email="ada@example.com"
        )

        body = assert_problem(missing, 422, "lead-fields-missing")
        assert body["missing_fields"] == ["name"]
        assert_problem(disabled, 409, "lead-capture-disabled")

    async def test_malformed_leads_are_refused(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _bot(app, client, LEAD_CAPTURE)
        conversation_id, visitor = await _visit(client, chatbot)

        for body in (
            {"name": "Ada", "email": "not-an-email"},
            {"name": "Ada", "email": 42},
            {"name": "Ada\u202e", "email": "ada@example.com"},
            {"name": "x" * 500, "email": "ada@example.com"},
            {"name": "Ada", "email": "ada@example.com", "phone": "123"},
        ):
            response = await _leave(client, conversation_id, visitor, **body)
            assert_problem(response, 422, "validation-error")
        listed = await client.get(f"/v1/chatbots/{chatbot.id}/leads", headers=account.headers)
        assert listed.json()["items"] == []

    async def test_a_visitor_token_opens_only_its_own_conversation(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        _, chatbot = await _bot(app, client, LEAD_CAPTURE)
        _, visitor = await _visit(client, chatbot)
        other_id, _ = await _visit(client, chatbot)
        lead = {"name": "Ada", "email": "ada@example.com"}

        for conversation_id in (other_id, str(uuid.uuid4())):
            assert_problem(await _leave(client, conversation_id, visitor, **lead), 404)
        assert_problem(await _leave(client, other_id, {"Origin": SITE}, **lead), 401)

    async def test_another_origin_is_refused_and_nothing_is_kept(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _bot(app, client, LEAD_CAPTURE)
        conversation_id, visitor = await _visit(client, chatbot)

        refused = await _leave(
            client,
            conversation_id,
            {**visitor, "Origin": "https://evil.example.com"},
            name="Ada",
            email="ada@example.com",
        )

        assert_problem(refused, 403, "origin-not-allowed")
        listed = await client.get(f"/v1/chatbots/{chatbot.id}/leads", headers=account.headers)
        assert listed.json()["items"] == []

    async def test_preflights_answer_the_allowed_origin_only(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        _, chatbot = await _bot(app, client, LEAD_CAPTURE)
        conversation_id, _ = await _visit(client, chatbot)
        preflight = {"Access-Control-Request-Method": "POST"}

        for path in ("lead", "handoff", "handback"):
            url = f"/v1/public/conversations/{conversation_id}/{path}"
            allowed = await client.options(url, headers={**preflight, "Origin": SITE})
            refused = await client.options(url, headers={**preflight, "Origin": "https://x.test"})
            assert allowed.status_code == 204
            assert allowed.headers["access-control-allow-origin"] == SITE
            assert refused.status_code == 403


class TestListAndExport:
    async def test_visitors_and_members_cannot_read_leads(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _bot(app, client, LEAD_CAPTURE)
        conversation_id, visitor = await _visit(client, chatbot)
        await _leave(client, conversation_id, visitor, name="Ada", email="ada@example.com")
        member_key = await create_api_key(app, account, role=Role.member)

        for path in ("leads", "leads/export.csv"):
            url = f"/v1/chatbots/{chatbot.id}/{path}"
            assert_problem(await client.get(url, headers=visitor), 401)
            as_member = await client.get(url, headers={"Authorization": f"Bearer {member_key}"})
            assert_problem(as_member, 403)

    async def test_pages_and_csv(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        account, chatbot = await _bot(app, client, LEAD_CAPTURE)
        names = ["Ada", "=cmd|' /C calc'!A0", "Grace"]
        for name in names:
            conversation_id, visitor = await _visit(client, chatbot)
            sent = await _leave(client, conversation_id, visitor, name=name, email="x@example.com")
            assert sent.status_code == 201, sent.text
        url = f"/v1/chatbots/{chatbot.id}/leads"

        first = await client.get(url, params={"limit": 2}, headers=account.headers)
        second = await client.get(
            url, params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=account.headers
        )
        exported = await client.get(f"{url}/export.csv", headers=account.headers)

        paged = [lead["name"] for lead in first.json()["items"] + second.json()["items"]]
        assert paged == ["Grace", "=cmd|' /C calc'!A0", "Ada"]
        assert second.json()["next_cursor"] is None
        assert exported.status_code == 200
        assert exported.headers["cache-control"] == "no-store"
        rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        # A name that a spreadsheet would run as a formula stays text.
        assert [row["name"] for row in rows] == ["Grace", "'=cmd|' /C calc'!A0", "Ada"]

    async def test_another_workspace_gets_404(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        _, chatbot = await _bot(app, client, LEAD_CAPTURE)
        stranger = await create_account(app)

        for path in ("leads", "leads/export.csv"):
            response = await client.get(
                f"/v1/chatbots/{chatbot.id}/{path}", headers=stranger.headers
            )
            assert_problem(response, 404)

    async def test_malformed_list_queries_are_refused(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _bot(app, client, LEAD_CAPTURE)
        url = f"/v1/chatbots/{chatbot.id}/leads"

        assert_problem(
            await client.get(url, params={"cursor": "%%%"}, headers=account.headers), 422
        )
        assert_problem(await client.get(url, params={"limit": 0}, headers=account.headers), 422)
        for path in ("/v1/chatbots/nope/leads", "/v1/chatbots/nope/leads/export.csv"):
            assert_problem(await client.get(path, headers=account.headers), 422)
