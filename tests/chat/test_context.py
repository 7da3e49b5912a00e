"""How a follow-up's joined query is made and taken apart (`chat/context.py`)."""

from __future__ import annotations

from sitechat.chat.context import joined, one_line, own_words


def test_a_follow_ups_own_words_come_back_from_its_joined_query() -> None:
    query = joined("do you hire out\nbikes?", "and for a\nwhole week?")

    assert own_words(query) == "and for a whole week?"
    assert query.startswith("do you hire out bikes?")


def test_a_question_on_two_lines_is_all_the_visitors_own_words() -> None:
    question = "my battery is dead.\nhow long will that take"

    assert own_words(one_line(question)) == "my battery is dead. how long will that take"
