"""Which words of a question name something the chatbot's sources do not know."""

from __future__ import annotations

import pytest

from sitechat.knowledge.familiarity import RARE_FROM_CHUNKS, unfamiliar_terms, vocabulary
from sitechat.knowledge.repository import QuestionTerms


def terms(unseen: set[str], known: dict[str, int] | None = None, chunks: int = 50) -> QuestionTerms:
    return QuestionTerms(known or {}, chunks, chunks * 40, frozenset(unseen))


def test_the_vocabulary_comes_with_the_installed_model() -> None:
    assert {"folder", "purchase", "guess"} <= vocabulary()


@pytest.mark.parametrize("name", ["pytorch", "patroni", "pgbouncer", "pyqt6", "mongodb"])
def test_a_product_name_the_sources_never_use_is_unfamiliar(name: str) -> None:
    assert unfamiliar_terms(terms({name, "instal"}), f"how to install {name}") == (name,)


@pytest.mark.parametrize(
    "word",
    [
        "climb",  # a word of the vocabulary
        "subfold",  # "sub" + "folder", stemmed
        "unguess",  # "un" + "guess"
        "throwaway",  # "throw" + "away"
        "poetri",  # "poetry", stemmed
        "5gb",  # a quantity, not a name
        "0.30000000000000004",
        "requests.get",  # an identifier's whole: its parts are judged on their own
    ],
)
def test_ordinary_words_values_and_compounds_are_not(word: str) -> None:
    assert unfamiliar_terms(terms({word}), f"what about {word}") == ()


def test_a_name_held_by_a_couple_of_chunks_of_large_sources_is_unfamiliar() -> None:
    # A changelog's passing mention does not make the sources about it; small sources mention
    # their own subjects only a few times, so there only absent names count.
    question = "list jupyter kernels"
    large = terms(set(), {"jupyt": 1, "list": 900}, RARE_FROM_CHUNKS)
    assert unfamiliar_terms(large, question) == ("jupyt",)
    assert unfamiliar_terms(terms(set(), {"jupyt": 1, "list": 9}, 40), question) == ()


def test_a_word_written_as_a_proper_noun_is_a_name() -> None:
    # "azure" is a word of the vocabulary; "Azure" in mid-sentence is Microsoft's cloud.
    asked = terms({"azur", "tier"})
    assert unfamiliar_terms(asked, "max connections on each Azure server tier") == ("azur",)
    assert unfamiliar_terms(asked, "Azure skies and a tier of clouds") == ()


def test_questions_to_a_chatbot_in_another_language_are_not_judged() -> None:
    # The vocabulary is English: "Rückerstattung" is an ordinary German word.
    asked = terms({"ruckerstatt"})
    assert unfamiliar_terms(asked, "wie lange dauert die Rückerstattung") == ("ruckerstatt",)
    assert unfamiliar_terms(asked, "wie lange dauert die Rückerstattung", "german") == ()


def test_an_identifier_naming_something_unknown_is_unfamiliar() -> None:
    # Identifiers come as wholes and parts (`sitechat_code_terms`); "partman" alone reads as
    # "part" + "man", but neither the extension's name nor that part is in the sources.
    asked = terms({"pg_partman", "partman"}, {"pg": 40, "partit": 30})
    assert unfamiliar_terms(asked, "pg_partman partition setup") == ("pg_partman",)


def test_the_visitors_own_column_made_of_known_words_is_not() -> None:
    asked = terms({"end_date", "start_date"}, {"end": 30, "date": 20, "start": 25})
    assert unfamiliar_terms(asked, "make sure end_date is after start_date") == ()


@pytest.mark.parametrize("word", ["voucher", "login", "mouldi", "dont"])
def test_a_small_sites_visitor_uses_dictionary_words_the_site_does_not(word: str) -> None:
    # A help center of 50 chunks never says "voucher" (it says "gift card"); the embedder's
    # vocabulary lacks the word, an English dictionary has it ("mouldi": "mouldy", stemmed;
    # "dont": "don't" typed without its apostrophe).
    assert unfamiliar_terms(terms({word}), f"what about my {word}") == ()


def test_a_contraction_without_its_apostrophe_is_a_word_on_any_site() -> None:
    large = terms({"dont"}, chunks=RARE_FROM_CHUNKS)
    assert unfamiliar_terms(large, "i dont get why my loop never ends") == ()


def test_large_sources_keep_dictionary_words_that_name_products() -> None:
    # On the Python docs, a word they never use names another product: Flask, the framework.
    asked = "flask or fastapi for a small REST API"
    assert unfamiliar_terms(terms({"flask"}, chunks=RARE_FROM_CHUNKS), asked) == ("flask",)
    assert unfamiliar_terms(terms({"flask"}), asked) == ()


@pytest.mark.parametrize("word", ["ebik", "xray", "checkup", "pickup"])
def test_a_small_sites_visitor_types_words_without_their_hyphen(word: str) -> None:
    # "ebike" for the shop's "e-bike", "checkup" for the clinic's "check-up".
    assert unfamiliar_terms(terms({word}), f"do you do {word}") == ()


@pytest.mark.parametrize("name", ["xcode", "linkedin", "ebay"])
def test_large_sources_keep_names_that_read_as_hyphenless_words(name: str) -> None:
    # "x" + "code", "linked" + "in": on the Python docs these are other products.
    large = terms({name}, chunks=RARE_FROM_CHUNKS)
    assert unfamiliar_terms(large, f"how do i set up {name}") == (name,)
