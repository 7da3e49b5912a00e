"""Conversations and messages over REST: answers with citations, tenancy, usage, feedback."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from sitechat.chat.repository import record_message_usage
from sitechat.core.clock import utcnow
from sitechat.models import Chatbot, ChatbotStatus
from tests.fixtures.chat import (
    FALLBACK,
    ChatAccount,
    add_chunk,
    create_account,
    create_api_key,
    create_chatbot,
    usage_events,
)

VENV_TEXT = "To create a virtual environment, run python -m venv followed by a directory name."


async def _bot_with_docs(app: FastAPI, account: ChatAccount) -> tuple[Chatbot, uuid.UUID]:
    chatbot = await create_chatbot(app, account)
    chunk_id = await add_chunk(
        app, chatbot, VENV_TEXT, title="Virtual environments", url="https://docs.example.com/venv"
    )
    await add_chunk(app, chatbot, "Dictionaries map keys to values.", title="Data structures")
    return chatbot, chunk_id


async def _conversation(client: httpx.AsyncClient, account: ChatAccount, chatbot: Chatbot) -> str:
    response = await client.post(
        f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _change(
    client: httpx.AsyncClient, account: ChatAccount, chatbot: Chatbot, **fields: str
) -> None:
    changed = await client.patch(f"/v1/chatbots/{chatbot.id}", json=fields, headers=account.headers)
    assert changed.status_code == 200, changed.text


async def _ask(
    client: httpx.AsyncClient, account: ChatAccount, conversation_id: str, question: str
) -> httpx.Response:
    return await client.post(
        f"/v1/conversations/{conversation_id}/messages",
        json={"content": question},
        headers=account.headers,
    )


class TestAsking:
    async def test_answer_cites_the_chunk_it_quotes(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, account)
        conversation_id = await _conversation(client, account, chatbot)

        response = await _ask(
            client, account, conversation_id, "How do I create a virtual environment?"
        )

        assert response.status_code == 201, response.text
        answer = response.json()
        assert answer["role"] == "assistant"
        assert answer["status"] == "complete"
        assert answer["fallback"] is False
        assert "python -m venv" in answer["content"]
        assert answer["citations"][0]["url"] == "https://docs.example.com/venv"
        assert answer["citations"][0]["title"] == "Virtual environments"
        assert set(answer["citations"][0]) == {"number", "url", "title", "heading", "snippet"}
        listed = await client.get(
            f"/v1/conversations/{conversation_id}/messages?order=asc", headers=account.headers
        )
        items = listed.json()["items"]
        assert [item["id"] for item in items] == [answer["user_message_id"], answer["id"]]
        assert items[0]["content"] == "How do I create a virtual environment?"
        conversation = await client.get(
            f"/v1/conversations/{conversation_id}", headers=account.headers
        )
        assert conversation.json()["title"] == "How do I create a virtual environment?"

    async def test_unknown_topic_gets_the_fallback(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, account)
        conversation_id = await _conversation(client, account, chatbot)

        response = await _ask(
            client, account, conversation_id, "When does the bakery open on Sundays?"
        )

        assert response.status_code == 201
        assert response.json()["content"] == FALLBACK
        assert response.json()["fallback"] is True
        assert response.json()["citations"] == []

    async def test_the_fallback_message_reads_as_the_customer_wrote_it(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        # Stored as display text ("help &amp; support"); an answer is text, not HTML.
        account = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, account)
        await _change(
            client, account, chatbot, fallback_message="Ask our help & support <b>desk</b>."
        )
        conversation_id = await _conversation(client, account, chatbot)

        response = await _ask(
            client, account, conversation_id, "When does the bakery open on Sundays?"
        )

        assert response.json()["content"] == "Ask our help & support desk."

    async def test_greetings_and_thanks_get_a_courtesy_not_the_fallback(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        # "hi" searched the docs, got "I couldn't find that on this site" and was listed
        # among the unanswered questions.
        account = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, account)
        await _change(client, account, chatbot, welcome_message="Hi! Ask me about Python & venv.")
        conversation_id = await _conversation(client, account, chatbot)

        hello = (await _ask(client, account, conversation_id, "hi!")).json()
        thanks = (await _ask(client, account, conversation_id, "ok, thanks")).json()
        question = (await _ask(client, account, conversation_id, "hi, whats venv?")).json()

        assert (hello["content"], hello["fallback"], hello["citations"]) == (
            "Hi! Ask me about Python & venv.",
            False,
            [],
        )
        assert (thanks["fallback"], thanks["citations"]) == (False, [])
        assert thanks["content"].startswith("You're welcome")
        assert "python -m venv" in question["content"]  # a greeting before a question
        analytics = await client.get(
            f"/v1/chatbots/{chatbot.id}/analytics", headers=account.headers
        )
        assert analytics.json()["unanswered_questions"] == []

    async def test_a_question_about_a_product_the_docs_never_name_gets_the_fallback(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, account)
        conversation_id = await _conversation(client, account, chatbot)

        asked = {}
        for question in (
            "How do I create a virtual environment with pipenv?",
            "How do I create a virtual environment?",
        ):
            response = await _ask(client, account, conversation_id, question)
            assert response.status_code == 201, response.text
            asked[question] = response.json()

        with_pipenv = asked["How do I create a virtual environment with pipenv?"]
        assert with_pipenv["fallback"] is True
        assert with_pipenv["content"] == FALLBACK
        assert with_pipenv["citations"] == []
        assert asked["How do I create a virtual environment?"]["fallback"] is False

    async def test_a_misspelt_question_gets_the_answer_spelt_right(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        await add_chunk(app, chatbot, "Our hygienist works Tuesday to Saturday, 8am to 6pm.")
        await add_chunk(app, chatbot, "Free Wi-Fi in the waiting room: ask at reception.")
        conversation_id = await _conversation(client, account, chatbot)

        for question, quoted in (
            ("when does the hygenist work", "Tuesday to Saturday"),
            ("do u have wifi", "Free Wi-Fi"),
        ):
            response = await _ask(client, account, conversation_id, question)

            assert response.status_code == 201, response.text
            assert response.json()["fallback"] is False, question
            assert quoted in response.json()["content"]
            # The visitor's message is kept as typed.
            history = await client.get(
                f"/v1/conversations/{conversation_id}/messages", headers=account.headers
            )
            asked = [m["content"] for m in history.json()["items"] if m["role"] == "user"]
            assert question in asked

    async def test_chatbot_that_is_not_ready_refuses_with_409(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account, status=ChatbotStatus.training)
        conversation_id = await _conversation(client, account, chatbot)

        response = await client.post(
            f"/v1/conversations/{conversation_id}/messages",
            json={"content": "Anything?"},
            headers=account.headers,
        )

        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/chatbot-not-ready")
        assert "training" in response.json()["detail"]
        listed = await client.get(
            f"/v1/conversations/{conversation_id}/messages", headers=account.headers
        )
        assert listed.json()["items"] == []

    async def test_bad_questions_are_422(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        account = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, account)
        conversation_id = await _conversation(client, account, chatbot)
        url = f"/v1/conversations/{conversation_id}/messages"

        for body in (
            {"content": ""},
            {"content": "   "},
            {"content": "x" * 4001},
            {"content": 12},
            {"content": "ok", "extra": 1},
            {"content": "ok", "stream": "yes"},
            {"content": "ok", "stream": 1},
            {},
        ):
            response = await client.post(url, json=body, headers=account.headers)
            assert response.status_code == 422, body
            assert response.json()["type"].endswith("/validation-error")

    async def test_members_and_api_keys_can_chat(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, account)
        key = await create_api_key(app, account)
        headers = {"Authorization": f"Bearer {key}"}

        created = await client.post(
            f"/v1/chatbots/{chatbot.id}/conversations", json={"title": "Via key"}, headers=headers
        )
        response = await client.post(
            f"/v1/conversations/{created.json()['id']}/messages",
            json={"content": "virtual environment"},
            headers=headers,
        )

        assert response.status_code == 201
        assert response.json()["citations"]

    async def test_without_credentials_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"/v1/conversations/{uuid.uuid4()}")
        assert response.status_code == 401


class TestUsage:
    async def test_one_usage_event_per_answer_and_recording_is_idempotent(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, account)
        conversation_id = await _conversation(client, account, chatbot)
        answers = []
        for question in ("virtual environment?", "dictionaries?", "bakery?"):
            response = await client.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"content": question},
                headers=account.headers,
            )
            answers.append(response.json()["id"])

        events = await usage_events(app, account.workspace_id)
        assert sorted(event.event_key for event in events) == sorted(
            f"message:{answer_id}" for answer_id in answers
        )
        assert {(event.kind, event.quantity, event.chatbot_id) for event in events} == {
            ("message", 1, chatbot.id)
        }
        async with app.state.sessionmaker() as session, session.begin():
            recorded_again = await record_message_usage(
                session,
                workspace_id=account.workspace_id,
                chatbot_id=chatbot.id,
                event_key=f"message:{answers[0]}",
                occurred_at=utcnow(),
                prompt_tokens=None,
                completion_tokens=None,
            )
        assert recorded_again is False
        assert len(await usage_events(app, account.workspace_id)) == 3


class TestConversations:
    async def test_list_rename_delete(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        account = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, account)
        ids = [await _conversation(client, account, chatbot) for _ in range(3)]

        first_page = await client.get(
            f"/v1/chatbots/{chatbot.id}/conversations?limit=2", headers=account.headers
        )
        second_page = await client.get(
            f"/v1/chatbots/{chatbot.id}/conversations?limit=2"
            f"&cursor={first_page.json()['next_cursor']}",
            headers=account.headers,
        )
        listed = [item["id"] for item in first_page.json()["items"] + second_page.json()["items"]]
        assert listed == list(reversed(ids))
        assert second_page.json()["next_cursor"] is None

        renamed = await client.patch(
            f"/v1/conversations/{ids[0]}", json={"title": "Renamed"}, headers=account.headers
        )
        assert renamed.json()["title"] == "Renamed"
        bad = await client.patch(
            f"/v1/conversations/{ids[0]}", json={"title": "x" * 201}, headers=account.headers
        )
        assert bad.status_code == 422

        deleted = await client.delete(f"/v1/conversations/{ids[0]}", headers=account.headers)
        assert deleted.status_code == 204
        gone = await client.get(f"/v1/conversations/{ids[0]}", headers=account.headers)
        assert gone.status_code == 404

    async def test_messages_paginate_both_ways(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, account)
        conversation_id = await _conversation(client, account, chatbot)
        for question in ("virtual environment?", "dictionaries?"):
            await client.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"content": question},
                headers=account.headers,
            )
        url = f"/v1/conversations/{conversation_id}/messages"

        newest = await client.get(f"{url}?limit=3", headers=account.headers)
        rest = await client.get(
            f"{url}?limit=3&cursor={newest.json()['next_cursor']}", headers=account.headers
        )
        oldest = await client.get(f"{url}?order=asc&limit=10", headers=account.headers)

        descending = [item["id"] for item in newest.json()["items"] + rest.json()["items"]]
        ascending = [item["id"] for item in oldest.json()["items"]]
        assert len(ascending) == 4
        assert descending == list(reversed(ascending))
        assert [item["role"] for item in oldest.json()["items"]] == ["user", "assistant"] * 2
        bad_order = await client.get(f"{url}?order=sideways", headers=account.headers)
        assert bad_order.status_code == 422


class TestFeedback:
    async def test_feedback_is_upserted_on_answers_only(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, account)
        conversation_id = await _conversation(client, account, chatbot)
        answer = (
            await client.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"content": "virtual environment?"},
                headers=account.headers,
            )
        ).json()

        first = await client.post(
            f"/v1/messages/{answer['id']}/feedback", json={"rating": "up"}, headers=account.headers
        )
        second = await client.post(
            f"/v1/messages/{answer['id']}/feedback",
            json={"rating": "down", "comment": "Too short"},
            headers=account.headers,
        )
        on_question = await client.post(
            f"/v1/messages/{answer['user_message_id']}/feedback",
            json={"rating": "up"},
            headers=account.headers,
        )
        bad_rating = await client.post(
            f"/v1/messages/{answer['id']}/feedback", json={"rating": "meh"}, headers=account.headers
        )

        assert first.status_code == 200
        assert second.json()["rating"] == "down"
        assert second.json()["comment"] == "Too short"
        assert on_question.status_code == 422
        assert bad_rating.status_code == 422


class TestOtherWorkspace:
    async def test_every_route_answers_404(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        owner = await create_account(app)
        chatbot, _ = await _bot_with_docs(app, owner)
        conversation_id = await _conversation(client, owner, chatbot)
        answer = (
            await client.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"content": "virtual environment?"},
                headers=owner.headers,
            )
        ).json()
        stranger = await create_account(app)
        headers = stranger.headers

        responses = [
            await client.post(f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=headers),
            await client.get(f"/v1/chatbots/{chatbot.id}/conversations", headers=headers),
            await client.get(f"/v1/conversations/{conversation_id}", headers=headers),
            await client.patch(
                f"/v1/conversations/{conversation_id}", json={"title": "x"}, headers=headers
            ),
            await client.delete(f"/v1/conversations/{conversation_id}", headers=headers),
            await client.get(f"/v1/conversations/{conversation_id}/messages", headers=headers),
            await client.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"content": "virtual environment?"},
                headers=headers,
            ),
            await client.post(
                f"/v1/messages/{answer['id']}/feedback", json={"rating": "up"}, headers=headers
            ),
        ]

        assert [response.status_code for response in responses] == [404] * len(responses)
        still_there = await client.get(
            f"/v1/conversations/{conversation_id}/messages", headers=owner.headers
        )
        assert len(still_there.json()["items"]) == 2
