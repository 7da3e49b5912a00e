"""Streaming answers: SSE events and storage, disconnects, pings, failures, and the WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import update
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from sitechat.chat.answerer import AnswerError, Usage
from sitechat.models.chatbots import Chatbot, ChatbotStatus
from tests.fixtures.chat import (
    ChatAccount,
    ScriptedAnswerer,
    add_chunk,
    answering_with,
    chat_runtime_with,
    create_account,
    create_api_key,
    create_chatbot,
    usage_events,
)

VENV_TEXT = "To create a virtual environment, run python -m venv followed by a directory name."


def parse_sse(body: str) -> list[tuple[str, Any]]:
    events = []
    for frame in body.strip().split("\n\n"):
        if frame.startswith(":"):
            events.append(("ping", None))
            continue
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def _ready_conversation(app: FastAPI, client: httpx.AsyncClient, account: ChatAccount) -> str:
    chatbot = await create_chatbot(app, account)
    await add_chunk(app, chatbot, VENV_TEXT, title="Venv", url="https://docs.example.com/venv")
    response = await client.post(
        f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=account.headers
    )
    return str(response.json()["id"])


async def _messages(client: httpx.AsyncClient, account: ChatAccount, conversation_id: str) -> Any:
    response = await client.get(
        f"/v1/conversations/{conversation_id}/messages?order=asc", headers=account.headers
    )
    return response.json()["items"]


class TestServerSentEvents:
    @pytest.mark.parametrize("how", ["body", "accept"])
    async def test_event_sequence_and_stored_answer(
        self, app: FastAPI, client: httpx.AsyncClient, how: str
    ) -> None:
        account = await create_account(app)
        conversation_id = await _ready_conversation(app, client, account)
        body: dict[str, Any] = {"content": "How do I create a virtual environment?"}
        headers = dict(account.headers)
        if how == "body":
            body["stream"] = True
        else:
            headers["Accept"] = "text/event-stream"

        response = await client.post(
            f"/v1/conversations/{conversation_id}/messages", json=body, headers=headers
        )

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(response.text)
        names = [name for name, _ in events]
        assert names[0] == "message_start"
        assert set(names[1:-2]) == {"delta"}
        assert names[-2:] == ["citations", "done"]
        start, done = events[0][1], events[-1][1]
        assert start["conversation_id"] == conversation_id
        assert done["message_id"] == start["assistant_message_id"]
        assert done["fallback"] is False
        text = "".join(data["text"] for name, data in events if name == "delta")
        assert events[-2][1]["citations"][0]["url"] == "https://docs.example.com/venv"
        stored = await _messages(client, account, conversation_id)
        assert [message["id"] for message in stored] == [
            start["user_message_id"],
            start["assistant_message_id"],
        ]
        assert stored[1]["content"] == text
        assert stored[1]["status"] == "complete"
        assert len(await usage_events(app, account.workspace_id)) == 1

    async def test_model_failure_is_an_error_event_and_a_failed_message(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        conversation_id = await _ready_conversation(app, client, account)
        answerer = ScriptedAnswerer(["Partly "], error=AnswerError("llm-timeout"))

        with answering_with(app, answerer):
            response = await client.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"content": "virtual environment", "stream": True},
                headers=account.headers,
            )

        events = parse_sse(response.text)
        assert [name for name, _ in events] == ["message_start", "delta", "error"]
        assert events[-1][1]["code"] == "llm-timeout"
        stored = (await _messages(client, account, conversation_id))[1]
        assert (stored["status"], stored["error_code"]) == ("failed", "llm-timeout")
        assert await usage_events(app, account.workspace_id) == []

    async def test_model_failure_without_streaming_is_a_problem(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        conversation_id = await _ready_conversation(app, client, account)

        with answering_with(app, ScriptedAnswerer([], error=AnswerError("llm-unavailable"))):
            response = await client.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"content": "virtual environment"},
                headers=account.headers,
            )

        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/llm-unavailable")
        stored = await _messages(client, account, conversation_id)
        assert [message["status"] for message in stored] == ["complete", "failed"]

    async def test_quiet_answerer_gets_keepalive_pings(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        conversation_id = await _ready_conversation(app, client, account)
        answerer = ScriptedAnswerer(["Slow."], stall_seconds=0.3)
        with chat_runtime_with(app, answerer=answerer, keepalive_seconds=0.05):
            response = await client.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"content": "virtual environment", "stream": True},
                headers=account.headers,
            )

        names = [name for name, _ in parse_sse(response.text)]
        assert names.count("ping") >= 2
        assert names[-1] == "done"

    async def test_client_leaving_mid_stream_keeps_a_partial_answer(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        conversation_id = await _ready_conversation(app, client, account)
        body = json.dumps({"content": "virtual environment", "stream": True}).encode()
        first_delta_sent = asyncio.Event()
        requests = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if requests:
                return requests.pop(0)
            await first_delta_sent.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if b"event: delta" in message.get("body", b""):
                first_delta_sent.set()

        path = f"/v1/conversations/{conversation_id}/messages"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"authorization", account.headers["Authorization"].encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }

        with answering_with(app, ScriptedAnswerer(["Half an ", "answer"], stall_seconds=5)):
            await asyncio.wait_for(app(scope, receive, send), timeout=3)

        stored = (await _messages(client, account, conversation_id))[1]
        assert stored["status"] == "partial"
        assert stored["content"] == "Half an answer"
        follow_up = await client.post(
            f"/v1/conversations/{conversation_id}/messages",
            json={"content": "virtual environment"},
            headers=account.headers,
        )
        assert follow_up.status_code == 201


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real loopback socket (the app's lifespan is already running)."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(5):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers only a flag
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=5)


async def _receive_until_done(socket: Any) -> list[dict[str, Any]]:
    events = []
    async with asyncio.timeout(5):
        while not events or events[-1]["type"] not in ("done", "error"):
            events.append(json.loads(await socket.recv()))
    return events


class TestWebSocket:
    async def test_question_and_answer_events(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        conversation_id = await _ready_conversation(app, client, account)
        key = await create_api_key(app, account)

        async with serving(app) as base:
            url = f"{base}/v1/conversations/{conversation_id}/ws"
            async with connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
                await ws.send("not json")
                assert json.loads(await ws.recv())["type"] == "error"
                await ws.send(json.dumps({"type": "question", "content": "virtual environment?"}))
                events = await _receive_until_done(ws)
            async with connect(f"{url}?token={account.access_token}") as ws:
                await ws.send(json.dumps({"type": "question", "content": "python venv"}))
                second = await _receive_until_done(ws)

        types = [event["type"] for event in events]
        assert types[0] == "message_start"
        assert types[-2:] == ["citations", "done"]
        assert "delta" in types
        assert second[-1]["type"] == "done"
        stored = await _messages(client, account, conversation_id)
        assert [message["role"] for message in stored] == ["user", "assistant"] * 2
        assert stored[1]["status"] == "complete"

    async def test_bad_credentials_close_4401_and_foreign_conversations_4404(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        owner = await create_account(app)
        conversation_id = await _ready_conversation(app, client, owner)
        stranger = await create_account(app)

        async def close_code(path: str) -> int | None:
            async with connect(f"{base}{path}") as ws:
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), timeout=5)
                return ws.close_code

        async with serving(app) as base:
            ws_path = f"/v1/conversations/{conversation_id}/ws"
            assert await close_code(ws_path) == 4401
            assert await close_code(f"{ws_path}?token=garbage") == 4401
            assert await close_code(f"{ws_path}?token=sk_000000000000_nope") == 4401
            assert await close_code(f"{ws_path}?token={stranger.access_token}") == 4404
            assert (
                await close_code(f"/v1/conversations/{uuid.uuid4()}/ws?token={owner.access_token}")
                == 4404
            )
            assert await close_code(f"/v1/conversations/nope/ws?token={owner.access_token}") == 4404

    async def test_a_key_revoked_while_the_socket_is_open_ends_it(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        conversation_id = await _ready_conversation(app, client, account)
        key = await create_api_key(app, account)
        question = json.dumps({"type": "question", "content": "python venv"})

        async with serving(app) as base:
            url = f"{base}/v1/conversations/{conversation_id}/ws?token={key}"
            async with connect(url) as ws:
                await ws.send(question)
                answered = await _receive_until_done(ws)
                keys = await client.get("/v1/api-keys", headers=account.headers)
                (key_id,) = [item["id"] for item in keys.json()["items"]]
                revoked = await client.delete(f"/v1/api-keys/{key_id}", headers=account.headers)
                await ws.send(question)
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), timeout=5)

        assert answered[-1]["type"] == "done"
        assert revoked.status_code == 204, revoked.text
        assert ws.close_code == 4401
        # The refused question was neither stored nor counted.
        assert len(await _messages(client, account, conversation_id)) == 2
        assert len(await usage_events(app, account.workspace_id)) == 1

    async def test_a_refused_question_gets_an_error_frame_and_the_socket_stays_open(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        # The credential and the question share one transaction: a refusal of the question
        # itself (here a paused chatbot's 409) is a frame, unlike a refused credential.
        account = await create_account(app)
        chatbot = await create_chatbot(app, account, status=ChatbotStatus.paused)
        await add_chunk(app, chatbot, VENV_TEXT, title="Venv", url="https://docs.example.com/venv")
        created = await client.post(
            f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=account.headers
        )
        conversation_id = created.json()["id"]
        question = json.dumps({"type": "question", "content": "python venv"})

        async with serving(app) as base:
            url = f"{base}/v1/conversations/{conversation_id}/ws?token={account.access_token}"
            async with connect(url) as ws:
                await ws.send(question)
                refused = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
                async with app.state.sessionmaker() as session, session.begin():
                    await session.execute(
                        update(Chatbot)
                        .where(Chatbot.id == chatbot.id)
                        .values(status=ChatbotStatus.ready)
                    )
                await ws.send(question)
                events = await _receive_until_done(ws)

        assert refused["type"] == "error"
        assert refused["code"] == "chatbot-not-ready"
        assert events[-1]["type"] == "done"
        stored = await _messages(client, account, conversation_id)
        assert [message["role"] for message in stored] == ["user", "assistant"]

    async def test_a_nul_character_gets_an_error_frame_and_the_socket_stays_open(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        conversation_id = await _ready_conversation(app, client, account)

        async with serving(app) as base:
            url = f"{base}/v1/conversations/{conversation_id}/ws?token={account.access_token}"
            async with connect(url) as ws:
                await ws.send(json.dumps({"type": "question", "content": "virtual\u0000env"}))
                error = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
                # The same socket still answers the next question.
                await ws.send(json.dumps({"type": "question", "content": "virtual environment"}))
                events = await _receive_until_done(ws)

        assert error["type"] == "error"
        assert error["code"] == "validation-error"
        assert events[-1]["type"] == "done"
        stored = await _messages(client, account, conversation_id)
        assert [message["content"] for message in stored][:1] == ["virtual environment"]


class TestUsageFromModel:
    async def test_tokens_reported_by_the_model_are_stored(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        conversation_id = await _ready_conversation(app, client, account)
        answerer = ScriptedAnswerer(["Run venv [1]."], usage=Usage(120, 7, "gpt-test"))

        with answering_with(app, answerer):
            response = await client.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"content": "virtual environment"},
                headers=account.headers,
            )

        assert response.json()["usage"] == {
            "prompt_tokens": 120,
            "completion_tokens": 7,
            "total_tokens": 127,
        }
        (event,) = await usage_events(app, account.workspace_id)
        assert (event.prompt_tokens, event.completion_tokens) == (120, 7)
