"""The default embedder: all-MiniLM-L6-v2 from its wheel, run by onnxruntime in this process.

Its vectors are compared with the reference model's (`tests/fixtures/minilm_reference.json`,
computed once with sentence-transformers on torch, which this project does not install), and it
is used end to end: the embedding job stores its vectors and `retrieve` finds paraphrases that
share no word with the page.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from sitechat.config import EmbeddingSettings
from sitechat.core.state import app_state
from sitechat.knowledge import minilm
from sitechat.knowledge.dense import (
    DenseRetrieval,
    DenseSetup,
    start_dense_retrieval,
    stop_dense_retrieval,
)
from sitechat.knowledge.embedders import LocalEmbedder
from sitechat.knowledge.service import retrieve
from sitechat.knowledge.tasks import embed_chunks
from sitechat.models import Chatbot
from tests.conftest import run_queued_jobs
from tests.fixtures.chat import add_chunk, create_account, create_chatbot
from tests.fixtures.plans import provided

REFERENCE = json.loads((Path(__file__).parents[1] / "fixtures/minilm_reference.json").read_text())

REFUNDS = "Refunds are issued within 14 days of purchase."
DISTRACTORS = (
    "The shop opens at nine on weekdays and closes at six.",
    "Our workshop services engines, brakes and tyres.",
    "Shipping to Europe costs five euros per parcel.",
    "Create an account with your email address and a password.",
)


BAKERY = (
    "Hollins Bakery has baked bread in Clifton since 1998. We are open Monday to Saturday "
    "from 7am to 6pm, and closed on Sundays and bank holidays. A large sourdough loaf costs "
    "£4.50 and a box of six croissants costs £9. We deliver within 5 miles of the shop for a "
    "flat fee of £3. Delivery is free on orders over £25. Celebration cakes must be ordered "
    "at least five days in advance. Our kitchen also handles nuts, sesame, eggs and milk, so "
    "we cannot promise that any product is free of them. We bake a vegan rye loaf and "
    "gluten-free brownies every Saturday. You can pay by card or cash; we do not accept "
    "cheques. Find us at 12 Mill Lane, Bristol BS8 4AA."
)
BAKERY_ANSWERS = {
    "when r u open": "We are open Monday to Saturday from 7am to 6pm",
    "do you deliver": "We deliver within 5 miles",
    "do you have anything vegan": "We bake a vegan rye loaf",
    "i have a nut allergy is it safe": "Our kitchen also handles nuts",
    "are you open on sundays": "closed on Sundays",
    "do u take cheques": "we do not accept cheques",
    "where are you": "12 Mill Lane",
    "whats ur adress": "12 Mill Lane",
    "how much is delivery": "flat fee of £3",
}


def _cosine(left: list[float], right: list[float]) -> float:
    return sum(a * b for a, b in zip(left, right, strict=True)) / math.sqrt(
        sum(a * a for a in left) * sum(b * b for b in right)
    )


async def _retrieve(app: FastAPI, chatbot: Chatbot, question: str) -> list[str]:
    """What the app retrieves, with its dense retrieval (on or off) as a chat message would."""
    dense = app_state(app).component(DenseSetup).dense
    async with app.state.sessionmaker() as session:
        passages = await retrieve(session, chatbot, question, dense=dense)
    return [passage.text for passage in passages]


async def _chatbot_with(app: FastAPI, *texts: str) -> Chatbot:
    chatbot = await create_chatbot(app, await create_account(app))
    for content in texts:
        await add_chunk(app, chatbot, content, title="Help")
    return chatbot


class TestVectors:
    async def test_match_the_reference_model(self, local_embedder: LocalEmbedder) -> None:
        vectors = await local_embedder.embed(REFERENCE["texts"])

        similarities = [_cosine(a, b) for a, b in zip(vectors, REFERENCE["vectors"], strict=True)]
        # The texts include one of 692 word pieces (cut at 256, as the model is) and accents,
        # CJK and punctuation (the tokenizer's normalization).
        assert min(similarities) > 0.9999, similarities
        assert all(len(vector) == minilm.DIMENSIONS for vector in vectors)

    async def test_a_question_gets_the_same_vector_as_in_bulk(
        self, local_embedder: LocalEmbedder
    ) -> None:
        question = REFERENCE["texts"][1]

        alone = await local_embedder.embed_query(question)

        assert _cosine(alone, REFERENCE["vectors"][1]) > 0.9999

    async def test_keeps_the_order_of_texts_of_mixed_lengths(
        self, local_embedder: LocalEmbedder
    ) -> None:
        # More than one run of rows, sorted by length inside: the output is in input order.
        texts = [f"{word} " * (count % 7 + 1) for count, word in enumerate(["tea", "car"] * 20)]

        together = await local_embedder.embed(texts)
        one_by_one = [await local_embedder.embed_query(text) for text in texts[:5]]

        assert len(together) == len(texts)
        for bulk, single in zip(together, one_by_one, strict=False):
            assert _cosine(bulk, single) > 0.9999
        assert await local_embedder.embed([]) == []

    @pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness per thread")
    async def test_bulk_work_runs_below_the_api_priority(
        self, local_embedder: LocalEmbedder
    ) -> None:
        await local_embedder.embed(["warm the pool", "and the tokenizer's threads"])

        niceness = _threads_niceness()

        assert 0 in niceness  # this thread, the event loop's, is untouched
        assert niceness.count(minilm.BULK_NICE) >= 2  # the bulk thread and the model's own


def _threads_niceness() -> list[int]:
    """The nice value of each of this process's threads (field 19 of /proc/.../stat)."""
    tasks = Path("/proc/self/task").iterdir()
    return [int((task / "stat").read_text().rsplit(")", 1)[1].split()[16]) for task in tasks]


class TestDefault:
    async def test_the_default_settings_turn_on_the_local_model_where_pgvector_is(
        self, app: FastAPI, has_pgvector: bool
    ) -> None:
        dense = await start_dense_retrieval(app.state.engine, EmbeddingSettings())
        try:
            if has_pgvector:
                assert dense is not None
                assert dense.embedder.model_name == minilm.MODEL_NAME
            else:
                assert dense is None  # a server without pgvector answers lexically
        finally:
            await stop_dense_retrieval(dense)


class TestRetrieval:
    async def test_finds_a_paraphrase_only_the_model_understands(
        self, app: FastAPI, minilm_on: DenseRetrieval
    ) -> None:
        chatbot = await _chatbot_with(app, REFUNDS, *DISTRACTORS)
        question = "How quickly do I get my money back?"
        with provided(app, DenseSetup(None)):
            lexical_only = await _retrieve(app, chatbot, question)

        embedded = await embed_chunks(app_state(app).task_context, chatbot.id)
        assert embedded == 1 + len(DISTRACTORS)
        hybrid = await _retrieve(app, chatbot, question)

        assert REFUNDS not in lexical_only  # no word in common
        assert hybrid[0] == REFUNDS

    async def test_a_text_source_added_through_the_api_is_found_by_meaning(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        for index, content in enumerate((REFUNDS, *DISTRACTORS)):
            response = await client.post(
                f"/v1/chatbots/{chatbot.id}/sources",
                json={"kind": "text", "title": f"Policy {index}", "content": content},
                headers=account.headers,
            )
            assert response.status_code == 201, response.text

        await run_queued_jobs(app)  # knowledge.embed_chunks, queued by the request

        assert (await _retrieve(app, chatbot, "How long do refunds take?"))[0] == REFUNDS
        assert (await _retrieve(app, chatbot, "when will my money be returned"))[0] == REFUNDS


class TestSmallChatbots:
    """A chatbot of a source or two has no site-wide background for a question to stand out
    from: its own chunk must not be the background that refuses its question (ADR 0025)."""

    async def _add_text(
        self, client: Any, headers: dict[str, str], chatbot_id: Any, title: str, content: str
    ) -> None:
        response = await client.post(
            f"/v1/chatbots/{chatbot_id}/sources",
            json={"kind": "text", "title": title, "content": content},
            headers=headers,
        )
        assert response.status_code == 201, response.text

    async def _ask(self, client: Any, headers: dict[str, str], chatbot_id: Any, q: str) -> Any:
        conversation = await client.post(
            f"/v1/chatbots/{chatbot_id}/conversations", json={}, headers=headers
        )
        assert conversation.status_code == 201, conversation.text
        answer = await client.post(
            f"/v1/conversations/{conversation.json()['id']}/messages",
            json={"content": q},
            headers=headers,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    async def test_the_readmes_one_text_chatbot_answers_its_question(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        await self._add_text(
            client, account.headers, chatbot.id, "Refund policy", f"# Refunds\n\n{REFUNDS}"
        )
        await run_queued_jobs(app)  # its vector and the chatbot's mean

        answer = await self._ask(client, account.headers, chatbot.id, "How long do refunds take?")
        off_topic = await self._ask(client, account.headers, chatbot.id, "Who won the world cup?")

        assert answer["fallback"] is False
        assert REFUNDS in answer["content"]
        assert answer["citations"][0]["title"] == "Refund policy"
        assert off_topic["fallback"] is True

    async def test_one_text_of_many_facts_answers_a_misspelt_question_about_one(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        # As a stranger's first bot: one text, a few facts; "wifi" for the text's "Wi-Fi", and
        # the whole text far in meaning from a question about its last sentence.
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        facts = (
            "Our hygienist works Tuesday to Saturday, 8am to 6pm. Free Wi-Fi in the waiting room."
        )
        body = f"# Hygienist\n\n{facts}"
        await self._add_text(
            client, account.headers, chatbot.id, "Hygienist | Harbourside Dental", body
        )
        await run_queued_jobs(app)  # the chatbot's mean vector, its closeness baseline

        wifi = await self._ask(client, account.headers, chatbot.id, "do u have wifi")
        off_topic = await self._ask(client, account.headers, chatbot.id, "Who won the world cup?")

        assert wifi["fallback"] is False, wifi["content"]
        assert "Free Wi-Fi in the waiting room." in wifi["content"]
        assert off_topic["fallback"] is True

    async def test_a_pasted_text_without_headings_answers_each_of_its_facts(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        # A stranger's bakery, pasted as one paragraph with no heading: one passage of a dozen
        # facts is far in meaning from "when r u open", and every short question got the
        # fallback; the same sentences under headings answered them all.
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        await self._add_text(client, account.headers, chatbot.id, "About us", BAKERY)
        await run_queued_jobs(app)

        replies = {
            question: await self._ask(client, account.headers, chatbot.id, question)
            for question in (*BAKERY_ANSWERS, "can i bring my dog", "do you sell coffee")
        }

        for question, expected in BAKERY_ANSWERS.items():
            assert replies[question]["fallback"] is False, question
            assert expected in replies[question]["content"], replies[question]["content"]
        assert replies["can i bring my dog"]["fallback"] is True
        assert replies["do you sell coffee"]["fallback"] is True

    async def test_a_text_added_while_the_site_is_being_embedded_answers_at_once(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        # The README's quick start at script speed, on a chatbot whose crawled pages still
        # wait for their vectors: no job runs between adding the text and asking.
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        for content in DISTRACTORS:
            await add_chunk(app, chatbot, content, title="Shop")  # no vector yet
        await self._add_text(
            client, account.headers, chatbot.id, "Refund policy", f"# Refunds\n\n{REFUNDS}"
        )

        answer = await self._ask(client, account.headers, chatbot.id, "How long do refunds take?")

        assert answer["fallback"] is False
        assert REFUNDS in answer["content"]
        assert answer["citations"][0]["title"] == "Refund policy"
        indexing = (await client.get(f"/v1/chatbots/{chatbot.id}", headers=account.headers)).json()
        assert indexing["indexing"]["embedded"] == 1  # the rest is the job's

    async def test_a_site_still_being_embedded_answers_from_its_words(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        # Right after a crawl only the first chunks have vectors: the semantic ranking's
        # nearest were those few, far from the question, and every question got the fallback
        # until the embedding job was done. Lexically the page is there.
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        for content in DISTRACTORS[:2]:
            await add_chunk(app, chatbot, content, title="Shop")
        await embed_chunks(app_state(app).task_context, chatbot.id)  # these two; the rest not yet
        router = "To reset your router, hold its reset button down for ten seconds."
        for content in (*DISTRACTORS[2:], router, *[f"Opening note {n}." for n in range(6)]):
            await add_chunk(app, chatbot, content, title="Help")

        searched = await client.post(
            f"/v1/chatbots/{chatbot.id}/search",
            json={"query": "how do I reset my router", "limit": 3},
            headers=account.headers,
        )
        answer = await self._ask(client, account.headers, chatbot.id, "how do I reset my router")

        assert searched.status_code == 200, searched.text
        first = searched.json()["items"][0]
        assert (first["snippet"], first["rankings"]) == (router, {"lexical": 1})
        assert answer["fallback"] is False, answer["content"]
        assert router in answer["content"]


HIRE = (
    "# Bike hire\n\nExplore the canal towpath and the hills on one of our hire bikes.\n\n"
    "- City hybrid: £20 per day, £80 per week\n- Electric hybrid: £40 per day, £160 per week\n\n"
    "A helmet and lock are included with every hire."
)
SHOP_TEXTS = {
    "Bike hire": HIRE,
    "Opening hours": "# Opening hours\n\n- Monday: closed\n- Tuesday to Friday: 8:30am to 6pm",
    "Repairs": "# Puncture repair\n\nWe fix flat tyres while you wait, in about 20 minutes.",
    "Workshops": "# Workshops\n\nLearn to adjust brakes and clean a chain in small groups.",
    "FAQ": (
        "# How long will my repair take?\n\nHow long a repair takes depends on the job: most "
        "take a day, and we tell you how long yours will take when you drop it off."
    ),
    "E-bikes": (
        "# E-bike repairs\n\nWe do not repair batteries ourselves: a faulty battery goes back to "
        "its maker, which takes three to four weeks."
    ),
}


class TestFollowUps:
    """A visitor's next question leans on the one before: "and for a whole week?" after "do
    you hire out bikes?" is answered from the hire page (chat/context.py)."""

    async def _shop(self, app: FastAPI, client: Any) -> tuple[Any, Any]:
        account = await create_account(app)
        chatbot = await create_chatbot(app, account)
        for title, content in SHOP_TEXTS.items():
            response = await client.post(
                f"/v1/chatbots/{chatbot.id}/sources",
                json={"kind": "text", "title": title, "content": content},
                headers=account.headers,
            )
            assert response.status_code == 201, response.text
        await run_queued_jobs(app)
        return account, chatbot

    async def _say(self, client: Any, headers: dict[str, str], conversation: str, q: str) -> Any:
        answer = await client.post(
            f"/v1/conversations/{conversation}/messages", json={"content": q}, headers=headers
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    async def _conversation(self, client: Any, headers: dict[str, str], chatbot: Any) -> str:
        created = await client.post(
            f"/v1/chatbots/{chatbot.id}/conversations", json={}, headers=headers
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    async def test_a_follow_up_is_read_with_the_question_before_it(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        account, chatbot = await self._shop(app, client)
        chat = await self._conversation(client, account.headers, chatbot)
        alone = await self._conversation(client, account.headers, chatbot)

        first = await self._say(client, account.headers, chat, "do you hire out bikes?")
        follow_up = await self._say(client, account.headers, chat, "and for a whole week?")
        out_of_context = await self._say(client, account.headers, alone, "and for a whole week?")

        assert first["fallback"] is False
        assert follow_up["fallback"] is False, follow_up["content"]
        assert "£80 per week" in follow_up["content"]
        assert follow_up["citations"][0]["title"] == "Bike hire"
        assert out_of_context["fallback"] is True  # alone, it names nothing the shop has
        # What the visitor typed is what is stored.
        history = await client.get(f"/v1/conversations/{chat}/messages", headers=account.headers)
        asked = [m["content"] for m in history.json()["items"] if m["role"] == "user"]
        assert set(asked) == {"do you hire out bikes?", "and for a whole week?"}

    async def test_a_new_subject_is_answered_on_its_own(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        account, chatbot = await self._shop(app, client)
        chat = await self._conversation(client, account.headers, chatbot)

        await self._say(client, account.headers, chat, "do you hire out bikes?")
        answer = await self._say(client, account.headers, chat, "ok and when are you open?")

        assert answer["fallback"] is False
        assert "8:30am to 6pm" in answer["content"]
        assert [c["title"] for c in answer["citations"]] == ["Opening hours"]

    async def test_a_follow_up_with_an_answer_of_its_own_is_read_with_its_subject(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        # "how long will that take" alone finds the FAQ's repair times; after the battery
        # question the e-bike section is much closer.
        account, chatbot = await self._shop(app, client)
        chat = await self._conversation(client, account.headers, chatbot)

        await self._say(client, account.headers, chat, "my ebike battery is dead can you fix it")
        answer = await self._say(client, account.headers, chat, "how long will that take")

        assert "three to four weeks" in answer["content"], answer["content"]
        assert answer["citations"][0]["title"] == "E-bikes"

    async def test_a_long_new_question_is_not_mixed_with_the_last_subject(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        # Read with "do you hire out bikes?", the question would be answered from the hire page.
        account, chatbot = await self._shop(app, client)
        chat = await self._conversation(client, account.headers, chatbot)

        await self._say(client, account.headers, chat, "do you hire out bikes?")
        answer = await self._say(
            client, account.headers, chat, "if something you fixed goes wrong again do i pay"
        )

        assert "Bike hire" not in [c["title"] for c in answer["citations"]], answer["content"]

    async def test_a_short_new_subject_is_not_answered_from_the_last_one(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        # Read with "do you hire out bikes?", the hire page would answer it.
        account, chatbot = await self._shop(app, client)
        chat = await self._conversation(client, account.headers, chatbot)

        await self._say(client, account.headers, chat, "do you hire out bikes?")
        answer = await self._say(client, account.headers, chat, "do you sell pizza")

        assert answer["fallback"] is True, answer["content"]

    @pytest.mark.parametrize(
        ("first", "then"),
        [
            ("my ebike battery is dead can you fix it", "do you do workshops"),
            ("how much is an electric bike for a week", "do you sell scooters"),
            ("is a helmet included when I hire a bike", "can I bring my dog on a hire bike"),
            ("when are you open on friday", "do you do gift cards for hire"),
            ("how long does a puncture repair take", "can i hire a tandem"),
        ],
    )
    async def test_a_new_question_gets_the_answer_it_gets_asked_first(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval, first: str, then: str
    ) -> None:
        # Visitors change the subject without saying so; read with the question before, the
        # two questions' words found the last subject's page ("when r u open on saturday"
        # after a bread price got the delivery days).
        account, chatbot = await self._shop(app, client)
        chat = await self._conversation(client, account.headers, chatbot)
        fresh = await self._conversation(client, account.headers, chatbot)

        await self._say(client, account.headers, chat, first)
        answer = await self._say(client, account.headers, chat, then)
        asked_first = await self._say(client, account.headers, fresh, then)

        assert (answer["content"], answer["fallback"]) == (
            asked_first["content"],
            asked_first["fallback"],
        )

    async def test_a_contact_question_before_does_not_make_a_new_subject_answerable(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        # The phone number asked for before is stated in the passages the joined reading
        # finds; the visitor's new message asks no phone number.
        account, chatbot = await self._shop(app, client)
        response = await client.post(
            f"/v1/chatbots/{chatbot.id}/sources",
            json={
                "kind": "text",
                "title": "Contact",
                "content": "# Contact\n\nPhone: 01632 960 418",
            },
            headers=account.headers,
        )
        assert response.status_code == 201, response.text
        chat = await self._conversation(client, account.headers, chatbot)

        phone = await self._say(client, account.headers, chat, "whats your phone number")
        answer = await self._say(client, account.headers, chat, "and do you sell pizza")

        assert "01632 960 418" in phone["content"]
        assert answer["fallback"] is True, answer["content"]

    async def test_a_question_on_two_lines_keeps_all_its_words(
        self, app: FastAPI, client: Any, minilm_on: DenseRetrieval
    ) -> None:
        # A line break is no follow-up's seam: the first line's words stay the question's.
        account, chatbot = await self._shop(app, client)
        chat = await self._conversation(client, account.headers, chatbot)

        answer = await self._say(
            client, account.headers, chat, "my battery is dead.\nhow long will that take"
        )

        assert "three to four weeks" in answer["content"], answer["content"]
