"""The widget's public routes: public chatbots only, allowed origins only, one conversation."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from sitechat.models import Chatbot, Visibility
from sitechat.models.chat import Conversation
from tests.fixtures.chat import add_chunk, create_account, create_chatbot

SITE = "https://shop.example.com"
VENV_TEXT = "To create a virtual environment, run python -m venv followed by a directory name."


async def _public_bot(app: FastAPI) -> Chatbot:
    chatbot = await create_chatbot(
        app, await create_account(app), visibility=Visibility.public, allowed_origins=[SITE]
    )
    await add_chunk(app, chatbot, VENV_TEXT, title="Venv")
    return chatbot


async def _visit(client: httpx.AsyncClient, chatbot: Chatbot) -> tuple[str, dict[str, str]]:
    response = await client.post(
        f"/v1/public/chatbots/{chatbot.id}/conversations", headers={"Origin": SITE}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["conversation_id"], {"Authorization": f"Bearer {body['visitor_token']}"}


class TestStartConversation:
    async def test_allowed_origin_gets_a_token_and_cors_headers(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)

        response = await client.post(
            f"/v1/public/chatbots/{chatbot.id}/conversations", headers={"Origin": SITE}
        )

        assert response.status_code == 201
        assert response.json()["expires_in"] > 0
        assert response.headers["access-control-allow-origin"] == SITE
        assert "Origin" in response.headers["vary"]

    async def test_wrong_or_missing_origin_is_403_and_starts_nothing(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)
        url = f"/v1/public/chatbots/{chatbot.id}/conversations"

        wrong = await client.post(url, headers={"Origin": "https://evil.example.com"})
        missing = await client.post(url)

        for response in (wrong, missing):
            assert response.status_code == 403
            assert response.json()["type"].endswith("/origin-not-allowed")
            assert "visitor_token" not in response.text
        # The refusal (never a token) is readable there, so the widget can say it is refused.
        assert wrong.headers["access-control-allow-origin"] == "https://evil.example.com"
        assert "access-control-allow-origin" not in missing.headers
        async with app.state.sessionmaker() as session:
            started = await session.scalar(
                select(func.count())
                .select_from(Conversation)
                .where(Conversation.chatbot_id == chatbot.id)
            )
        assert started == 0

    async def test_private_chatbot_is_404(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        chatbot = await create_chatbot(app, await create_account(app), allowed_origins=[SITE])

        response = await client.post(
            f"/v1/public/chatbots/{chatbot.id}/conversations", headers={"Origin": SITE}
        )

        assert response.status_code == 404

    async def test_preflight_answers_allowed_origins_only(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)
        conversation_id, _ = await _visit(client, chatbot)
        preflight = {"Access-Control-Request-Method": "POST"}

        for url in (
            f"/v1/public/chatbots/{chatbot.id}/conversations",
            f"/v1/public/conversations/{conversation_id}/messages",
        ):
            allowed = await client.options(url, headers={**preflight, "Origin": SITE})
            refused = await client.options(url, headers={**preflight, "Origin": "https://x.test"})
            assert allowed.status_code == 204
            assert allowed.headers["access-control-allow-origin"] == SITE
            assert "POST" in allowed.headers["access-control-allow-methods"]
            assert "Authorization" in allowed.headers["access-control-allow-headers"]
            assert refused.status_code == 403
            assert "access-control-allow-origin" not in refused.headers


class TestVisitorToken:
    async def test_visitor_asks_streams_and_reads_their_conversation(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)
        conversation_id, token = await _visit(client, chatbot)
        url = f"/v1/public/conversations/{conversation_id}/messages"

        answer = await client.post(
            url, json={"content": "virtual environment?"}, headers={**token, "Origin": SITE}
        )
        streamed = await client.post(
            url, json={"content": "python venv", "stream": True}, headers=token
        )
        listed = await client.get(url, headers={**token, "Origin": SITE})

        assert answer.status_code == 201
        assert "python -m venv" in answer.json()["content"]
        assert answer.headers["access-control-allow-origin"] == SITE
        assert "event: done" in streamed.text
        assert [item["role"] for item in listed.json()["items"]] == ["user", "assistant"] * 2

    async def test_token_opens_only_its_own_conversation(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)
        _, token = await _visit(client, chatbot)
        other_id, _ = await _visit(client, chatbot)

        other = await client.get(f"/v1/public/conversations/{other_id}/messages", headers=token)
        ask_other = await client.post(
            f"/v1/public/conversations/{other_id}/messages", json={"content": "hi"}, headers=token
        )
        member_route = await client.get(f"/v1/conversations/{other_id}", headers=token)
        no_token = await client.get(f"/v1/public/conversations/{other_id}/messages")

        assert other.status_code == 404
        assert ask_other.status_code == 404
        assert member_route.status_code == 401
        assert no_token.status_code == 401

    async def test_chatbot_made_private_closes_the_widget(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)
        conversation_id, token = await _visit(client, chatbot)
        async with app.state.sessionmaker() as session, session.begin():
            (await session.get(Chatbot, chatbot.id)).visibility = Visibility.private  # type: ignore[union-attr]

        response = await client.get(
            f"/v1/public/conversations/{conversation_id}/messages", headers=token
        )

        assert response.status_code == 404

    async def test_wrong_origin_with_a_valid_token_is_403(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)
        conversation_id, token = await _visit(client, chatbot)

        response = await client.post(
            f"/v1/public/conversations/{conversation_id}/messages",
            json={"content": "virtual environment?"},
            headers={**token, "Origin": "https://evil.example.com"},
        )

        assert response.status_code == 403
