"""How the NLU's faq gate and the knowledge base combine (benchmarks.kb_pipeline)."""

from __future__ import annotations

import pytest

from benchmarks.kb_pipeline import (
    Routed,
    answer,
    choose_fallback_threshold,
    combine,
    elsewhere,
    outcome,
)
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


def routed(
    intent: str, score: float, gold: str | None, *, question: bool = True
) -> Routed:
    """A message the NLU labelled ``intent`` whose best article is "returns"."""
    return Routed(intent, 0.9, question, "returns", score, gold)


def test_the_fallback_path_answers_only_unsure_confident_questions() -> None:
    assert answer(routed("faq", 0.85, "returns"), 0.81, None) == "returns"
    assert answer(routed("faq", 0.80, "returns"), 0.81, 0.9) is None
    assert answer(routed("nlu_fallback", 0.95, "returns"), 0.81, None) is None
    assert answer(routed("nlu_fallback", 0.95, "returns"), 0.81, 0.9) == "returns"
    assert answer(routed("nlu_fallback", 0.85, "returns"), 0.81, 0.9) is None
    unsure_statement = routed("nlu_fallback", 0.95, "returns", question=False)
    assert answer(unsure_statement, 0.81, 0.9) is None
    assert answer(routed("out_of_scope", 1.5, None), 0.81, 0.9) is None


def test_outcome_counts_right_wrong_and_off_topic_answers() -> None:
    messages = [
        routed("faq", 0.9, "returns"),  # right
        routed("faq", 0.9, "refund-policy"),  # wrong article
        routed("faq", 0.5, "returns"),  # refused
        routed("nlu_fallback", 0.95, None),  # off-topic, answered by the new path
        routed("greet", 0.95, None),
    ]

    before = outcome(messages, 0.81, None)
    after = outcome(messages, 0.81, 0.9)

    assert (before.answerable, before.right, before.wrong) == (3, 1, 1)
    assert (before.others, before.others_answered) == (2, 0)
    assert before.top1 == pytest.approx(1 / 3)
    assert after.others_answered == 1


def test_the_threshold_chosen_is_the_lowest_as_precise_as_the_faq_path() -> None:
    # The faq path: 3 right of 4 answered (0.75).
    questions = [routed("faq", 0.9, "returns")] * 3 + [routed("faq", 0.9, "x")]
    # The fallback path: right at 0.95 and 0.92, wrong at 0.88, off-topic at 0.80.
    questions += [
        routed("nlu_fallback", 0.95, "returns"),
        routed("nlu_fallback", 0.92, "returns"),
        routed("nlu_fallback", 0.88, "x"),
    ]
    off_topic = [routed("nlu_fallback", 0.80, None)]
    thresholds = (0.75, 0.85, 0.90, 1.0)

    # 0.85: 2 of 3 right (< 0.75); 0.90: 2 of 2.
    assert choose_fallback_threshold(questions, off_topic, 0.81, thresholds) == 0.90


def test_the_fallback_path_is_never_laxer_than_the_faq_path() -> None:
    questions = [routed("faq", 0.9, "returns"), routed("nlu_fallback", 0.76, "returns")]

    assert choose_fallback_threshold(questions, [], 0.81, (0.75, 0.85)) == 0.85


def test_questions_sent_to_a_flow_are_counted_with_an_article_first() -> None:
    def routed(intent: str, question: bool, slug: str, gold: str | None) -> Routed:
        return Routed(intent, 0.9, question, slug, 0.9, gold)

    questions = [
        routed("faq", True, "returns", "returns"),  # the faq path's, not counted
        routed("cancel_order", True, "cancellation-fees", "cancellation-fees"),
        routed("cancel_order", False, "cancellation-fees", "cancellation-fees"),
        routed("report_problem", True, "returns", "warranty"),
        routed("out_of_scope", True, "price-match", "price-match"),
        routed("check_order_status", True, "delivery-times", None),
    ]
    requests = [
        routed("cancel_order", True, "cancellation-fees", None),
        routed("cancel_order", False, "cancellation-fees", None),
        routed("greet", True, "opening-hours-contact", None),
    ]

    places, flows, noise = elsewhere(questions, requests, threshold=0.8)

    assert places == {"flows": 3, "out_of_scope": 1}
    # The statement ("cancel it") gets no article; the question does.
    assert (flows.right, flows.wrong) == (1, 1)
    assert (flows.others_answered, flows.others) == (1, 1)
    assert noise == 1
