"""A visitor's misspelt word is read as the word the chatbot's sources use."""

from __future__ import annotations

from fastapi import FastAPI

from sitechat.knowledge.familiarity import RARE_FROM_CHUNKS
from sitechat.knowledge.repository import QuestionTerms
from sitechat.knowledge.service import Retrieved, retrieve_for_answer
from sitechat.knowledge.spelling import misspelling_candidates
from sitechat.models import Chatbot
from tests.fixtures.chat import add_chunk, create_account, create_chatbot

HYGIENIST = "Our hygienist works Tuesday to Saturday, 8am to 6pm."
WIFI = "Is there Wi-Fi in the waiting room? Yes, free Wi-Fi: the network is Harbourside-Guest."


async def _bot(app: FastAPI, *texts: str) -> Chatbot:
    chatbot = await create_chatbot(app, await create_account(app))
    for content in texts:
        await add_chunk(app, chatbot, content)
    return chatbot


async def _retrieved(app: FastAPI, chatbot: Chatbot, question: str) -> Retrieved:
    async with app.state.sessionmaker() as session:
        return await retrieve_for_answer(session, chatbot, question, dense=None)


async def test_a_misspelt_word_is_read_as_the_sources_spelling(app: FastAPI) -> None:
    chatbot = await _bot(app, HYGIENIST, WIFI)

    retrieved = await _retrieved(app, chatbot, "Hygenist on a monday? can i see the hygenist")

    assert retrieved.query == "hygienist on a monday? can i see the hygienist"
    assert [p.text for p in retrieved.passages] == [HYGIENIST]
    assert retrieved.unfamiliar_terms == ()


async def test_a_word_typed_without_its_hyphen_gets_it(app: FastAPI) -> None:
    chatbot = await _bot(app, HYGIENIST, WIFI)

    retrieved = await _retrieved(app, chatbot, "do u have wifi")

    assert retrieved.query == "do u have wi-fi"
    assert [p.text for p in retrieved.passages] == [WIFI]


async def test_a_visitors_shorthand_is_read_as_the_sites_words(app: FastAPI) -> None:
    payment = "We take cards and American Express, not cheques."
    chatbot = await _bot(app, HYGIENIST, payment, "Book an appointment online or by phone.")

    retrieved = await _retrieved(app, chatbot, "do u take amex? can i book an appt")

    assert retrieved.query == "do u take american express? can i book an appointment"
    assert payment in [p.text for p in retrieved.passages]


async def test_shorthand_the_site_uses_is_left_alone(app: FastAPI) -> None:
    chatbot = await _bot(app, "Book an appt online; we take Amex.")

    assert (await _retrieved(app, chatbot, "do u take amex")).query == "do u take amex"


async def test_a_dictionary_word_is_asked_as_such(app: FastAPI) -> None:
    # "flask" is one letter from the site's "flash", but a word: the visitor means a flask.
    chatbot = await _bot(app, "We flash-test every light we fit, and we flash your firmware.")

    retrieved = await _retrieved(app, chatbot, "do you sell a drinks flask")

    assert retrieved.query == "do you sell a drinks flask"
    assert retrieved.passages == []


async def test_a_word_the_sources_hold_as_typed_is_left_alone(app: FastAPI) -> None:
    chatbot = await _bot(app, HYGIENIST, "Book the hygenist online (sic: our old booking page).")

    retrieved = await _retrieved(app, chatbot, "book the hygenist")

    assert retrieved.query == "book the hygenist"


async def test_names_and_unknown_words_without_a_neighbour_stay_as_typed(app: FastAPI) -> None:
    chatbot = await _bot(app, HYGIENIST)

    # "Hygenist" written as a name in mid-sentence; "zzyzx" has no neighbour in the sources.
    for question in ("is Hygenist a brand you stock", "can the hygienist see zzyzx"):
        assert (await _retrieved(app, chatbot, question)).query == question


async def test_a_chatbot_in_another_language_is_read_as_typed(app: FastAPI) -> None:
    # The word lists that tell a misspelling from a word are English: "hygienistinen" is not
    # judged a misspelling of the site's "hygienistinnen" (a chatbot of a language PostgreSQL
    # does not stem, so the lexeme is the word).
    chatbot = await create_chatbot(app, await create_account(app), language="simple")
    await add_chunk(app, chatbot, "Unsere hygienistinnen arbeiten dienstags bis samstags.")

    retrieved = await _retrieved(app, chatbot, "wann arbeiten die hygienistinen")

    assert retrieved.query == "wann arbeiten die hygienistinen"


def test_a_misspelling_that_reads_as_a_plural_is_tried() -> None:
    small = QuestionTerms({}, 50, 50 * 40, frozenset({"acess"}))

    # "acess" is "aces" with an "s" more, no word: "access" is tried.
    assert "access" in misspelling_candidates("wheelchair acess", small)["acess"]
    # "heals" is a word ("heal"), asked as such.
    assert "heals" not in misspelling_candidates("how long till it heals", small)


def test_large_sources_only_add_hyphens() -> None:
    # Other products' names lie one letter from a large site's words ("citus" / "cites").
    large = QuestionTerms({}, RARE_FROM_CHUNKS, RARE_FROM_CHUNKS * 40, frozenset({"wisdon"}))
    small = QuestionTerms({}, 50, 50 * 40, frozenset({"wisdon"}))

    on_large = misspelling_candidates("wisdon tooth", large)["wisdon"]
    on_small = misspelling_candidates("wisdon tooth", small)["wisdon"]

    assert on_large == ["w-isdon", "wi-sdon", "wis-don", "wisd-on", "wisdo-n"]
    assert "wisdom" in on_small and "wis-don" in on_small
