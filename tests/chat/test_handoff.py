"""Hand-off to a person: the chatbot stops answering, people reply as `agent`, the visitor
sees their replies, and handing back lets the chatbot answer again."""

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
    create_api_key,
    create_chatbot,
    usage_events,
)

SITE = "https://shop.example.com"
HANDOFF_MESSAGE = "A person from our team will reply here soon."


async def _public_bot(app: FastAPI) -> tuple[ChatAccount, Chatbot]:
    account = await create_account(app)
    chatbot = await create_chatbot(
        app, account, visibility=Visibility.public, allowed_origins=[SITE], handoff_enabled=True
    )
    await add_chunk(app, chatbot, "Refunds are possible within 30 days.", title="Refunds")
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


class TestVisitorHandoff:
    async def test_the_bot_stops_answering_and_a_person_replies(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app)
        conversation_id, visitor = await _visit(client, chatbot)
        public = f"/v1/public/conversations/{conversation_id}"
        answerer = ScriptedAnswerer(["Refunds are possible within 30 days."])

        with answering_with(app, answerer):
            asked = await client.post(
                f"{public}/messages", json={"content": "refunds?"}, headers=visitor
            )
            handoff = await client.post(
                f"{public}/handoff", json={"reason": "<b>Talk</b> to a human"}, headers=visitor
            )
            waiting = await client.post(
                f"{public}/messages", json={"content": "Hello, anyone?"}, headers=visitor
            )
            streamed = await client.post(
                f"{public}/messages",
                json={"content": "Still there?", "stream": True},
                headers=visitor,
            )
        reply = await client.post(
            f"/v1/conversations/{conversation_id}/messages",
            json={"role": "agent", "content": "Hi, I'm Sam. <script>x()</script>How can I help?"},
            headers=account.headers,
        )
        history = await client.get(f"{public}/messages", headers=visitor)
        conversation = await client.get(
            f"/v1/conversations/{conversation_id}", headers=account.headers
        )

        assert asked.status_code == 201 and asked.json()["handoff_notice"] is False
        assert handoff.status_code == 200, handoff.text
        assert handoff.json()["status"] == "handoff_requested"
        assert handoff.json()["message"] == HANDOFF_MESSAGE
        assert handoff.headers["access-control-allow-origin"] == SITE
        assert waiting.status_code == 201
        assert waiting.json()["content"] == HANDOFF_MESSAGE
        assert waiting.json()["handoff_notice"] is True and waiting.json()["citations"] == []
        assert HANDOFF_MESSAGE in streamed.text and "event: done" in streamed.text
        assert answerer.questions == ["refunds?"]  # the model never saw the later ones
        assert reply.status_code == 201, reply.text
        assert reply.json()["role"] == "agent"
        assert reply.json()["content"] == "Hi, I'm Sam. How can I help?"
        roles = [(m["role"], m["handoff_notice"]) for m in history.json()["items"]]
        assert roles == [
            ("user", False), ("assistant", False),
            ("user", False), ("assistant", True),
            ("user", False), ("assistant", True),
            ("agent", False),
        ]  # fmt: skip
        assert conversation.json()["status"] == "handoff_requested"
        assert conversation.json()["handoff_reason"] == "Talk to a human"
        # Only the answered question was counted against the plan.
        assert len(await usage_events(app, account.workspace_id)) == 1

    async def test_a_paused_chatbot_still_passes_messages_to_people(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app)
        conversation_id, visitor = await _visit(client, chatbot)
        public = f"/v1/public/conversations/{conversation_id}"
        await client.post(f"{public}/handoff", headers=visitor)
        paused = await client.patch(
            f"/v1/chatbots/{chatbot.id}", json={"status": "paused"}, headers=account.headers
        )

        asked = await client.post(f"{public}/messages", json={"content": "Hi?"}, headers=visitor)

        assert paused.status_code == 200, paused.text
        assert asked.status_code == 201, asked.text
        assert asked.json()["handoff_notice"] is True

    async def test_asking_again_changes_nothing(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        _, chatbot = await _public_bot(app)
        conversation_id, visitor = await _visit(client, chatbot)
        url = f"/v1/public/conversations/{conversation_id}/handoff"

        first = await client.post(url, headers=visitor)
        again = await client.post(url, json={"reason": "please"}, headers=visitor)

        assert first.status_code == again.status_code == 200
        assert again.json()["handoff_requested_at"] == first.json()["handoff_requested_at"]

    async def test_only_the_visitors_own_conversation(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app)
        _, visitor = await _visit(client, chatbot)
        other_id, _ = await _visit(client, chatbot)

        for conversation_id in (other_id, str(uuid.uuid4())):
            response = await client.post(
                f"/v1/public/conversations/{conversation_id}/handoff", headers=visitor
            )
            assert_problem(response, 404)
        no_token = await client.post(f"/v1/public/conversations/{other_id}/handoff")
        assert_problem(no_token, 401)
        other = await client.get(f"/v1/conversations/{other_id}", headers=account.headers)
        assert other.json()["status"] == "active"

    async def test_malformed_bodies_are_refused(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app)
        conversation_id, visitor = await _visit(client, chatbot)
        url = f"/v1/public/conversations/{conversation_id}/handoff"

        for body in ({"reason": 5}, {"reason": "x" * 3000}, {"urgent": True}, ["reason"]):
            response = await client.post(url, json=body, headers=visitor)
            assert_problem(response, 422, "validation-error")
        conversation = await client.get(
            f"/v1/conversations/{conversation_id}", headers=account.headers
        )
        assert conversation.json()["status"] == "active"


class TestMemberHandoff:
    async def test_hand_off_reply_and_hand_back(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app)
        key = await create_api_key(app, account)
        created = await client.post(
            f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=account.headers
        )
        conversation_id = created.json()["id"]
        base = f"/v1/conversations/{conversation_id}"

        too_early = await client.post(
            f"{base}/messages", json={"role": "agent", "content": "Hi"}, headers=account.headers
        )
        handed = await client.post(
            f"{base}/handoff", json={"reason": "VIP"}, headers={"Authorization": f"Bearer {key}"}
        )
        by_key = await client.post(
            f"{base}/messages",
            json={"role": "agent", "content": "Replied by the helpdesk integration"},
            headers={"Authorization": f"Bearer {key}"},
        )
        back = await client.post(f"{base}/handback", headers=account.headers)
        with answering_with(app, ScriptedAnswerer(["Within 30 days."])):
            answered = await client.post(
                f"{base}/messages", json={"content": "refunds?"}, headers=account.headers
            )

        assert_problem(too_early, 409, "invalid-state-transition")
        assert handed.status_code == 200 and handed.json()["status"] == "handoff_requested"
        assert handed.json()["handoff_reason"] == "VIP"
        assert by_key.status_code == 201 and by_key.json()["role"] == "agent"
        assert back.status_code == 200 and back.json()["status"] == "active"
        assert back.json()["handoff_requested_at"] is None
        assert answered.status_code == 201
        assert answered.json()["content"] == "Within 30 days."
        assert answered.json()["handoff_notice"] is False

    async def test_conversations_waiting_for_a_person_are_listed(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app)
        waiting_id, visitor = await _visit(client, chatbot)
        await _visit(client, chatbot)
        await client.post(f"/v1/public/conversations/{waiting_id}/handoff", headers=visitor)
        url = f"/v1/chatbots/{chatbot.id}/conversations"

        waiting = await client.get(
            url, params={"status": "handoff_requested"}, headers=account.headers
        )
        everything = await client.get(url, headers=account.headers)
        bad = await client.get(url, params={"status": "closed"}, headers=account.headers)

        assert [item["id"] for item in waiting.json()["items"]] == [waiting_id]
        assert len(everything.json()["items"]) == 2
        assert_problem(bad, 422, "validation-error")

    async def test_another_workspace_gets_404(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app)
        stranger = await create_account(app)
        created = await client.post(
            f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=account.headers
        )
        base = f"/v1/conversations/{created.json()['id']}"

        for path, body in (
            (f"{base}/handoff", {}),
            (f"{base}/handback", None),
            (f"{base}/messages", {"role": "agent", "content": "Hi"}),
        ):
            response = await client.post(path, json=body, headers=stranger.headers)
            assert_problem(response, 404)
        conversation = await client.get(base, headers=account.headers)
        assert conversation.json()["status"] == "active"

    async def test_malformed_agent_replies_are_refused(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account, chatbot = await _public_bot(app)
        created = await client.post(
            f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=account.headers
        )
        base = f"/v1/conversations/{created.json()['id']}"
        await client.post(f"{base}/handoff", headers=account.headers)

        for body in (
            {"role": "system", "content": "Hi"},
            {"role": "agent", "content": "<script>only markup</script>"},
            {"role": "agent", "content": "Hi", "stream": True},
            {"role": "agent", "content": "bell\u0007"},
            {"role": "agent"},
        ):
            response = await client.post(f"{base}/messages", json=body, headers=account.headers)
            assert_problem(response, 422, "validation-error")
        bad_handoff = await client.post(
            f"{base}/handoff", json={"reason": ["x"]}, headers=account.headers
        )
        assert_problem(bad_handoff, 422, "validation-error")
        for path in ("/v1/conversations/nope/handoff", "/v1/conversations/nope/handback"):
            assert_problem(await client.post(path, headers=account.headers), 422)
        messages = await client.get(f"{base}/messages", headers=account.headers)
        assert messages.json()["items"] == []
