"""The widget's display settings route, its refusals readable by the widget, and its visitor
limits per token and per address."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from sitechat.config import Settings
from sitechat.models import Chatbot, Visibility
from tests.chat.test_streaming import _receive_until_done, serving
from tests.fixtures.accounts import assert_problem
from tests.fixtures.chat import add_chunk, create_account, create_chatbot
from tests.security.conftest import asgi_client, rate_limited_settings, running_app

SITE = "https://shop.example.com"
OTHER_SITE = "https://evil.example.com"


async def _public_bot(app: FastAPI) -> Chatbot:
    chatbot = await create_chatbot(
        app, await create_account(app), visibility=Visibility.public, allowed_origins=[SITE]
    )
    await add_chunk(app, chatbot, "Run python -m venv to create a virtual environment.")
    return chatbot


async def _visit(http: httpx.AsyncClient, chatbot: Chatbot) -> tuple[str, dict[str, str]]:
    response = await http.post(
        f"/v1/public/chatbots/{chatbot.id}/conversations", headers={"Origin": SITE}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["conversation_id"], {"Authorization": f"Bearer {body['visitor_token']}"}


class TestPublicChatbotSettings:
    async def test_allowed_origin_reads_the_display_settings(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(
            app, account, visibility=Visibility.public, allowed_origins=[SITE]
        )
        await client.patch(
            f"/v1/chatbots/{chatbot.id}",
            json={
                "welcome_message": "Hi & welcome",
                "suggested_questions": ["Prices?"],
                "theme": {"primary_color": "#AA00ff", "position": "left"},
            },
            headers=account.headers,
        )

        response = await client.get(f"/v1/public/chatbots/{chatbot.id}", headers={"Origin": SITE})

        assert response.status_code == 200
        assert response.json() == {
            "id": str(chatbot.id),
            "name": "Docs bot",
            "welcome_message": "Hi &amp; welcome",  # stored escaped: the display-text rule
            "suggested_questions": ["Prices?"],
            "theme": {
                "primary_color": "#aa00ff",
                "position": "left",
                "launcher_text": "Ask a question",
                "avatar_url": None,
            },
            "lead_capture": {
                "enabled": False,
                "fields": ["email"],
                "when": "on_fallback",
                "after_messages": None,
                "prompt": "Leave your contact and we will get back to you.",
            },
            "handoff_enabled": False,
        }
        assert response.headers["access-control-allow-origin"] == SITE
        assert "max-age=60" in response.headers["cache-control"]
        # Nothing of the workspace or the chatbot's configuration leaks.
        assert "instructions" not in response.text and "workspace_id" not in response.text

    async def test_without_a_welcome_message_the_widget_greets_as_the_chat_does(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)
        conversation_id, visitor = await _visit(client, chatbot)

        config = await client.get(f"/v1/public/chatbots/{chatbot.id}", headers={"Origin": SITE})
        greeted = await client.post(
            f"/v1/public/conversations/{conversation_id}/messages",
            json={"content": "hi"},
            headers={**visitor, "Origin": SITE},
        )

        assert config.json()["welcome_message"] == "Hello! What would you like to know?"
        assert greeted.json()["content"] == config.json()["welcome_message"]

    async def test_lead_capture_settings_are_shown_and_nothing_else_private(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(
            app, account, visibility=Visibility.public, allowed_origins=[SITE]
        )
        patched = await client.patch(
            f"/v1/chatbots/{chatbot.id}",
            json={
                "lead_capture": {
                    "enabled": True,
                    "fields": ["name", "email"],
                    "when": "after_messages",
                    "after_messages": 2,
                    "prompt": "Tips & news by email?",
                },
                "handoff_message": "Private hand-off words",
                "instructions": "Secret instructions",
            },
            headers=account.headers,
        )
        assert patched.status_code == 200, patched.text

        response = await client.get(f"/v1/public/chatbots/{chatbot.id}", headers={"Origin": SITE})

        assert response.status_code == 200
        assert response.json()["lead_capture"] == {
            "enabled": True,
            "fields": ["name", "email"],
            "when": "after_messages",
            "after_messages": 2,
            "prompt": "Tips &amp; news by email?",  # stored escaped: the display-text rule
        }
        for private in ("Secret instructions", "Private hand-off words", "fallback_message"):
            assert private not in response.text

    async def test_other_origin_is_refused_without_the_settings(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)

        response = await client.get(
            f"/v1/public/chatbots/{chatbot.id}", headers={"Origin": OTHER_SITE}
        )

        body = assert_problem(response, 403, "origin-not-allowed")
        assert "name" not in body
        # The refusal is readable there, so the widget can say why it is not available.
        assert response.headers["access-control-allow-origin"] == OTHER_SITE

    async def test_request_without_origin_gets_no_cors(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)

        response = await client.get(f"/v1/public/chatbots/{chatbot.id}")

        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers

    async def test_private_missing_and_other_workspaces_chatbots_are_404(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        other_workspace_private = await create_chatbot(
            app, await create_account(app), allowed_origins=[SITE]
        )

        for chatbot_id in (other_workspace_private.id, uuid.uuid4()):
            response = await client.get(
                f"/v1/public/chatbots/{chatbot_id}", headers={"Origin": SITE}
            )
            assert_problem(response, 404, "not-found")

    async def test_malformed_id_is_a_validation_problem(self, client: httpx.AsyncClient) -> None:
        for path in ("/v1/public/chatbots/not-an-id", "/v1/public/chatbots/%00"):
            response = await client.get(path, headers={"Origin": SITE})
            assert_problem(response, 422, "validation-error")
            assert response.headers["access-control-allow-origin"] == SITE

    async def test_unknown_query_parameter_is_refused(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)

        response = await client.get(
            f"/v1/public/chatbots/{chatbot.id}?theme=dark", headers={"Origin": SITE}
        )

        assert_problem(response, 422, "validation-error")


class TestRefusalsTheWidgetCanRead:
    async def test_invalid_visitor_token_401_carries_cors(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)
        conversation_id, token = await _visit(client, chatbot)
        expired = {"Authorization": token["Authorization"][:-4] + "AAAA"}

        response = await client.get(
            f"/v1/public/conversations/{conversation_id}/messages",
            headers={**expired, "Origin": SITE},
        )

        assert_problem(response, 401)
        assert response.headers["access-control-allow-origin"] == SITE

    async def test_preflight_of_a_history_read_with_its_query(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)
        conversation_id, _ = await _visit(client, chatbot)

        response = await client.options(
            f"/v1/public/conversations/{conversation_id}/messages?order=desc&limit=50",
            headers={"Origin": SITE, "Access-Control-Request-Method": "GET"},
        )

        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == SITE


class TestVisitorLimits:
    async def test_a_visitor_token_has_its_own_bucket_across_addresses(
        self, settings: Settings
    ) -> None:
        limited = rate_limited_settings(settings, public_widget="3/minute")
        async with running_app(limited) as app:
            chatbot = await _public_bot(app)
            async with asgi_client(app, peer="198.51.100.1") as first_address:
                conversation_id, token = await _visit(first_address, chatbot)
            url = f"/v1/public/conversations/{conversation_id}/messages"
            async with asgi_client(app, peer="198.51.100.2") as second_address:
                for _ in range(3):
                    assert (await second_address.get(url, headers=token)).status_code == 200
                denied = await second_address.get(url, headers={**token, "Origin": SITE})
            async with asgi_client(app, peer="198.51.100.3") as third_address:
                same_token = await third_address.get(url, headers=token)
                no_token = await third_address.get(
                    f"/v1/public/chatbots/{chatbot.id}", headers={"Origin": SITE}
                )

        assert_problem(denied, 429, "rate-limited")
        # The widget reads how long to wait.
        assert denied.headers["access-control-allow-origin"] == SITE
        assert "Retry-After" in denied.headers["access-control-expose-headers"]
        assert 1 <= int(denied.headers["retry-after"]) <= 60
        # The token's bucket is spent wherever it comes from; the new address is not.
        assert_problem(same_token, 429, "rate-limited")
        assert no_token.status_code == 200

    async def test_an_address_is_limited_across_tokens_and_streams(
        self, settings: Settings
    ) -> None:
        limited = rate_limited_settings(settings, public_widget="4/minute")
        async with running_app(limited) as app:
            chatbot = await _public_bot(app)
            async with asgi_client(app, peer="198.51.100.9") as http:
                first_id, first_token = await _visit(http, chatbot)
                second_id, second_token = await _visit(http, chatbot)
                streamed = await http.post(
                    f"/v1/public/conversations/{first_id}/messages",
                    json={"content": "python venv", "stream": True},
                    headers=first_token,
                )
                read = await http.get(
                    f"/v1/public/conversations/{second_id}/messages", headers=second_token
                )
                denied_stream = await http.post(
                    f"/v1/public/conversations/{second_id}/messages",
                    json={"content": "python venv", "stream": True},
                    headers=second_token,
                )

        assert "event: done" in streamed.text
        assert read.status_code == 200
        assert_problem(denied_stream, 429, "rate-limited")


async def _socket_close_code(url: str, origin: str | None) -> int | None:
    headers = {"Origin": origin} if origin else {}
    async with connect(url, additional_headers=headers) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), timeout=5)
        return ws.close_code


class TestVisitorOnTheWebSocket:
    async def test_visitor_token_from_another_origin_closes_4403(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        chatbot = await _public_bot(app)
        conversation_id, token = await _visit(client, chatbot)
        raw_token = token["Authorization"].removeprefix("Bearer ")

        async with serving(app) as base:
            url = f"{base}/v1/conversations/{conversation_id}/ws?token={raw_token}"
            refused = await _socket_close_code(url, OTHER_SITE)
            async with connect(url, additional_headers={"Origin": SITE}) as ws:
                await ws.send(json.dumps({"type": "question", "content": "python venv?"}))
                events = await _receive_until_done(ws)

        assert refused == 4403
        assert events[-1]["type"] == "done"

    async def test_questions_on_a_socket_count_against_the_visitor_limits(
        self, settings: Settings
    ) -> None:
        # Two a minute: the token's bucket takes the connect and each question.
        limited = rate_limited_settings(settings, public_widget="2/minute")
        async with running_app(limited) as app:
            chatbot = await _public_bot(app)
            async with asgi_client(app, peer="198.51.100.20") as http:
                conversation_id, token = await _visit(http, chatbot)
            raw_token = token["Authorization"].removeprefix("Bearer ")
            async with serving(app) as base:
                url = f"{base}/v1/conversations/{conversation_id}/ws?token={raw_token}"
                async with connect(url, additional_headers={"Origin": SITE}) as ws:  # 1 of 2
                    await ws.send(json.dumps({"type": "question", "content": "python venv?"}))
                    answered = await _receive_until_done(ws)  # 2 of 2
                    await ws.send(json.dumps({"type": "question", "content": "python venv?"}))
                    refused = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
                    # The socket stays open after a refusal.
                    await ws.send("not json")
                    still_open = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
                reconnect = await _socket_close_code(url, SITE)

        assert answered[-1]["type"] == "done"
        assert refused["type"] == "error" and refused["code"] == "rate-limited"
        assert 1 <= refused["retry_after"] <= 60
        assert still_open["code"] == "validation-error"
        assert reconnect == 4429
