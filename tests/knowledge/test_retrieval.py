"""Retrieval: scoped to one chatbot; BM25 ranking (rarity, OR semantics, fields, identifiers)."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import delete

from sitechat.knowledge import repository
from sitechat.knowledge.passages import Passage
from sitechat.knowledge.repository import ChunkHit
from sitechat.knowledge.service import (
    MAX_TOP_K,
    capped_per_page,
    reciprocal_rank_fusion,
    retrieve,
    top_k_for,
)
from sitechat.models import Chatbot, Source
from tests.fixtures.chat import add_chunk, create_account, create_chatbot


async def _retrieve(app: FastAPI, chatbot: Chatbot, question: str) -> list[str]:
    """Lexical retrieval, as the test apps do (tests/knowledge/test_dense.py: hybrid)."""
    async with app.state.sessionmaker() as session:
        return [passage.text for passage in await retrieve(session, chatbot, question, dense=None)]


class TestRetrieve:
    async def test_never_returns_another_chatbots_chunks(self, app: FastAPI) -> None:
        first_owner, second_owner = await create_account(app), await create_account(app)
        first = await create_chatbot(app, first_owner)
        second = await create_chatbot(app, second_owner)
        await add_chunk(app, first, "Refunds are issued within 14 days of a return.")
        await add_chunk(app, second, "Refunds are issued within 30 days, no questions asked.")
        sibling = await create_chatbot(app, first_owner)
        await add_chunk(app, sibling, "Refunds take 90 days at the sibling shop.")

        texts = await _retrieve(app, first, "refunds days")

        assert texts == ["Refunds are issued within 14 days of a return."]

    async def test_title_and_heading_matches_rank_above_body_matches(self, app: FastAPI) -> None:
        chatbot = await create_chatbot(app, await create_account(app))
        await add_chunk(app, chatbot, "Shipping is free; see the invoice page.", title="Orders")
        await add_chunk(app, chatbot, "Download them as PDF.", title="Invoices")
        await add_chunk(app, chatbot, "We email one monthly.", title="Billing", heading="Invoice")

        texts = await _retrieve(app, chatbot, "invoice")

        assert texts == [
            "Download them as PDF.",
            "We email one monthly.",
            "Shipping is free; see the invoice page.",
        ]

    async def test_natural_questions_match_on_some_of_their_words(self, app: FastAPI) -> None:
        chatbot = await create_chatbot(app, await create_account(app))
        await add_chunk(app, chatbot, "Create a virtual environment with python -m venv.")
        await add_chunk(app, chatbot, "Dictionaries map keys to values.")

        # No chunk holds every word ("create", "isolated", "environment", "project").
        texts = await _retrieve(
            app, chatbot, "How can I create an isolated environment for my project?"
        )

        assert texts[0] == "Create a virtual environment with python -m venv."
        assert "Dictionaries map keys to values." not in texts

    async def test_nothing_matches_gives_no_passages(self, app: FastAPI) -> None:
        chatbot = await create_chatbot(app, await create_account(app))
        await add_chunk(app, chatbot, "Dictionaries map keys to values.")

        assert await _retrieve(app, chatbot, "opening hours of the bakery") == []
        assert await _retrieve(app, chatbot, "   ") == []
        assert await _retrieve(app, chatbot, 'the "" & | !') == []

    async def test_top_k_comes_from_the_chatbot_and_is_capped(self, app: FastAPI) -> None:
        chatbot = await create_chatbot(app, await create_account(app), retrieval={"top_k": 2})
        for number in range(4):
            await add_chunk(app, chatbot, f"Pricing detail number {number}.")

        assert len(await _retrieve(app, chatbot, "pricing")) == 2
        chatbot.retrieval = {"top_k": 500}
        assert top_k_for(chatbot) == MAX_TOP_K

    async def test_one_long_page_cannot_fill_every_slot(self, app: FastAPI) -> None:
        chatbot = await create_chatbot(app, await create_account(app), retrieval={"top_k": 3})
        long_page = "https://docs.example/c-api/threads.html"
        for number in range(5):
            await add_chunk(
                app,
                chatbot,
                f"The global interpreter lock, part {number}.",
                title="Global interpreter lock",
                url=long_page,
            )
        await add_chunk(
            app,
            chatbot,
            "Only one thread runs Python bytecode at a time: the global interpreter lock.",
            url="https://docs.example/glossary.html",
        )

        async with app.state.sessionmaker() as session:
            passages = await retrieve(session, chatbot, "global interpreter lock", dense=None)

        assert [passage.url for passage in passages].count(long_page) == 2
        assert passages[-1].url == "https://docs.example/glossary.html"


class TestLexicalRanking:
    async def test_a_rare_word_outranks_common_ones(self, app: FastAPI) -> None:
        chatbot = await create_chatbot(app, await create_account(app))
        for number in range(8):
            await add_chunk(app, chatbot, f"Call a Python function with arguments, case {number}.")
        await add_chunk(app, chatbot, "To memoize results, wrap it in a cache.")

        texts = await _retrieve(app, chatbot, "how do I memoize a python function call")

        # Every other chunk holds three of the question's words, but words all of them share.
        assert texts[0] == "To memoize results, wrap it in a cache."

    async def test_partial_matches_rank_by_score_not_by_matching_every_word(
        self, app: FastAPI
    ) -> None:
        chatbot = await create_chatbot(app, await create_account(app))
        for number in range(6):
            await add_chunk(app, chatbot, f"Shipping of order {number} is tracked by mail.")
        every_word = (
            "Orders and shipping: we pack every order within a day, ship it by courier, send "
            "a tracking link, and a refund is possible for damaged parcels, lost parcels, late "
            "parcels and parcels sent to a wrong address, as our terms and conditions explain."
        )
        await add_chunk(app, chatbot, every_word)
        refunds = "Refund policy: a refund is issued in 14 days; refund requests go to support."
        await add_chunk(app, chatbot, refunds)

        texts = await _retrieve(app, chatbot, "refund shipping order")

        # Only the long chunk holds all three words; "all terms first" would rank it first.
        assert texts[:2] == [refunds, every_word]

    async def test_a_snake_case_identifier_matches_whole_before_its_parts(
        self, app: FastAPI
    ) -> None:
        chatbot = await create_chatbot(app, await create_account(app))
        decorator = "Wrap the function in functools.lru_cache to memoize its calls."
        policy = "An LRU policy evicts the least recently used cache entry from the cache."
        await add_chunk(app, chatbot, policy)
        await add_chunk(app, chatbot, decorator)

        assert (await _retrieve(app, chatbot, "lru_cache"))[0] == decorator
        assert set(await _retrieve(app, chatbot, "lru cache")) == {decorator, policy}

    async def test_a_dotted_name_matches_whole_and_by_its_parts(self, app: FastAPI) -> None:
        chatbot = await create_chatbot(app, await create_account(app))
        join = "Build file names portably with os.path.join()."
        await add_chunk(app, chatbot, join)
        await add_chunk(app, chatbot, "Paths are strings; the separator differs by platform.")

        # PostgreSQL's parser reads "os.path.join" as one host-name token: the parts are ours.
        assert (await _retrieve(app, chatbot, "how do I join two path parts"))[0] == join
        assert (await _retrieve(app, chatbot, "os.path.join"))[0] == join

    async def test_dunder_and_system_view_names_match_whole(self, app: FastAPI) -> None:
        chatbot = await create_chatbot(app, await create_account(app))
        slots = "Declare __slots__ to save memory per instance."
        view = "The pg_stat_activity view shows one row per server process."
        await add_chunk(app, chatbot, "Booking: choose one of the free time slots.")
        await add_chunk(app, chatbot, slots)
        await add_chunk(app, chatbot, "Activity statistics of the PG cluster, in stat files.")
        await add_chunk(app, chatbot, view)

        assert (await _retrieve(app, chatbot, "what are __slots__"))[0] == slots
        assert (await _retrieve(app, chatbot, "pg_stat_activity columns"))[0] == view

    async def test_every_passage_says_which_ranking_found_it(self, app: FastAPI) -> None:
        chatbot = await create_chatbot(app, await create_account(app))
        await add_chunk(app, chatbot, "Refunds are issued within 14 days.")
        await add_chunk(app, chatbot, "Refunds need the order number.")

        async with app.state.sessionmaker() as session:
            passages = await retrieve(session, chatbot, "refunds days", dense=None)

        assert [passage.rankings for passage in passages] == [{"lexical": 1}, {"lexical": 2}]

    async def test_term_statistics_follow_deleted_chunks(self, app: FastAPI) -> None:
        chatbot = await create_chatbot(app, await create_account(app))
        await add_chunk(app, chatbot, "Gift cards never expire.")
        await add_chunk(app, chatbot, "Gift wrapping costs two euros.")
        async with app.state.sessionmaker() as session:
            before = await repository.question_terms(session, chatbot.id, "english", "gift")
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(delete(Source).where(Source.chatbot_id == chatbot.id))
            after = await repository.question_terms(session, chatbot.id, "english", "gift")

        assert (before.frequencies, before.chunk_count) == ({"gift": 2}, 2)
        assert (after.frequencies, after.chunk_count) == ({}, 0)


def _passage(url: str | None, source_id: uuid.UUID) -> Passage:
    return Passage(uuid.uuid4(), source_id, url, "t", "", "text", 1.0)


class TestPageCap:
    def test_keeps_the_order_and_skips_a_pages_extra_passages(self) -> None:
        source = uuid.uuid4()
        ranked = [_passage(url, source) for url in ("/a", "/a", "/a", "/b", "/a", "/c", "/d")]

        kept = capped_per_page(ranked, per_page=2, limit=4)

        assert [passage.url for passage in kept] == ["/a", "/a", "/b", "/c"]

    def test_passages_without_url_count_per_source(self) -> None:
        first, second = uuid.uuid4(), uuid.uuid4()
        ranked = [_passage(None, first)] * 3 + [_passage(None, second)]

        kept = capped_per_page(ranked, per_page=1, limit=8)

        assert [passage.source_id for passage in kept] == [first, second]


def _hit(name: str, score: float, url: str | None = None) -> ChunkHit:
    """Chunk `name`, from its own text source unless it has a page `url`."""
    chunk_id = uuid.uuid5(uuid.NAMESPACE_URL, name)
    return ChunkHit(chunk_id, chunk_id, url, name, "", name, score)


class TestFusion:
    def test_chunks_ranked_well_by_both_lists_come_first(self) -> None:
        lexical = [_hit("a", 0.9), _hit("b", 0.5), _hit("c", 0.1)]
        dense = [_hit("b", 0.8), _hit("c", 0.7)]

        fused = reciprocal_rank_fusion({"lexical": lexical, "semantic": dense}, limit=2)

        assert [passage.title for passage in fused] == ["b", "c"]

    def test_the_semantic_ranking_weighs_more_than_the_lexical_one(self) -> None:
        # A visitor's paraphrase is found by meaning far more often than by its words: the
        # first of the semantic ranking outranks the first of the lexical one.
        lexical = [_hit("words", 9.0), _hit("x", 5.0), _hit("y", 1.0)]
        dense = [_hit("meaning", 0.7), _hit("z", 0.6)]

        fused = reciprocal_rank_fusion({"lexical": lexical, "semantic": dense}, limit=3)

        assert [passage.title for passage in fused] == ["meaning", "z", "words"]

    def test_the_page_both_rankings_find_leads_though_they_found_different_chunks(self) -> None:
        # The lexical ranking finds the page's table row, the semantic one its introduction:
        # chunk by chunk, another page's chunk found by meaning alone would come first.
        page = "https://docs.example/sorting.html"
        lexical = [_hit("key= row", 7.0, page), _hit("x", 3.0)]
        dense = [_hit("elsewhere", 0.62), _hit("sorting intro", 0.61, page)]

        fused = reciprocal_rank_fusion({"lexical": lexical, "semantic": dense}, limit=4)

        assert [passage.title for passage in fused] == [
            "sorting intro",  # the page's passage the fusion ranks best
            "elsewhere",
            "key= row",
            "x",
        ]

    def test_two_rankings_that_found_nothing_give_no_passage(self) -> None:
        assert reciprocal_rank_fusion({"lexical": [], "semantic": []}, limit=8) == []

    def test_the_lexical_first_stays_among_the_first_passages(self) -> None:
        # Weighted, an exact identifier match found by no other ranking would fall behind
        # every semantic neighbour; it keeps a place among the first five.
        lexical = [_hit("lru_cache", 9.0)]
        dense = [_hit(f"near {n}", 0.9 - n / 100) for n in range(20)]

        fused = reciprocal_rank_fusion({"lexical": lexical, "semantic": dense}, limit=8)

        titles = [passage.title for passage in fused]
        assert titles.index("lru_cache") == 4
        assert titles[:4] == ["near 0", "near 1", "near 2", "near 3"]
