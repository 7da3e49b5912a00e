"""The I-don't-know rule and the sources every answerer gets."""

from __future__ import annotations

import pytest

from sitechat.chat.evidence import (
    CLOSE,
    FAMILIAR_CLOSE,
    NEAR,
    answer_sources,
    answerable,
    evidence_of,
    is_table_of_contents,
)
from tests.chat.conftest import make_passage

ANSWER = "Use a deque to add and remove items quickly at both ends."


def ranked(closeness: float, lexical: int | None, semantic: int) -> list:  # type: ignore[type-arg]
    rankings = {"semantic": semantic} | ({"lexical": lexical} if lexical else {})
    return [
        make_passage(
            ANSWER,
            rankings=rankings,
            ranking_scores={"semantic": 0.3 + closeness, "lexical": 9.0},
            closeness=closeness,
        )
    ]


class TestAnswerable:
    def test_a_close_passage_is_an_answer(self) -> None:
        assert answerable(evidence_of(ranked(CLOSE + 0.01, None, 1)))

    def test_a_near_passage_is_an_answer_only_when_both_rankings_agree(self) -> None:
        near = (CLOSE + NEAR) / 2
        assert answerable(evidence_of(ranked(near, 1, 2)))
        assert not answerable(evidence_of(ranked(near, None, 1)))
        assert not answerable(evidence_of(ranked(near, 25, 1)))

    def test_a_far_passage_is_no_answer_even_when_the_rankings_agree(self) -> None:
        assert not answerable(evidence_of(ranked(NEAR - 0.05, 1, 1)))

    def test_without_a_semantic_ranking_the_answerer_decides(self) -> None:
        lexical_only = [make_passage(ANSWER, rankings={"lexical": 1})]
        assert evidence_of(lexical_only).closeness is None
        assert answerable(evidence_of(lexical_only))

    def test_a_semantic_ranking_without_the_chatbots_baseline_is_no_evidence(self) -> None:
        # Before the embedding job records the chatbot's mean vector, a cosine similarity
        # alone says nothing calibrated: the answerer decides.
        unjudged = [
            make_passage(ANSWER, rankings={"semantic": 1}, ranking_scores={"semantic": 0.1})
        ]
        assert evidence_of(unjudged).closeness is None
        assert answerable(evidence_of(unjudged))

    def test_a_question_naming_something_the_sources_do_not_know_needs_a_very_close_passage(
        self,
    ) -> None:
        close = ranked(CLOSE + 0.01, 1, 1)
        assert answerable(evidence_of(close))
        assert not answerable(evidence_of(close, ["pytorch"]))
        assert answerable(evidence_of(ranked(FAMILIAR_CLOSE, 1, 1), ["pytorch"]))

    def test_without_a_semantic_ranking_an_unfamiliar_term_is_no_answer(self) -> None:
        lexical_only = [make_passage(ANSWER, rankings={"lexical": 1})]
        assert not answerable(evidence_of(lexical_only, ["pytorch"]))

    def test_no_passages_is_no_answer(self) -> None:
        assert not answerable(evidence_of([]))

    def test_the_sites_email_address_asked_for_is_an_answer_however_far(self) -> None:
        # A contact list resembles "email address?" little in meaning (closeness 0.15).
        contact = [
            make_passage(
                "- Phone: 01632 960418\n- E-mail: reception@dental.example",
                rankings={"semantic": 2},
                closeness=0.15,
            )
        ]
        assert answerable(evidence_of(contact, question="email address?"))
        assert answerable(evidence_of(contact, question="whats ur phone number"))
        assert not answerable(evidence_of(contact, question="do you whiten teeth"))
        assert not answerable(evidence_of(ranked(0.15, None, 1), question="email address?"))

    @pytest.mark.parametrize(
        "address",
        [
            "7 Quay Parade, Saltmouth TQ7 4HD",
            "Kastanienallee 42, 10435 Berlin",
            "Springfield, IL 62701",
        ],
    )
    def test_the_sites_address_asked_for_is_an_answer_however_far(self, address: str) -> None:
        location = [
            make_passage(f"You find us at {address}.", rankings={"semantic": 3}, closeness=0.19)
        ]
        assert answerable(evidence_of(location, question="where are you located"))
        assert answerable(evidence_of(location, question="whats the address"))
        # Misspelt, the asking word is unknown to the sources, yet not a name of something else.
        assert answerable(evidence_of(location, ("adress",), question="whats ur adress"))
        assert not answerable(evidence_of(location, question="do you open on sundays"))

    def test_a_sentence_saying_all_the_questions_words_is_an_answer_however_far(self) -> None:
        # One text source of many facts is far in meaning from a question about one of them.
        facts = [
            make_passage(
                "Our hygienist works Tuesday to Saturday, 8am to 6pm. Free Wi-Fi in the "
                "waiting room. Parking is behind the building.",
                rankings={"semantic": 1, "lexical": 1},
                closeness=0.06,
            )
        ]
        assert answerable(evidence_of(facts, question="do you have wi-fi"))
        assert answerable(evidence_of(facts, question="is the parking behind the building"))
        # One word is not enough ("park"), nor are words spread over two sentences.
        assert not answerable(evidence_of(facts, question="is there parking"))
        assert not answerable(evidence_of(facts, question="wi-fi for the hygienist"))

    def test_the_value_asked_for_stated_with_nearly_all_the_questions_words_is_an_answer(
        self,
    ) -> None:
        # The fifth passage, far in meaning: a step of a sign-up list says it.
        others = [
            make_passage(f"Payments are retried after {n} days.", closeness=0.1) for n in (3, 5, 7)
        ]
        steps = make_passage(
            "1. Sign up with your email address.\n2. Confirm your email address. The "
            "confirmation link is valid for 24 hours; ask for a new one from the sign-in page.",
            closeness=0.1,
        )
        unsaid = make_passage("Confirm your email address from the link.", closeness=0.1)
        passages = [*others, unsaid, steps]
        question = "how long is the link in the email to confirm my account valid"

        assert answerable(evidence_of(passages, question=question))
        # Not without the value, nor with two of the question's words missing.
        assert not answerable(evidence_of([*others, unsaid], question=question))
        assert not answerable(
            evidence_of(passages, question="how long is the link to reset my password valid")
        )


class TestAnswerSources:
    def test_index_search_and_contents_pages_are_not_sources(self) -> None:
        content = make_passage(ANSWER, url="https://docs.example.com/library/collections.html")
        index = make_passage(
            "- deque (class in collections)\n- deque() (built-in function)",
            url="https://docs.example.com/genindex-D.html",
        )
        contents = make_passage(
            "\n".join(f"- {n}. Section title number {n}" for n in range(1, 9)),
            url="https://docs.example.com/contents.html",
        )

        assert answer_sources([index, content, contents]) == [content]

    def test_a_list_with_something_to_say_is_a_source(self) -> None:
        steps = "To install:\n\n" + "\n".join(f"- Step {n}: run the step." for n in range(8))
        assert not is_table_of_contents(steps)
        assert is_table_of_contents("\n".join(f"- {n}. Title" for n in range(8)))
