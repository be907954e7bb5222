"""Choosing the help centre's constants on a validation set (benchmarks.kb --calibrate)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from benchmarks.kb import (
    calibrate,
    compare_other_business_rule,
    compare_with_served,
    confidences,
    decisions,
    threshold_for,
)
from benchmarks.kb_sets import QuestionSet
from knowledge_base import CALIBRATION, Article, KnowledgeBase

QUESTIONS = QuestionSet(
    (
        ("when do gift cards run out", "gifts"),
        ("what does delivery cost", "ships"),
        ("is there a fee on a gift card", "gifts"),
    ),
    ("tell me a joke", "who won the game", "what is the capital of peru"),
)


@pytest.fixture(scope="module")
def kb(two_articles: list[Article]) -> KnowledgeBase:
    return KnowledgeBase(two_articles)


def test_the_chosen_constants_separate_a_separable_set(
    kb: KnowledgeBase, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = calibrate(kb, QUESTIONS)

    right, accepted = decisions(kb, QUESTIONS, chosen)
    assert right[:3].all() and accepted[:3].all()
    assert not accepted[3:].any()
    assert chosen.fallback_threshold == CALIBRATION.fallback_threshold
    assert "cross-validated" in capsys.readouterr().out


def test_a_knowledge_base_gets_the_threshold_that_separates_its_questions(
    kb: KnowledgeBase,
) -> None:
    threshold = threshold_for(kb, QUESTIONS)

    right, confidence = confidences(kb, QUESTIONS, CALIBRATION)
    assert right[:3].all()
    assert (confidence[:3] >= threshold).all() and (confidence[3:] < threshold).all()
    served = replace(CALIBRATION, threshold=threshold)
    assert decisions(kb, QUESTIONS, served)[1].tolist() == [True] * 3 + [False] * 3


def test_a_recommendation_is_served_only_when_it_wins_beyond_luck(
    kb: KnowledgeBase, capsys: pytest.CaptureFixture[str]
) -> None:
    compare_with_served(kb, QUESTIONS, CALIBRATION)
    assert "+0.000, 95% bootstrap interval [+0.000, +0.000]: keep the served" in (
        capsys.readouterr().out
    )

    # A threshold nothing reaches refuses every question: worse in every sample.
    mute = replace(CALIBRATION, threshold=5.0)
    right, accepted = decisions(kb, QUESTIONS, mute)
    assert right[:3].all() and not accepted.any()
    compare_with_served(kb, QUESTIONS, mute)
    assert "keep the served constants" in capsys.readouterr().out


def test_a_recommendation_that_wins_in_nearly_every_sample_is_served(
    kb: KnowledgeBase,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "benchmarks.kb.CALIBRATION", replace(CALIBRATION, threshold=5.0)
    )

    # Repeated, so that no resampled set lacks a kind of question.
    many = QuestionSet(QUESTIONS.answerable * 4, QUESTIONS.unanswerable * 4)

    compare_with_served(kb, many, CALIBRATION)

    assert capsys.readouterr().out.rstrip().endswith(": serve it")


def test_the_other_business_rule_is_measured_on_the_served_constants(
    two_articles: list[Article], capsys: pytest.CaptureFixture[str]
) -> None:
    question = "do frobnitz's gift cards expire"
    kb = KnowledgeBase(two_articles)
    assert kb.other_business(question) == "frobnitz"
    plain = kb.with_method("hybrid", replace(CALIBRATION, refuse_other_business=False))
    [best] = plain.rank(question, limit=1)
    assert best.score >= CALIBRATION.threshold  # answered without the rule

    compare_other_business_rule(
        kb, QuestionSet(QUESTIONS.answerable, (question, *QUESTIONS.unanswerable))
    )

    out = capsys.readouterr().out
    assert "1 unanswerable questions refused, 0 right answers lost" in out
