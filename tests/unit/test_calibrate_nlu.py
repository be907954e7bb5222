"""The rejection threshold is chosen by rule from the validation set's predictions."""

from __future__ import annotations

from benchmarks.calibrate_nlu import choose, operating_point, rejected
from benchmarks.nlu import Prediction


def prediction(intent: str, best: str, confidence: float) -> Prediction:
    return Prediction("text", intent, best, confidence, best, confidence)


# Four in-scope requests (one wrong, one unsure) and two off-topic ones (one caught
# by the out_of_scope intent, one only by its low confidence).
PREDICTIONS = [
    prediction("faq", "faq", 0.95),
    prediction("faq", "faq", 0.55),
    prediction("cancel_order", "cancel_order", 0.9),
    prediction("check_order_status", "cancel_order", 0.8),
    prediction("out_of_scope", "out_of_scope", 0.99),
    prediction("out_of_scope", "faq", 0.4),
]


def test_out_of_scope_is_rejected_whatever_its_confidence() -> None:
    assert rejected(prediction("out_of_scope", "out_of_scope", 0.99), 0.3)
    assert rejected(prediction("faq", "faq", 0.29), 0.3)
    assert not rejected(prediction("faq", "faq", 0.3), 0.3)


def test_operating_point_counts_each_kind_of_decision() -> None:
    point = operating_point(PREDICTIONS, 0.5)
    assert (point.accuracy, point.false_rejection, point.rejection) == (0.75, 0.0, 1.0)
    assert point.right == 5
    higher = operating_point(PREDICTIONS, 0.6)
    assert (higher.accuracy, higher.false_rejection, higher.right) == (0.5, 0.25, 4)


def test_choose_takes_the_most_right_decisions_within_the_budget() -> None:
    points = [operating_point(PREDICTIONS, t) for t in (0.3, 0.45, 0.5, 0.6)]
    # 0.45 and 0.5 both get 5 right: the lower wins; 0.6 refuses a real request.
    assert choose(points, max_false_rejection=0.05).threshold == 0.45


def test_without_a_threshold_in_budget_the_lowest_is_taken() -> None:
    points = [operating_point(PREDICTIONS, t) for t in (0.6, 0.9)]
    assert choose(points, max_false_rejection=0.0).threshold == 0.6


def test_blend_and_threshold_are_chosen_together() -> None:
    # At blend 0.5 the misread order-status request is read right: one more right
    # decision than any point of blend 1.0, though 1.0 is the configured blend.
    better = [
        *PREDICTIONS[:3],
        prediction("check_order_status", "check_order_status", 0.8),
        *PREDICTIONS[4:],
    ]
    points = [operating_point(PREDICTIONS, t, 1.0) for t in (0.5, 0.6)] + [
        operating_point(better, t, 0.5) for t in (0.5, 0.6)
    ]

    best = choose(points, max_false_rejection=0.05, configured_blend=1.0)

    assert (best.blend, best.threshold) == (0.5, 0.5)


def test_ties_go_to_the_configured_blend() -> None:
    points = [operating_point(PREDICTIONS, 0.5, b) for b in (0.25, 0.5, 0.75)]

    assert choose(points, 0.05, configured_blend=0.75).blend == 0.75


def test_rethreshold_applies_another_threshold_to_the_best_intent() -> None:
    from benchmarks.nlu import FALLBACK, rethreshold

    unsure = Prediction("text", "faq", FALLBACK, 0.45, "faq", 0.45)

    assert rethreshold(unsure, 0.4).predicted == "faq"
    assert rethreshold(unsure, 0.5).predicted == FALLBACK


def test_the_lowest_threshold_that_refuses_enough_off_topic_wins() -> None:
    # Ten off-topic messages, three of them answered with faq at 0.35, 0.45 and
    # 0.5, and ten in-scope ones of which one is unsure (0.52): 0.55 gets the most
    # decisions right, but 0.4 already refuses the required 80% of off-topic
    # messages and refuses no customer.
    off_topic = [prediction("out_of_scope", "faq", c) for c in (0.35, 0.45, 0.5)]
    off_topic += [prediction("out_of_scope", "out_of_scope", 0.9)] * 7
    in_scope = [prediction("faq", "faq", 0.9)] * 9 + [prediction("faq", "faq", 0.52)]
    points = [operating_point(off_topic + in_scope, t) for t in (0.3, 0.4, 0.55)]

    best = choose(points, max_false_rejection=0.2, min_rejection=0.8)

    assert best.threshold == 0.4
    assert (best.rejection, best.accuracy) == (0.8, 1.0)
    assert points[2].right > best.right
