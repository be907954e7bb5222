"""The help centre's refusal signals compared on a question set (benchmarks.kb_signals)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.kb_sets import QuestionSet
from benchmarks.kb_signals import (
    Signals,
    best_threshold,
    collect,
    compare,
    crossed,
    evaluate,
    fit_logistic,
    logistic,
    measured,
    paired_bootstrap,
)
from knowledge_base import CALIBRATION, Article, KnowledgeBase

# Four answerable questions ranked right, one ranked wrong, three unanswerable.
RIGHT = np.array([True, True, True, True, False, False, False, False])
ANSWERABLE = np.array([True, True, True, True, True, False, False, False])


def test_the_threshold_is_the_middle_of_the_widest_best_interval() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.95, 0.3, 0.4, 0.5])

    objective, threshold, width = best_threshold(confidence, RIGHT, ANSWERABLE)

    # Everything from 0.6 up answered: top-1 4/5, every unanswerable refused.
    assert objective == (0.8, 1.8)
    assert threshold == pytest.approx(0.55)
    assert width == pytest.approx(0.1)


def test_logistic_regression_learns_which_way_a_feature_points() -> None:
    feature = np.array([[-2.0], [-1.0], [-0.5], [0.5], [1.0], [2.0]])
    labels = np.array([0.0, 0.0, 1.0, 0.0, 1.0, 1.0])

    weights = fit_logistic(feature, labels)

    assert weights[0] > 0
    assert np.array_equal(weights, fit_logistic(feature, labels))  # deterministic


def test_a_signal_that_separates_is_perfect_in_sample_and_crossed() -> None:
    signals = Signals(
        RIGHT, ANSWERABLE, {"s": np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.3, 0.4, 0.2])}
    )
    in_sample, crossed = evaluate(signals, measured("s"))

    assert in_sample == (0.8, 1.0)  # the wrongly ranked question counts as wrong
    assert crossed[1] == 1.0


def test_a_learnt_signal_is_fit_without_the_held_out_fold() -> None:
    values = {"a": np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.3, 0.4, 0.2])}
    signals = Signals(RIGHT, ANSWERABLE, values)
    train = np.arange(8) < 6
    probability = logistic(("a",))(signals, train)

    assert probability.shape == (8,)
    # Refit with the held-out questions' values changed: the model is the same.
    moved = Signals(RIGHT, ANSWERABLE, {"a": np.r_[values["a"][:6], 5.0, -5.0]})
    np.testing.assert_allclose(
        logistic(("a",))(moved, train)[:6], probability[:6], rtol=1e-12
    )


def test_each_fold_is_decided_by_a_threshold_from_the_others() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.95, 0.3, 0.4, 0.5])
    seen: list[np.ndarray] = []

    def value_for(train: np.ndarray) -> np.ndarray:
        seen.append(train.copy())
        return confidence

    accepted = crossed(RIGHT, ANSWERABLE, value_for)

    # Five folds by position, each left out of its own training set once.
    assert [np.flatnonzero(~train).tolist() for train in seen] == [
        [0, 5], [1, 6], [2, 7], [3], [4]
    ]  # fmt: skip
    # Held out with 0.7, the unanswerable 0.5 meets its fold's threshold (0.5,
    # midway between 0.4 and 0.6), although all of the set's would refuse it.
    assert accepted.tolist() == [True, True, True, True, True, False, False, True]


def test_a_bootstrap_gain_is_zero_for_the_same_decisions_and_signed() -> None:
    same = (RIGHT, np.array([True] * 5 + [False] * 3))
    assert paired_bootstrap(ANSWERABLE, same, same, samples=50) == (0.0, 0.0, 0.0)

    # Answering an unanswerable question more loses IDK recall in most samples.
    worse = (RIGHT, np.array([True] * 6 + [False] * 2))
    gain, low, high = paired_bootstrap(ANSWERABLE, same, worse, samples=200)
    assert gain < 0 and low < 0 and high <= 0
    assert paired_bootstrap(ANSWERABLE, same, worse, samples=200) == (gain, low, high)


def test_every_signal_is_compared_on_the_served_ranking(
    two_articles: list[Article], capsys: pytest.CaptureFixture[str]
) -> None:
    kb = KnowledgeBase(two_articles)
    questions = QuestionSet(
        (("when do gift cards run out", "gifts"), ("what does delivery cost", "ships")),
        ("tell me a joke", "who won the game"),
    )

    signals = collect(kb, questions, CALIBRATION)
    compare(kb, questions, CALIBRATION)

    assert signals.right.tolist() == [True, True, False, False]
    assert signals.answerable.tolist() == [True, True, False, False]
    assert set(signals.values) == {
        "hybrid confidence", "similarity", "lexical", "questions", "passages",
        "title", "margin",
    }  # fmt: skip
    printed = capsys.readouterr().out
    for name in ("hybrid confidence", "questions", "margin", "logistic("):
        assert name in printed
