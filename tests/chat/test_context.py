"""How a follow-up's joined query is made and taken apart (`chat/context.py`)."""

from __future__ import annotations

import pytest

from sitechat.chat.context import (
    asks_on_its_own,
    joined,
    leans_on_previous,
    one_line,
    own_words,
)


def test_a_follow_ups_own_words_come_back_from_its_joined_query() -> None:
    query = joined("do you hire out\nbikes?", "and for a\nwhole week?")

    assert own_words(query) == "and for a whole week?"
    assert query.startswith("do you hire out bikes?")


def test_a_question_on_two_lines_is_all_the_visitors_own_words() -> None:
    question = "my battery is dead.\nhow long will that take"

    assert own_words(one_line(question)) == "my battery is dead. how long will that take"


@pytest.mark.parametrize(
    ("message", "leans"),
    [
        ("does it hurt", True),
        ("and for 4 people?", True),
        ("what time tho", True),  # against the days asked before
        ("can i pay by card instead", True),
        ("when r u open on saturday", False),
        ("and do you sell pizza", False),
    ],
)
def test_what_leans_on_the_previous_question(message: str, leans: bool) -> None:
    assert leans_on_previous(message) is leans


@pytest.mark.parametrize(
    ("message", "own"),
    [
        ("do you sell pizza", True),
        ("ok. is there wifi", True),
        ("how much roughly", False),
        # After "do you take apple pay" this got the payment paragraph again.
        ("who owns the shop", True),
        ("ok great, where can i park", True),
        ("why not", False),
        # After "wheelchair access" this got the accessibility paragraph again.
        ("what do i bring to my first appointment", True),
        ("what about saturdays", False),
        ("how long max", False),
    ],
)
def test_what_asks_on_its_own(message: str, own: bool) -> None:
    assert asks_on_its_own(message) is own
