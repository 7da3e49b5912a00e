"""Analytics checked against a known set of conversations, asked through the API with the
real extractive answerer and a frozen clock (each answer takes a known time)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from sitechat.chat.answerer import AnswerEvent, AnswerSettings, Passage, Turn
from sitechat.chat.answering import ChatRuntime
from sitechat.core.clock import FrozenClock
from sitechat.core.state import app_state
from sitechat.models import Chatbot, Chunk, Page, Source, SourceKind, Visibility
from tests.fixtures.accounts import assert_problem
from tests.fixtures.chat import (
    ChatAccount,
    add_chunk,
    answering_with,
    create_account,
    create_api_key,
    create_chatbot,
)

SITE = "https://shop.example.com"
VENV_URL = "https://docs.example.com/venv"
PRICING_URL = "https://docs.example.com/pricing"
DAY_1 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
DAY_2 = DAY_1 + timedelta(days=1)


class TimedAnswerer:
    """The app's own answerer, taking `latency_ms[question]` of the frozen clock to answer."""

    def __init__(self, inner: Any, clock: FrozenClock, latency_ms: dict[str, int]) -> None:
        self.inner = inner
        self.clock = clock
        self.latency_ms = latency_ms
        self.reads_history = inner.reads_history

    async def aclose(self) -> None:
        """The wrapped answerer belongs to the app."""

    async def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        settings: AnswerSettings,
    ) -> AsyncIterator[AnswerEvent]:
        self.clock.advance(timedelta(milliseconds=self.latency_ms[question]))
        async for event in self.inner.stream(question, passages, history, settings):
            yield event


# (day, conversation, question, answer latency in ms); conversation "old" is before the period.
ASKED = [
    (DAY_1 - timedelta(days=1), "old", "How can I create a virtual environment?", 999),
    (DAY_1, "a", "How do I create a virtual environment?", 100),
    (DAY_1, "a", "virtual environment create", 300),
    (DAY_1, "b", "Do you ship to Mars?", 50),
    (DAY_2, "c", "How much does the Pro plan cost?", 200),
    (DAY_2, "c", "Do you ship to mars", 70),
    (DAY_2, "c", "=creating virtual environments", 400),
]


@pytest.fixture
async def known_chatbot(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> AsyncIterator[tuple[ChatAccount, Chatbot, dict[str, str], list[dict[str, Any]]]]:
    """The known conversations; yields the owner, the chatbot, conversation ids by name, and
    every answer as the API returned it."""
    account = await create_account(app)
    # An API key: the days this fixture moves through would expire an access token.
    account.headers = {"Authorization": f"Bearer {await create_api_key(app, account)}"}
    chatbot = await create_chatbot(app, account)
    await add_chunk(
        app,
        chatbot,
        "To create a virtual environment, run python -m venv followed by a directory name.",
        title="Virtual environments",
        url=VENV_URL,
    )
    await add_chunk(
        app,
        chatbot,
        "The Pro plan costs 29 dollars per month and includes ten chatbots.",
        title="Pricing",
        url=PRICING_URL,
    )
    inner = app_state(app).component(ChatRuntime).answerer
    latencies = {question: latency for _, _, question, latency in ASKED}
    conversations: dict[str, str] = {}
    answers: list[dict[str, Any]] = []
    with answering_with(app, TimedAnswerer(inner, frozen_clock, latencies)):
        for day, name, question, _ in ASKED:
            frozen_clock.set(day)
            if name not in conversations:
                created = await client.post(
                    f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=account.headers
                )
                conversations[name] = created.json()["id"]
            answer = await client.post(
                f"/v1/conversations/{conversations[name]}/messages",
                json={"content": question},
                headers=account.headers,
            )
            assert answer.status_code == 201, answer.text
            answers.append(answer.json())
    yield account, chatbot, conversations, answers


async def analytics(
    client: httpx.AsyncClient, account: ChatAccount, chatbot_id: uuid.UUID, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"/v1/chatbots/{chatbot_id}/analytics", params=params, headers=account.headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def without_urls(
    app: FastAPI, chunk_ids: list[uuid.UUID], *, file_pages: list[uuid.UUID]
) -> None:
    """The chunks as text sources store them (no URL), and `file_pages` as the pages of one
    uploaded file (no URL, a page row each, one file source)."""
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Chunk).where(Chunk.id.in_([*chunk_ids, *file_pages])).values(url=None)
        )
        first = await session.get(Chunk, file_pages[0])
        assert first is not None
        file = await session.get(Source, first.source_id)
        assert file is not None
        file.kind = SourceKind.file
        for number, chunk_id in enumerate(file_pages, start=1):
            chunk = await session.get(Chunk, chunk_id)
            assert chunk is not None
            page = Page(
                id=uuid.uuid4(),
                workspace_id=chunk.workspace_id,
                chatbot_id=chunk.chatbot_id,
                source_id=file.id,
                url=f"page/{number}",
                title=chunk.title,
                content=chunk.content,
                content_hash=f"hash-{number}",
                fetched_at=datetime.now(UTC),
                page_number=number,
            )
            session.add(page)
            await session.flush()
            chunk.source_id, chunk.page_id = file.id, page.id


class TestAnalytics:
    async def test_the_numbers_of_a_known_period(
        self, client: httpx.AsyncClient, known_chatbot: Any
    ) -> None:
        account, chatbot, _, answers = known_chatbot
        first_answer, mars_answer = answers[1], answers[3]
        for message, rating in ((first_answer, "up"), (mars_answer, "down")):
            rated = await client.post(
                f"/v1/messages/{message['id']}/feedback",
                json={"rating": rating},
                headers=account.headers,
            )
            assert rated.status_code == 200

        body = await analytics(
            client, account, chatbot.id, **{"from": "2026-01-15", "to": "2026-01-16"}
        )

        assert [answer["fallback"] for answer in answers] == [
            False, False, False, True, False, True, False,
        ]  # fmt: skip
        assert body["totals"] == {
            "conversations": 3,
            "messages": 12,
            "questions": 6,
            "answered": 4,
            "fallback": 2,
            "failed": 0,
            "handoff_notices": 0,
            "agent_replies": 0,
            "feedback_up": 1,
            "feedback_down": 1,
            "leads": 0,
            # 50, 70, 100, 200, 300, 400
            "median_answer_latency_ms": 150.0,
        }
        columns = ("start", "conversations", "questions", "answered", "fallback")
        assert [tuple(bucket[name] for name in columns) for bucket in body["series"]] == [
            ("2026-01-15", 2, 3, 2, 1),
            ("2026-01-16", 1, 3, 2, 1),
        ]

    async def test_questions_are_grouped_by_their_stemmed_terms(
        self, client: httpx.AsyncClient, known_chatbot: Any
    ) -> None:
        account, chatbot, _, _ = known_chatbot

        body = await analytics(
            client, account, chatbot.id, **{"from": "2026-01-15", "to": "2026-01-16"}
        )

        top = [
            (group["terms"], group["count"], group["question"]) for group in body["top_questions"]
        ]
        assert top == [
            ("creat environ virtual", 3, "=creating virtual environments"),
            ("mar ship", 2, "Do you ship to mars"),
            ("cost much plan pro", 1, "How much does the Pro plan cost?"),
        ]
        unanswered = [(g["terms"], g["count"], g["question"]) for g in body["unanswered_questions"]]
        assert unanswered == [("mar ship", 2, "Do you ship to mars")]
        assert body["unanswered_questions"][0]["last_asked_at"] == "2026-01-16T12:00:00Z"

    async def test_most_cited_pages(self, client: httpx.AsyncClient, known_chatbot: Any) -> None:
        account, chatbot, _, _ = known_chatbot

        body = await analytics(
            client, account, chatbot.id, **{"from": "2026-01-15", "to": "2026-01-16"}
        )

        cited = [(page["url"], page["citations"]) for page in body["top_cited_pages"]]
        assert cited == [(VENV_URL, 3), (PRICING_URL, 1)]

    async def test_cited_pages_without_a_url_are_each_their_own_row(
        self, app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        support = await add_chunk(
            app,
            chatbot,
            "Our support team answers every email within two business days.",
            title="Support",
        )
        refunds = await add_chunk(
            app,
            chatbot,
            "Refunds are paid back to the original card within ten days.",
            title="Refunds",
        )
        # A PDF's two pages: one file source, the same title, no URL.
        warranty = await add_chunk(
            app,
            chatbot,
            "The warranty covers the blender motor for five years.",
            title="Manual.pdf",
        )
        filter_ = await add_chunk(
            app,
            chatbot,
            "Rinse the blender filter with warm water every month.",
            title="Manual.pdf",
        )
        await without_urls(app, [support, refunds], file_pages=[warranty, filter_])
        for question in (
            "How fast does support answer an email?",
            "How long does the motor warranty last?",
            "How many years does the warranty cover the motor?",
            "How do I rinse the filter?",
            "How are refunds paid back?",
        ):
            conversation = await client.post(
                f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=account.headers
            )
            answer = await client.post(
                f"/v1/conversations/{conversation.json()['id']}/messages",
                json={"content": question},
                headers=account.headers,
            )
            assert answer.status_code == 201, answer.text
            assert [c["title"] for c in answer.json()["citations"]], question

        body = await analytics(client, account, chatbot.id)

        cited = [(p["url"], p["title"], p["citations"]) for p in body["top_cited_pages"]]
        assert cited[0] == (None, "Manual.pdf", 2)
        assert sorted(cited[1:]) == [
            (None, "Manual.pdf", 1),
            (None, "Refunds", 1),
            (None, "Support", 1),
        ]
        file_rows = [p for p in body["top_cited_pages"] if p["title"] == "Manual.pdf"]
        assert file_rows[0]["source_id"] == file_rows[1]["source_id"] is not None

    async def test_a_week_and_the_day_before(
        self, client: httpx.AsyncClient, known_chatbot: Any
    ) -> None:
        account, chatbot, _, _ = known_chatbot

        week = await analytics(
            client,
            account,
            chatbot.id,
            **{"from": "2026-01-14", "to": "2026-01-20", "interval": "week"},
        )
        day_before = await analytics(
            client, account, chatbot.id, **{"from": "2026-01-14", "to": "2026-01-14"}
        )

        # 2026-01-12 is the Monday of the week of the 14th; 2026-01-19 starts the next.
        assert [(b["start"], b["questions"]) for b in week["series"]] == [
            ("2026-01-12", 7),
            ("2026-01-19", 0),
        ]
        assert week["totals"]["conversations"] == 4
        assert day_before["totals"]["questions"] == 1
        assert day_before["totals"]["median_answer_latency_ms"] == 999.0

    async def test_an_empty_period_has_zeros_and_no_latency(
        self, app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)

        body = await analytics(client, account, chatbot.id)

        assert body["end"] == "2026-01-15" and body["start"] == "2025-12-17"
        assert len(body["series"]) == 30
        assert body["totals"]["questions"] == 0
        assert body["totals"]["median_answer_latency_ms"] is None
        assert body["top_questions"] == [] and body["top_cited_pages"] == []

    async def test_malformed_periods_are_refused(
        self, app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        url = f"/v1/chatbots/{chatbot.id}/analytics"

        for params, slug in (
            ({"from": "yesterday"}, "validation-error"),
            ({"from": "2026-02-01", "to": "2026-01-01"}, "invalid-period"),
            ({"from": "2024-01-01", "to": "2026-01-01"}, "invalid-period"),
            ({"interval": "year"}, "validation-error"),
            ({"to": "9999-12-31"}, "invalid-period"),
            ({"from": "0001-01-01", "to": "0001-01-02"}, "invalid-period"),
            ({"top": 0}, "validation-error"),
        ):
            response = await client.get(url, params=params, headers=account.headers)
            assert_problem(response, 422, slug)
        bad_id = await client.get("/v1/chatbots/not-a-uuid/analytics", headers=account.headers)
        assert_problem(bad_id, 422)

    async def test_another_workspace_gets_404(
        self, app: FastAPI, client: httpx.AsyncClient, known_chatbot: Any
    ) -> None:
        _, chatbot, _, _ = known_chatbot
        stranger = await create_account(app)

        for path in ("analytics", "conversations/export.csv"):
            response = await client.get(
                f"/v1/chatbots/{chatbot.id}/{path}", headers=stranger.headers
            )
            assert_problem(response, 404)


class TestConversationExport:
    async def test_the_period_as_csv_safe_for_spreadsheets(
        self, client: httpx.AsyncClient, known_chatbot: Any
    ) -> None:
        account, chatbot, conversations, _ = known_chatbot

        response = await client.get(
            f"/v1/chatbots/{chatbot.id}/conversations/export.csv",
            params={"from": "2026-01-15", "to": "2026-01-16"},
            headers=account.headers,
        )

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert len(rows) == 12
        assert [row["conversation_id"] for row in rows[::2]] == [
            conversations["a"], conversations["a"], conversations["b"],
            conversations["c"], conversations["c"], conversations["c"],
        ]  # fmt: skip
        assert [row["role"] for row in rows[:2]] == ["user", "assistant"]
        assert rows[1]["cited_urls"] == VENV_URL and rows[1]["latency_ms"] == "100"
        assert rows[1]["citations"] == f"[1] Virtual environments <{VENV_URL}>"
        assert rows[5]["fallback"] == "True"
        # A formula typed by a visitor stays text in a spreadsheet.
        assert rows[10]["content"] == "'=creating virtual environments"

    async def test_export_in_batches_keeps_every_row(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        known_chatbot: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from sitechat.analytics import service

        account, chatbot, _, _ = known_chatbot
        monkeypatch.setattr(service, "EXPORT_BATCH", 5)

        response = await client.get(
            f"/v1/chatbots/{chatbot.id}/conversations/export.csv",
            params={"from": "2026-01-14", "to": "2026-01-16"},
            headers=account.headers,
        )

        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert len(rows) == 14
        assert len({row["message_id"] for row in rows}) == 14

    async def test_malformed_period_is_refused(
        self, app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account, visibility=Visibility.private)

        response = await client.get(
            f"/v1/chatbots/{chatbot.id}/conversations/export.csv",
            params={"to": "2026-13-01"},
            headers=account.headers,
        )

        assert_problem(response, 422, "validation-error")
