"""How the NLU's faq gate and the knowledge base combine (benchmarks.kb_pipeline)."""

from __future__ import annotations

import pytest

from benchmarks.kb_pipeline import combine
from benchmarks.kb_sets import QuestionSet

QUESTIONS = QuestionSet(
    (("can i pay with paypal", "payment-methods"), ("how do i return it", "returns")),
    ("tell me a joke", "what are ikea's opening hours", "is it going to rain"),
)


def test_each_gate_and_both_are_counted() -> None:
    # The KB: right, then wrong; it answers two of the three unanswerable questions.
    answers = ["payment-methods", "refund-policy", "opening-hours-contact", None, "x"]
    # The NLU: faq for both answerable ones and for two unanswerable ones, not for
    # the joke.
    routed = [True, True, False, True, True]

    gates = combine(answers, routed, QUESTIONS)

    assert gates.to_faq_answerable == 1.0
    assert gates.to_faq_unanswerable == pytest.approx(2 / 3)
    assert (gates.kb_top1, gates.kb_idk_recall) == (0.5, pytest.approx(1 / 3))
    # Behind the NLU the joke never reaches the KB; "rain" gets the wrong answer.
    assert (gates.top1, gates.idk_recall) == (0.5, pytest.approx(2 / 3))


def test_a_question_the_nlu_sends_elsewhere_gets_no_article() -> None:
    answers = ["payment-methods", "returns", None, None, None]
    routed = [False, True, True, True, True]

    gates = combine(answers, routed, QUESTIONS)

    assert (gates.kb_top1, gates.top1) == (1.0, 0.5)
