"""The chatbot's `handoff_enabled` setting (ADR 0033) and the visitor's way back to the
assistant: off by default, published to the widget, the visitor's hand-off refused while it is
off, and a visitor who asked for a person can end the hand-off and be answered again."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from sitechat.models import Chatbot, Visibility
from tests.fixtures.accounts import assert_problem
from tests.fixtures.chat import (
    ChatAccount,
    ScriptedAnswerer,
    add_chunk,
    answering_with,
    create_account,
    create_chatbot,
)

SITE = "https://shop.example.com"
HANDOFF_MESSAGE = "A person from our team will reply here soon."
ANSWER = "Refunds are possible within 30 days."


async def _public_bot(app: FastAPI, *, handoff_enabled: bool) -> tuple[ChatAccount, Chatbot]:
    account = await create_account(app)
    chatbot = await create_chatbot(
        app,
        account,
        visibility=Visibility.public,
        allowed_origins=[SITE],
        handoff_enabled=handoff_enabled,
    )
    await add_chunk(app, chatbot, ANSWER, title="Refunds")
    return account, chatbot


async def _visit(client: httpx.AsyncClient, chatbot: Chatbot) -> tuple[str, dict[str, str]]:
    response = await client.post(
        f"/v1/public/chatbots/{chatbot.id}/conversations", headers={"Origin": SITE}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["conversation_id"], {
        "Authorization": f"Bearer {body['visitor_token']}",
        "Origin": SITE,
    }


async def _public_config(client: httpx.AsyncClient, chatbot_id: object) -> bool:
    response = await client.get(f"/v1/public/chatbots/{chatbot_id}", headers={"Origin": SITE})
    assert response.status_code == 200, response.text
    enabled: bool = response.json()["handoff_enabled"]
    return enabled


class TestHandoffSetting:
    async def test_off_for_a_new_chatbot_and_switched_by_its_owner(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        created = await client.post(
            "/v1/chatbots",
            json={"name": "Shop", "visibility": "public", "allowed_origins": [SITE]},
            headers=account.headers,
        )
        chatbot_id = created.json()["id"]
        url = f"/v1/chatbots/{chatbot_id}"

        published_at_first = await _public_config(client, chatbot_id)
        on = await client.patch(url, json={"handoff_enabled": True}, headers=account.headers)
        read_on = await client.get(url, headers=account.headers)
        published_on = await _public_config(client, chatbot_id)
        off = await client.patch(url, json={"handoff_enabled": False}, headers=account.headers)
        published_off = await _public_config(client, chatbot_id)

        assert created.status_code == 201, created.text
        assert created.json()["handoff_enabled"] is False
        assert published_at_first is False
        assert on.status_code == 200 and on.json()["handoff_enabled"] is True
        assert read_on.json()["handoff_enabled"] is True
        assert published_on is True
        assert off.status_code == 200 and off.json()["handoff_enabled"] is False
        assert published_off is False

    async def test_the_visitors_handoff_is_refused_while_off_and_changes_nothing(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app, handoff_enabled=False)
        conversation_id, visitor = await _visit(client, chatbot)
        public = f"/v1/public/conversations/{conversation_id}"

        refused = await client.post(
            f"{public}/handoff", json={"reason": "A person please"}, headers=visitor
        )
        with answering_with(app, ScriptedAnswerer([ANSWER])):
            asked = await client.post(
                f"{public}/messages", json={"content": "refunds?"}, headers=visitor
            )
        conversation = await client.get(
            f"/v1/conversations/{conversation_id}", headers=account.headers
        )

        body = assert_problem(refused, 409, "handoff-disabled")
        assert body["detail"] == "This chatbot does not hand conversations to a person."
        # The widget can read the refusal (it hides the link).
        assert refused.headers["access-control-allow-origin"] == SITE
        assert asked.status_code == 201, asked.text
        assert asked.json()["content"] == ANSWER and asked.json()["handoff_notice"] is False
        assert conversation.json()["status"] == "active"
        assert conversation.json()["handoff_requested_at"] is None
        assert conversation.json()["handoff_reason"] is None

    async def test_malformed_values_are_refused_and_change_nothing(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app, handoff_enabled=True)
        url = f"/v1/chatbots/{chatbot.id}"

        for value in (None, "maybe", [True], {"enabled": True}, 2):
            response = await client.patch(
                url, json={"handoff_enabled": value}, headers=account.headers
            )
            assert_problem(response, 422, "validation-error")
        created = await client.post(
            "/v1/chatbots",
            json={"name": "Shop", "handoff_enabled": "sometimes"},
            headers=account.headers,
        )
        assert_problem(created, 422, "validation-error")
        read = await client.get(url, headers=account.headers)
        assert read.json()["handoff_enabled"] is True

    async def test_another_workspace_gets_404(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        _, chatbot = await _public_bot(app, handoff_enabled=False)
        stranger = await create_account(app)

        foreign = await client.patch(
            f"/v1/chatbots/{chatbot.id}", json={"handoff_enabled": True}, headers=stranger.headers
        )
        missing = await client.patch(
            f"/v1/chatbots/{uuid.uuid4()}", json={"handoff_enabled": True}, headers=stranger.headers
        )

        assert_problem(foreign, 404)
        assert foreign.json()["detail"] == missing.json()["detail"]
        assert await _public_config(client, chatbot.id) is False


class TestBackToTheAssistant:
    async def test_the_chatbot_answers_again(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        account, chatbot = await _public_bot(app, handoff_enabled=True)
        conversation_id, visitor = await _visit(client, chatbot)
        public = f"/v1/public/conversations/{conversation_id}"
        answerer = ScriptedAnswerer([ANSWER])

        with answering_with(app, answerer):
            await client.post(f"{public}/handoff", json={"reason": "Billing"}, headers=visitor)
            waiting = await client.post(
                f"{public}/messages", json={"content": "Anyone?"}, headers=visitor
            )
            back = await client.post(f"{public}/handback", headers=visitor)
            answered = await client.post(
                f"{public}/messages", json={"content": "refunds?"}, headers=visitor
            )
        conversation = await client.get(
            f"/v1/conversations/{conversation_id}", headers=account.headers
        )
        late_reply = await client.post(
            f"/v1/conversations/{conversation_id}/messages",
            json={"role": "agent", "content": "Hi, Sam here"},
            headers=account.headers,
        )

        assert waiting.json()["handoff_notice"] is True
        assert back.status_code == 200, back.text
        assert back.json() == {"conversation_id": conversation_id, "status": "active"}
        assert back.headers["access-control-allow-origin"] == SITE
        assert answered.status_code == 201, answered.text
        assert answered.json()["content"] == ANSWER
        assert answered.json()["handoff_notice"] is False
        assert answerer.questions == ["refunds?"]
        # What the owner sees: the conversation is the chatbot's again, no longer waiting.
        assert conversation.json()["status"] == "active"
        assert conversation.json()["handoff_requested_at"] is None
        assert_problem(late_reply, 409, "invalid-state-transition")

    async def test_allowed_after_the_owner_turned_handoff_off(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app, handoff_enabled=True)
        conversation_id, visitor = await _visit(client, chatbot)
        public = f"/v1/public/conversations/{conversation_id}"
        await client.post(f"{public}/handoff", headers=visitor)
        turned_off = await client.patch(
            f"/v1/chatbots/{chatbot.id}", json={"handoff_enabled": False}, headers=account.headers
        )

        back = await client.post(f"{public}/handback", headers=visitor)
        again = await client.post(f"{public}/handoff", headers=visitor)

        assert turned_off.status_code == 200, turned_off.text
        assert back.status_code == 200 and back.json()["status"] == "active"
        assert_problem(again, 409, "handoff-disabled")

    async def test_in_a_conversation_not_handed_off_it_changes_nothing(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app, handoff_enabled=False)
        conversation_id, visitor = await _visit(client, chatbot)

        back = await client.post(
            f"/v1/public/conversations/{conversation_id}/handback", headers=visitor
        )
        conversation = await client.get(
            f"/v1/conversations/{conversation_id}", headers=account.headers
        )

        assert back.status_code == 200 and back.json()["status"] == "active"
        assert conversation.json()["status"] == "active"

    async def test_only_the_visitors_own_conversation(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app, handoff_enabled=True)
        _, visitor = await _visit(client, chatbot)
        other_id, other_visitor = await _visit(client, chatbot)
        await client.post(f"/v1/public/conversations/{other_id}/handoff", headers=other_visitor)
        stranger, foreign_bot = await _public_bot(app, handoff_enabled=True)
        foreign_id, foreign_visitor = await _visit(client, foreign_bot)
        await client.post(f"/v1/public/conversations/{foreign_id}/handoff", headers=foreign_visitor)

        for conversation_id in (other_id, foreign_id, str(uuid.uuid4())):
            response = await client.post(
                f"/v1/public/conversations/{conversation_id}/handback", headers=visitor
            )
            assert_problem(response, 404)
        no_token = await client.post(f"/v1/public/conversations/{other_id}/handback")
        assert_problem(no_token, 401)
        bad_token = await client.post(
            f"/v1/public/conversations/{other_id}/handback",
            headers={"Authorization": "Bearer not-a-token", "Origin": SITE},
        )
        assert_problem(bad_token, 401)
        for owner, conversation_id in ((account, other_id), (stranger, foreign_id)):
            read = await client.get(f"/v1/conversations/{conversation_id}", headers=owner.headers)
            assert read.json()["status"] == "handoff_requested"

    async def test_malformed_requests_are_refused(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app, handoff_enabled=True)
        conversation_id, visitor = await _visit(client, chatbot)
        public = f"/v1/public/conversations/{conversation_id}"
        await client.post(f"{public}/handoff", headers=visitor)

        for bad_id in ("nope", "1 OR 1=1", "%00"):
            response = await client.post(
                f"/v1/public/conversations/{bad_id}/handback", headers=visitor
            )
            assert 400 <= response.status_code < 500, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
        wrong_origin = await client.post(
            f"{public}/handback", headers={**visitor, "Origin": "https://evil.example"}
        )
        assert_problem(wrong_origin, 403, "origin-not-allowed")
        conversation = await client.get(
            f"/v1/conversations/{conversation_id}", headers=account.headers
        )
        assert conversation.json()["status"] == "handoff_requested"
