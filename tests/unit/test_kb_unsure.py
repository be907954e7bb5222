"""Tests for the help centre as the fallback's first rung (knowledge_base.unsure)."""

from __future__ import annotations

import pytest

from knowledge_base import CALIBRATION, KnowledgeBase
from knowledge_base.unsure import answer_when_unsure, is_question


@pytest.fixture(scope="module")
def kb(help_centre: KnowledgeBase) -> KnowledgeBase:
    return help_centre


@pytest.mark.parametrize(
    "text",
    [
        "can i pay with paypal?",
        "gift cards expire?!",
        "what's your returns policy",
        "whats ur returns policy",
        "how long do refunds take",
        "hi there, so how do i return a lamp",
        "Hello. Do you ship to Canada",
        "any way to change the delivery address",
        "i'd like to know if you price match",
        "I was wondering about warranties",
        "tell me about gift cards",
        "is it possible to pay in instalments",
        "refund goes back to which card",
        "returns take how long",
    ],
)
def test_questions_are_recognised_typed_or_spoken(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "help",
        "hi",
        "returns policy",
        "my parcel never came",
        "the kettle leaks all over the counter",
        "blorp",
        "I'm not sure what happened",
        "question",
        "I know what I ordered and it is not this",
    ],
)
def test_statements_and_fragments_are_not_questions(text: str) -> None:
    assert not is_question(text)


def test_a_question_the_help_centre_knows_gets_its_article(kb: KnowledgeBase) -> None:
    match = answer_when_unsure(kb, "can i pay with paypal?")

    assert match is not None and match.article.slug == "payment-methods"
    assert match.score >= CALIBRATION.fallback_threshold


def test_a_statement_gets_no_article_however_well_it_matches(kb: KnowledgeBase) -> None:
    # "returns policy" is answered on the faq path; unsure of it, the NLU asks again.
    assert kb.search("returns policy") is not None
    assert answer_when_unsure(kb, "returns policy") is None


def test_an_off_topic_question_gets_no_article(kb: KnowledgeBase) -> None:
    assert answer_when_unsure(kb, "what's the weather like tomorrow?") is None
    assert answer_when_unsure(kb, "do you sell used cars?") is None


def test_the_fallback_threshold_is_the_one_applied(kb: KnowledgeBase) -> None:
    [best] = kb.rank("how long do refunds take", limit=1)

    assert answer_when_unsure(kb, "how long do refunds take", best.score) is not None
    assert answer_when_unsure(kb, "how long do refunds take", best.score + 0.01) is None
