"""Stored HTML, field by field: every display string a user stores comes back without markup.

The rule (`sitechat.core.fields.sanitize_display_text`): tags are dropped (`script` and `style`
with their content) and what is left is HTML-escaped. Each case stores the attack through the
public API and reads it back where someone else would see it.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from sitechat.models import ChatbotStatus, Visibility
from tests.fixtures.accounts import Account, register
from tests.fixtures.chat import add_chunk, create_chatbot
from tests.fixtures.chat import create_account as create_chat_account

ATTACK = '<img src=x onerror="alert(1)"><script>alert(2)</script>Hello & <b>bye</b>'
CLEANED = "Hello &amp; bye"
SITE = "https://shop.example.com"


def assert_clean(value: object) -> None:
    assert value == CLEANED, value


async def _chatbot(client: httpx.AsyncClient, account: Account, **fields: object) -> dict:
    response = await client.post(
        "/v1/chatbots", json={"name": "Helper", **fields}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


class TestAccounts:
    async def test_user_full_name_at_sign_up_and_in_the_workspace_name(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client, full_name=ATTACK)
        me = (await client.get("/v1/users/me", headers=account.headers)).json()
        workspaces = (await client.get("/v1/workspaces", headers=account.headers)).json()
        assert_clean(me["full_name"])
        assert workspaces["items"][0]["name"] == f"{CLEANED}'s workspace"

    async def test_user_full_name_on_update_as_members_see_it(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        response = await client.patch(
            "/v1/users/me", json={"full_name": ATTACK}, headers=account.headers
        )
        members = await client.get(
            f"/v1/workspaces/{account.workspace_id}/members", headers=account.headers
        )
        assert response.status_code == 200, response.text
        assert_clean(response.json()["full_name"])
        assert_clean(members.json()["items"][0]["full_name"])

    async def test_workspace_name(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        response = await client.patch(
            f"/v1/workspaces/{account.workspace_id}", json={"name": ATTACK}, headers=account.headers
        )
        read = await client.get(f"/v1/workspaces/{account.workspace_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        assert_clean(read.json()["name"])

    async def test_api_key_name(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        created = await client.post(
            "/v1/api-keys", json={"name": ATTACK, "role": "member"}, headers=account.headers
        )
        listed = await client.get("/v1/api-keys", headers=account.headers)
        assert created.status_code == 201, created.text
        assert_clean(created.json()["name"])
        assert_clean(listed.json()["items"][0]["name"])

    @pytest.mark.parametrize(
        ("path", "field"),
        [("/v1/users/me", "full_name"), ("/v1/api-keys", "name")],
    )
    async def test_text_that_is_only_markup_is_422(
        self, client: httpx.AsyncClient, path: str, field: str
    ) -> None:
        account = await register(client)
        method = client.patch if path == "/v1/users/me" else client.post
        response = await method(
            path, json={field: "<script>alert(1)</script>"}, headers=account.headers
        )
        assert response.status_code == 422, response.text

    async def test_escaping_that_would_overflow_the_column_is_422(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await register(client)
        # 100 characters, 500 once escaped: refused, not truncated and not a 500.
        response = await client.post(
            "/v1/api-keys", json={"name": "&" * 100}, headers=account.headers
        )
        assert response.status_code == 422, response.text


class TestChatbots:
    @pytest.mark.parametrize(
        "field",
        ["name", "description", "model", "welcome_message", "fallback_message", "handoff_message"],
    )
    async def test_text_fields_on_create_and_update(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        account = await register(client)
        created = await _chatbot(client, account, **{field: ATTACK})
        updated = await client.patch(
            f"/v1/chatbots/{created['id']}",
            json={field: f"Again {ATTACK}"},
            headers=account.headers,
        )
        assert updated.status_code == 200, updated.text
        assert_clean(created[field])
        assert updated.json()[field] == f"Again {CLEANED}"

    async def test_words_in_angle_brackets_are_kept_as_written(
        self, client: httpx.AsyncClient
    ) -> None:
        # "<Emergency>" is no HTML element: the owner meant it to be read, not removed.
        account = await register(client)
        welcome = "<Emergency> call 112 <b>now</b>, or write <your order number> to us"

        chatbot = await _chatbot(client, account, welcome_message=welcome)

        assert chatbot["welcome_message"] == (
            "&lt;Emergency&gt; call 112 now, or write &lt;your order number&gt; to us"
        )

    async def test_suggested_questions(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot = await _chatbot(client, account, suggested_questions=[ATTACK])
        assert chatbot["suggested_questions"] == [CLEANED]

    async def test_source_title_and_question(self, client: httpx.AsyncClient) -> None:
        account = await register(client)
        chatbot = await _chatbot(client, account)
        url = f"/v1/chatbots/{chatbot['id']}/sources"
        text = await client.post(
            url,
            json={"kind": "text", "title": ATTACK, "content": "Opening hours: 9 to 5."},
            headers=account.headers,
        )
        qa = await client.post(
            url,
            json={"kind": "qa", "question": ATTACK, "answer": "We open at nine."},
            headers=account.headers,
        )
        assert text.status_code == 201, text.text
        assert qa.status_code == 201, qa.text
        assert_clean(text.json()["title"])
        assert_clean(qa.json()["question"])


class TestConversations:
    async def test_title_on_create_and_rename(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_chat_account(app)
        chatbot = await create_chatbot(app, account)
        created = await client.post(
            f"/v1/chatbots/{chatbot.id}/conversations",
            json={"title": ATTACK},
            headers=account.headers,
        )
        assert created.status_code == 201, created.text
        renamed = await client.patch(
            f"/v1/conversations/{created.json()['id']}",
            json={"title": f"Again: {ATTACK}"},
            headers=account.headers,
        )
        assert_clean(created.json()["title"])
        assert renamed.json()["title"] == f"Again: {CLEANED}"

    async def test_title_made_from_an_anonymous_visitors_first_question(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        owner = await create_chat_account(app)
        chatbot = await create_chatbot(
            app, owner, visibility=Visibility.public, allowed_origins=[SITE]
        )
        await add_chunk(app, chatbot, "Opening hours: nine to five.", title="Hours")
        started = await client.post(
            f"/v1/public/chatbots/{chatbot.id}/conversations", headers={"Origin": SITE}
        )
        assert started.status_code == 201, started.text
        visitor = {"Authorization": f"Bearer {started.json()['visitor_token']}", "Origin": SITE}
        asked = await client.post(
            f"/v1/public/conversations/{started.json()['conversation_id']}/messages",
            json={"content": ATTACK},
            headers=visitor,
        )
        assert asked.status_code == 201, asked.text

        listed = await client.get(f"/v1/chatbots/{chatbot.id}/conversations", headers=owner.headers)

        assert_clean(listed.json()["items"][0]["title"])

    async def test_a_title_from_a_question_of_markup_characters_fits_its_column(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_chat_account(app)
        chatbot = await create_chatbot(app, account)
        conversation = await client.post(
            f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=account.headers
        )
        asked = await client.post(
            f"/v1/conversations/{conversation.json()['id']}/messages",
            json={"content": "<" * 300},
            headers=account.headers,
        )
        read = await client.get(
            f"/v1/conversations/{conversation.json()['id']}", headers=account.headers
        )
        assert asked.status_code == 201, asked.text
        title = read.json()["title"]
        assert "<" not in title
        assert 0 < len(title) <= 200

    async def test_feedback_comment(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        account = await create_chat_account(app)
        chatbot = await create_chatbot(app, account, status=ChatbotStatus.ready)
        await add_chunk(app, chatbot, "Opening hours: nine to five.", title="Hours")
        conversation = await client.post(
            f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=account.headers
        )
        answer = await client.post(
            f"/v1/conversations/{conversation.json()['id']}/messages",
            json={"content": "opening hours?"},
            headers=account.headers,
        )
        message_id = uuid.UUID(answer.json()["id"])
        feedback = await client.post(
            f"/v1/messages/{message_id}/feedback",
            json={"rating": "down", "comment": ATTACK},
            headers=account.headers,
        )
        assert feedback.status_code in (200, 201), feedback.text
        assert_clean(feedback.json()["comment"])


class TestLeadsAndHandoff:
    async def test_lead_prompt_lead_name_handoff_reason_and_agent_reply(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_chat_account(app)
        chatbot = await create_chatbot(
            app, account, visibility=Visibility.public, allowed_origins=[SITE], handoff_enabled=True
        )
        configured = await client.patch(
            f"/v1/chatbots/{chatbot.id}",
            json={"lead_capture": {"enabled": True, "fields": ["name"], "prompt": ATTACK}},
            headers=account.headers,
        )
        visit = await client.post(
            f"/v1/public/chatbots/{chatbot.id}/conversations", headers={"Origin": SITE}
        )
        conversation_id = visit.json()["conversation_id"]
        visitor = {"Authorization": f"Bearer {visit.json()['visitor_token']}", "Origin": SITE}
        public = f"/v1/public/conversations/{conversation_id}"
        lead = await client.post(f"{public}/lead", json={"name": ATTACK}, headers=visitor)
        handoff = await client.post(f"{public}/handoff", json={"reason": ATTACK}, headers=visitor)
        reply = await client.post(
            f"/v1/conversations/{conversation_id}/messages",
            json={"role": "agent", "content": ATTACK},
            headers=account.headers,
        )
        leads = await client.get(f"/v1/chatbots/{chatbot.id}/leads", headers=account.headers)
        conversation = await client.get(
            f"/v1/conversations/{conversation_id}", headers=account.headers
        )
        history = await client.get(f"{public}/messages", headers=visitor)

        assert configured.status_code == 200, configured.text
        assert_clean(configured.json()["lead_capture"]["prompt"])
        assert lead.status_code == 201 and handoff.status_code == 200, handoff.text
        assert_clean(leads.json()["items"][0]["name"])
        assert_clean(conversation.json()["handoff_reason"])
        assert reply.status_code == 201, reply.text
        assert_clean(history.json()["items"][-1]["content"])
