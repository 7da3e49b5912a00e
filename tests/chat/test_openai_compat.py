"""The OpenAI-compatible API, driven by the official `openai` SDK."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from fastapi import FastAPI

from sitechat.billing.grants import grant_plan
from sitechat.chat.answerer import (
    AnswerEvent,
    AnswerSettings,
    Citation,
    CitationsReady,
    TextDelta,
    Usage,
    estimate_tokens,
)
from sitechat.chat.llm import answer_token_limit
from sitechat.chat.token_limit import TokenLimit
from sitechat.models.chatbots import Chatbot, ChatbotStatus
from tests.chat.conftest import AnswererFactory, ChatCompletionsServer
from tests.fixtures.chat import (
    ChatAccount,
    add_chunk,
    answering_with,
    create_account,
    create_api_key,
    create_chatbot,
    usage_events,
)
from tests.fixtures.plans import SHIPPED_PLANS

MODEL_NOT_FOUND = (
    "Model not found. A model is named `chatbot:<id>` with the id of one of this workspace's "
    "chatbots; GET /v1/models lists them."
)
VENV_TEXT = "To create a virtual environment, run python -m venv followed by a directory name."


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _sdk(app: FastAPI, http: httpx.AsyncClient, account: ChatAccount) -> openai.AsyncOpenAI:
    """The SDK on the account's API key; the workspace is on Pro, whose plan lists the
    OpenAI-compatible API (tests/billing/test_quota_bypasses.py: Free gets 402)."""
    async with app.state.sessionmaker() as session, session.begin():
        await grant_plan(session, account.workspace_id, SHIPPED_PLANS.get("pro"), "month")
    key = await create_api_key(app, account)
    return openai.AsyncOpenAI(
        base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0
    )


async def _venv_bot(
    app: FastAPI, http: httpx.AsyncClient
) -> tuple[ChatAccount, Chatbot, openai.AsyncOpenAI]:
    """An account whose chatbot knows how to create a virtual environment, and its SDK."""
    account = await create_account(app)
    chatbot = await create_chatbot(app, account)
    await add_chunk(app, chatbot, VENV_TEXT, title="Venv", url="https://docs.example.com/venv")
    return account, chatbot, await _sdk(app, http, account)


class TestChatCompletions:
    async def test_non_streaming_completion_with_citations(
        self, app: FastAPI, http: httpx.AsyncClient
    ) -> None:
        account, chatbot, sdk = await _venv_bot(app, http)

        completion = await sdk.chat.completions.create(
            model=f"chatbot:{chatbot.id}",
            messages=[
                {"role": "system", "content": "ignored"},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "How do I create a virtual environment?"},
            ],
        )

        assert completion.object == "chat.completion"
        assert completion.choices[0].finish_reason == "stop"
        assert "python -m venv" in (completion.choices[0].message.content or "")
        assert completion.usage is not None
        extension = completion.model_extra["sitechat"]  # type: ignore[index]
        assert extension["citations"][0]["url"] == "https://docs.example.com/venv"
        assert len(await usage_events(app, account.workspace_id)) == 1

    async def test_streaming_completion(self, app: FastAPI, http: httpx.AsyncClient) -> None:
        _, chatbot, sdk = await _venv_bot(app, http)

        stream = await sdk.chat.completions.create(
            model=f"chatbot:{chatbot.id}",
            messages=[{"role": "user", "content": "virtual environment?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]

        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert "python -m venv" in text
        finish = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
        assert finish[0].model_extra["sitechat"]["citations"][0]["title"] == "Venv"  # type: ignore[index]
        assert chunks[-1].usage is not None

    async def test_foreign_or_unknown_chatbot_is_404(
        self, app: FastAPI, http: httpx.AsyncClient
    ) -> None:
        stranger_bot = await create_chatbot(app, await create_account(app))
        sdk = await _sdk(app, http, await create_account(app))

        for model in (
            f"chatbot:{stranger_bot.id}",
            f"chatbot:{uuid.uuid4()}",
            "gpt-4o",
            str(stranger_bot.id),
            "chatbot:not-a-uuid",
        ):
            with pytest.raises(openai.NotFoundError) as raised:
                await sdk.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "hi"}]
                )
            # "Model not found." alone left SDK users guessing how to name a chatbot.
            assert raised.value.body["message"] == MODEL_NOT_FOUND  # type: ignore[index]

    async def test_last_message_must_be_a_user_question(
        self, app: FastAPI, http: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        sdk = await _sdk(app, http, account)

        with pytest.raises(openai.UnprocessableEntityError):
            await sdk.chat.completions.create(
                model=f"chatbot:{chatbot.id}", messages=[{"role": "assistant", "content": "x"}]
            )


class TestMaxTokens:
    async def test_the_answer_is_cut_between_words(
        self, app: FastAPI, http: httpx.AsyncClient
    ) -> None:
        """`max_tokens: 3` returned the whole answer, 53 tokens, with `finish_reason: "stop"`."""
        account, chatbot, sdk = await _venv_bot(app, http)

        completion = await sdk.chat.completions.create(
            model=f"chatbot:{chatbot.id}",
            messages=[{"role": "user", "content": "How do I create a virtual environment?"}],
            max_tokens=3,
        )

        choice = completion.choices[0]
        assert (choice.message.content, choice.finish_reason) == ("To create a", "length")
        assert completion.usage is not None
        assert completion.usage.completion_tokens == 3
        extension = completion.model_extra["sitechat"]  # type: ignore[index]
        assert extension["citations"] == []  # its marker was cut
        history = await http.get(
            f"/v1/conversations/{extension['conversation_id']}/messages?order=asc",
            headers=account.headers,
        )
        stored = history.json()["items"][1]
        assert (stored["content"], stored["citations"]) == ("To create a", [])
        assert stored["usage"]["completion_tokens"] == 3

    async def test_a_stream_is_cut_the_same_way(
        self, app: FastAPI, http: httpx.AsyncClient
    ) -> None:
        _, chatbot, sdk = await _venv_bot(app, http)

        stream = await sdk.chat.completions.create(
            model=f"chatbot:{chatbot.id}",
            messages=[{"role": "user", "content": "How do I create a virtual environment?"}],
            max_completion_tokens=3,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]

        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
        assert (text, finish.choices[0].finish_reason) == ("To create a", "length")
        assert finish.model_extra["sitechat"]["citations"] == []  # type: ignore[index]
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 3

    async def test_an_answer_within_the_limit_is_whole(
        self, app: FastAPI, http: httpx.AsyncClient
    ) -> None:
        _, chatbot, sdk = await _venv_bot(app, http)
        question = [{"role": "user", "content": "How do I create a virtual environment?"}]

        whole = await sdk.chat.completions.create(
            model=f"chatbot:{chatbot.id}",
            messages=question,  # type: ignore[arg-type]
        )
        assert whole.usage is not None
        limited = await sdk.chat.completions.create(
            model=f"chatbot:{chatbot.id}",
            messages=question,  # type: ignore[arg-type]
            max_tokens=whole.usage.completion_tokens,
        )

        assert limited.choices[0].message.content == whole.choices[0].message.content
        assert limited.choices[0].finish_reason == "stop"
        assert limited.usage == whole.usage

    async def test_a_model_is_asked_for_no_more_than_the_caller_takes(
        self,
        app: FastAPI,
        http: httpx.AsyncClient,
        llm_server: ChatCompletionsServer,
        make_answerer: AnswererFactory,
    ) -> None:
        """The model was sent the chatbot's own cap (375 tokens) whatever `max_tokens` said,
        so it wrote, and was billed for, the whole answer that was then cut."""
        _, chatbot, sdk = await _venv_bot(app, http)
        llm_server.behaviour.reply_chunks = ["Run ", "python ", "dash ", "venv ", "now [1]."]
        question = [{"role": "user", "content": "How do I create a virtual environment?"}]

        with answering_with(app, await make_answerer()):
            completion = await sdk.chat.completions.create(
                model=f"chatbot:{chatbot.id}",
                messages=question,  # type: ignore[arg-type]
                max_tokens=3,
            )
            stream = await sdk.chat.completions.create(
                model=f"chatbot:{chatbot.id}",
                messages=question,  # type: ignore[arg-type]
                max_completion_tokens=2,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
            whole = await sdk.chat.completions.create(
                model=f"chatbot:{chatbot.id}",
                messages=question,  # type: ignore[arg-type]
                max_tokens=100_000,
            )

        assert [request["max_tokens"] for request in llm_server.requests] == [
            3,
            2,
            answer_token_limit(AnswerSettings(max_answer_chars=chatbot.max_answer_chars)),
        ]
        # The model stopped at the limit (its own `length`), within the estimate too.
        choice = completion.choices[0]
        assert (choice.message.content or "").strip() == "Run python dash"
        assert choice.finish_reason == "length"
        assert completion.usage is not None and completion.usage.completion_tokens == 3
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
        assert (text.strip(), finish.choices[0].finish_reason) == ("Run python", "length")
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2
        assert whole.choices[0].finish_reason == "stop"
        assert whole.choices[0].message.content == "Run python dash venv now [1]."

    async def test_only_the_citations_still_in_the_text_are_kept(self) -> None:
        first, second = (
            Citation(number, uuid.uuid4(), uuid.uuid4(), None, f"Page {number}", "", "")
            for number in (1, 2)
        )

        async def answer() -> AsyncIterator[AnswerEvent]:
            # Words split across deltas are held back until they end.
            for text in ("Refunds take 14 da", "ys [1]. Shipping is fr", "ee [2]."):
                yield TextDelta(text)
            yield CitationsReady([first, second])
            yield Usage(prompt_tokens=40, completion_tokens=12, estimated=True)

        kept = "Refunds take 14 days [1]. Shipping"
        limit = TokenLimit(estimate_tokens(kept))
        events = [event async for event in limit.apply(answer())]

        text = "".join(event.text for event in events if isinstance(event, TextDelta))
        assert text == kept
        assert limit.cut
        assert CitationsReady([first]) in events
        assert events[-1] == Usage(40, estimate_tokens(kept), estimated=True)


class TestModels:
    async def test_lists_the_workspaces_chatbots_only(
        self, app: FastAPI, http: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        mine = await create_chatbot(app, account)
        await create_chatbot(app, await create_account(app))
        sdk = await _sdk(app, http, account)

        models = [model async for model in sdk.models.list()]

        assert [model.id for model in models] == [f"chatbot:{mine.id}"]
        assert models[0].owned_by == "sitechat"

    async def test_retrieves_a_chatbot_as_the_list_shows_it(
        self, app: FastAPI, http: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        sdk = await _sdk(app, http, account)

        model = await sdk.models.retrieve(f"chatbot:{chatbot.id}")
        listed = [model async for model in sdk.models.list()]

        assert model == listed[0]
        assert model.model_dump(exclude_unset=True) == {
            "id": f"chatbot:{chatbot.id}",
            "object": "model",
            "created": int(chatbot.created_at.timestamp()),
            "owned_by": "sitechat",
        }

    @pytest.mark.parametrize("kind", ["foreign", "unknown", "archived", "gpt-4o", "bare", "bad"])
    async def test_a_model_not_in_the_list_is_404(
        self, app: FastAPI, http: httpx.AsyncClient, kind: str
    ) -> None:
        account = await create_account(app)
        stranger_bot = await create_chatbot(app, await create_account(app))
        archived = await create_chatbot(app, account, status=ChatbotStatus.archived)
        model = {
            "foreign": f"chatbot:{stranger_bot.id}",
            "unknown": f"chatbot:{uuid.uuid4()}",
            "archived": f"chatbot:{archived.id}",
            "gpt-4o": "gpt-4o",
            "bare": str(stranger_bot.id),
            "bad": "chatbot:not-a-uuid",
        }[kind]
        sdk = await _sdk(app, http, account)

        with pytest.raises(openai.NotFoundError) as raised:
            await sdk.models.retrieve(model)

        assert raised.value.response.headers["content-type"] == "application/json"
        error = raised.value.body
        assert isinstance(error, dict)
        assert (error["type"], error["code"]) == ("not_found_error", "not-found")
        assert error["message"] == MODEL_NOT_FOUND


class TestOneAnswerEverywhere:
    async def test_citations_and_usage_are_the_same_on_every_channel(
        self, app: FastAPI, http: httpx.AsyncClient
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        await add_chunk(
            app,
            chatbot,
            VENV_TEXT,
            title="Venv",
            heading="Creating Virtual Environments",
            url="https://docs.example.com/venv",
            anchor="creating-virtual-environments",
        )
        sdk = await _sdk(app, http, account)
        question = [{"role": "user", "content": "How do I create a virtual environment?"}]
        expected = {
            "number": 1,
            "url": "https://docs.example.com/venv#creating-virtual-environments",
            "title": "Venv",
            "heading": "Creating Virtual Environments",
            "snippet": VENV_TEXT,
        }

        completion = await sdk.chat.completions.create(
            model=f"chatbot:{chatbot.id}",
            messages=question,  # type: ignore[arg-type]
        )
        stream = await sdk.chat.completions.create(
            model=f"chatbot:{chatbot.id}",
            messages=question,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        extension = completion.model_extra["sitechat"]  # type: ignore[index]
        history = await http.get(
            f"/v1/conversations/{extension['conversation_id']}/messages?order=asc",
            headers=account.headers,
        )
        asked = await http.post(
            f"/v1/conversations/{extension['conversation_id']}/messages",
            json={"content": "How do I create a virtual environment?"},
            headers=account.headers,
        )

        finish = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
        stored = history.json()["items"][1]
        assert extension["citations"] == [expected]
        assert finish.model_extra["sitechat"]["citations"] == [expected]  # type: ignore[index]
        assert stored["citations"] == [expected]
        assert asked.json()["citations"] == [expected]
        # Real counts: what the answer read (question and passage) and what it wrote.
        usage = completion.usage
        assert usage is not None
        answer = completion.choices[0].message.content or ""
        assert len(VENV_TEXT) / 8 < usage.prompt_tokens < len(VENV_TEXT)
        assert len(answer) / 8 < usage.completion_tokens < len(answer)
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == usage.completion_tokens
        assert stored["usage"] == {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
