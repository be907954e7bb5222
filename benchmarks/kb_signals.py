"""Which signal should decide the help centre's "I don't know"? Compared on validation.

Part of `make calibrate-kb`. For the served ranking, each validation question's best
article is fixed; what differs is the number compared with a threshold:

* ``hybrid confidence``: the served one, similarity + gate weight x lexical evidence;
* ``similarity``: the best cosine over the article's texts (passages with the bonus);
* ``questions`` / ``passages`` / ``title``: the best cosine with that kind alone;
* ``margin``: the best article's ranking score minus the second's;
* ``logistic``: a logistic regression over similarity, lexical evidence and margin
  (standardised, L2-regularised, fit by Newton's method: deterministic).

Each gets the threshold with the best :func:`objective`, chosen on all of the
validation set ("in-sample") and, to show how much of that is luck, by 5-fold
cross-validation (threshold and logistic weights chosen on four fifths, applied to
the fifth; folds by position, so the same on every run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks.kb_sets import QuestionSet
from knowledge_base import Calibration, KnowledgeBase

FOLDS = 5
L2 = 1.0
BOOTSTRAP_SAMPLES = 2000


def objective(top1: float, idk: float) -> tuple[float, float]:
    """Higher is better: the smaller of the two rates, then their sum.

    Both have the same target (0.90), and a threshold that buys one with the other
    fails a customer either way: a question an article answers sent to a person, or
    an unanswerable one given a wrong article. (Keeping IDK recall >= 0.90 first
    refused the issue's own example, "assistance seeing the accepted payment
    options".)
    """
    return (round(min(top1, idk), 4), round(top1 + idk, 4))


def best_threshold(
    confidence: np.ndarray, right: np.ndarray, answerable: np.ndarray
) -> tuple[tuple[float, float], float, float]:
    """The threshold with the best :func:`objective` of top-1 and IDK recall.

    Thresholds between two neighbouring confidences decide alike, so each candidate
    stands for an interval; the widest run of best intervals wins and the threshold
    is its middle, as far as possible from the questions on either side.

    Returns:
        The best objective, the threshold and the width of its interval.
    """
    candidates = np.unique(confidence)
    # Questions at or over each candidate, counted through sorted confidences.
    answered_right = np.sort(confidence[right & answerable])
    unanswerable = np.sort(confidence[~answerable])
    top1s = (len(answered_right) - np.searchsorted(answered_right, candidates)) / max(
        int(answerable.sum()), 1
    )
    idks = np.searchsorted(unanswerable, candidates) / max(len(unanswerable), 1)
    keys = [
        objective(float(top1), float(idk))
        for top1, idk in zip(top1s, idks, strict=True)
    ]
    best = max(keys)
    runs: list[tuple[float, float]] = []  # (low end, high end) of equal decisions
    for index, key in enumerate(keys):
        if key != best:
            continue
        low = float(candidates[index - 1]) if index else float(candidates[0]) - 0.05
        if runs and index and keys[index - 1] == best:
            runs[-1] = (runs[-1][0], float(candidates[index]))
        else:
            runs.append((low, float(candidates[index])))
    low, high = max(runs, key=lambda run: run[1] - run[0])
    return best, (low + high) / 2, round(high - low, 4)


@dataclass(frozen=True)
class Signals:
    """The validation questions' candidate signals for their best-ranked article.

    Attributes:
        right: Whether the best-ranked article is the one that answers the question.
        answerable: Whether an article answers the question at all.
        values: Each signal's value per question, by name.
    """

    right: np.ndarray
    answerable: np.ndarray
    values: dict[str, np.ndarray]


def collect(kb: KnowledgeBase, questions: QuestionSet, chosen: Calibration) -> Signals:
    """Rank every question as the served hybrid does and record each signal."""
    slugs = [article.slug for article in kb.articles]
    texts = [q for q, _ in questions.answerable] + list(questions.unanswerable)
    gold = [slugs.index(slug) for _, slug in questions.answerable]
    gold += [-1] * len(questions.unanswerable)
    rows: dict[str, list[float]] = {}
    right = []
    for text, answer in zip(texts, gold, strict=True):
        vector = kb.embed(text)
        semantic, lexical, _ = kb.signals(text, vector, chosen.passage_bonus)
        ranking = semantic.similarity + chosen.rank_lexical_weight * lexical
        first, second = np.argsort(-ranking, kind="stable")[:2]
        kinds = kb.by_kind(vector)
        right.append(first == answer)
        for name, value in (
            ("hybrid confidence", semantic.similarity[first] + chosen.gate_lexical_weight * lexical[first]),
            ("similarity", semantic.similarity[first]),
            ("lexical", lexical[first]),
            ("questions", kinds["question"][first]),
            ("passages", kinds["passage"][first]),
            ("title", kinds["title"][first]),
            ("margin", ranking[first] - ranking[second]),
        ):  # fmt: skip
            rows.setdefault(name, []).append(float(value))
    return Signals(
        np.array(right),
        np.array([answer >= 0 for answer in gold]),
        {name: np.array(values) for name, values in rows.items()},
    )


def fit_logistic(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Weights (last: the intercept) of an L2-regularised logistic regression."""
    design = np.hstack([features, np.ones((len(features), 1))])
    penalty = np.diag([L2] * features.shape[1] + [0.0])
    weights = np.zeros(design.shape[1])
    for _ in range(25):
        p = 1 / (1 + np.exp(-design @ weights))
        gradient = design.T @ (p - labels) + penalty @ weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        weights -= np.linalg.solve(hessian, gradient)
    return weights


def measured(name: str) -> Callable[[Signals, np.ndarray], np.ndarray]:
    """A signal as measured, learning nothing."""

    def value(signals: Signals, _train: np.ndarray) -> np.ndarray:
        return signals.values[name]

    return value


def logistic(names: tuple[str, ...]) -> Callable[[Signals, np.ndarray], np.ndarray]:
    """A signal learnt from others: P(the best article is the right answer)."""

    def learn(signals: Signals, train: np.ndarray) -> np.ndarray:
        features = np.column_stack([signals.values[name] for name in names])
        mean, spread = features[train].mean(0), features[train].std(0) + 1e-9
        standard = (features - mean) / spread
        labels = (signals.right & signals.answerable).astype(np.float64)
        weights = fit_logistic(standard[train], labels[train])
        return 1 / (1 + np.exp(-(standard @ weights[:-1] + weights[-1])))

    return learn


def rates(signals: Signals, accepted: np.ndarray) -> tuple[float, float]:
    """Top-1 accuracy and "I don't know" recall when ``accepted`` are answered."""
    answerable = signals.answerable
    top1 = float((signals.right & accepted)[answerable].mean())
    return top1, float((~accepted)[~answerable].mean())


def crossed(
    right: np.ndarray,
    answerable: np.ndarray,
    value_for: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Which questions are answered when each fold's threshold comes from the others.

    Args:
        right: Whether each question's best-ranked article is the right one.
        answerable: Whether an article answers each question.
        value_for: The signal for every question, given the training questions
            (a learnt signal is fit on them only).

    Returns:
        Whether each question is answered. Folds go by position (question ``i`` is
        in fold ``i % FOLDS``), so they are the same on every run.
    """
    folds = np.arange(len(right)) % FOLDS
    accepted = np.zeros(len(right), dtype=bool)
    for fold in range(FOLDS):
        train, held_out = folds != fold, folds == fold
        value = value_for(train)
        _, threshold, _ = best_threshold(value[train], right[train], answerable[train])
        accepted[held_out] = value[held_out] >= threshold
    return accepted


def paired_bootstrap(
    answerable: np.ndarray,
    before: tuple[np.ndarray, np.ndarray],
    after: tuple[np.ndarray, np.ndarray],
    samples: int = BOOTSTRAP_SAMPLES,
) -> tuple[float, float, float]:
    """How much ``after`` beats ``before`` on min(top-1, IDK recall), with its spread.

    Both are judged on the same resampled question sets (drawn with replacement,
    seeded, so the same on every run), so that what the two decide alike cancels.

    Args:
        answerable: Whether an article answers each question.
        before: ``(right, accepted)`` per question: the best article is the right
            one, and it is answered.
        after: The same for the other constants.
        samples: How many question sets are drawn.

    Returns:
        The mean gain and its 95% interval (2.5th and 97.5th percentiles).
    """
    generator = np.random.default_rng(0)
    count = len(answerable)
    gains = np.empty(samples)
    for sample in range(samples):
        drawn = generator.integers(0, count, count)
        gains[sample] = _worse_rate(answerable[drawn], after, drawn) - _worse_rate(
            answerable[drawn], before, drawn
        )
    low, high = np.percentile(gains, [2.5, 97.5])
    return float(gains.mean()), float(low), float(high)


def _worse_rate(
    answerable: np.ndarray, decided: tuple[np.ndarray, np.ndarray], drawn: np.ndarray
) -> float:
    right, accepted = decided[0][drawn], decided[1][drawn]
    top1 = (right & accepted)[answerable].mean() if answerable.any() else 1.0
    idk = (~accepted)[~answerable].mean() if (~answerable).any() else 1.0
    return float(min(top1, idk))


def evaluate(
    signals: Signals, learn: Callable[[Signals, np.ndarray], np.ndarray]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """In-sample and cross-validated (top-1, IDK recall) of one signal."""
    everything = np.ones(len(signals.right), dtype=bool)
    value = learn(signals, everything)
    _, threshold, _ = best_threshold(value, signals.right, signals.answerable)
    in_sample = rates(signals, value >= threshold)
    accepted = crossed(
        signals.right, signals.answerable, lambda train: learn(signals, train)
    )
    return in_sample, rates(signals, accepted)


def compare(kb: KnowledgeBase, questions: QuestionSet, chosen: Calibration) -> None:
    """Print each candidate signal's top-1 and IDK recall on the validation set."""
    signals = collect(kb, questions, chosen)
    names = ("hybrid confidence", "similarity", "questions", "passages", "title")
    candidates = {name: measured(name) for name in (*names, "margin")}
    candidates["logistic(similarity, lexical, margin)"] = logistic(
        ("similarity", "lexical", "margin")
    )
    print(
        f"refusal signals on the validation set (ranking right without a threshold: "
        f"{signals.right[signals.answerable].mean():.3f}); top-1 / IDK recall:"
    )
    print(f"  {'signal':<40}{'in-sample':>16}{f'{FOLDS}-fold CV':>16}")
    for name, learn in candidates.items():
        (top1, idk), (cv_top1, cv_idk) = evaluate(signals, learn)
        print(
            f"  {name:<40}{f'{top1:.3f} / {idk:.3f}':>16}"
            f"{f'{cv_top1:.3f} / {cv_idk:.3f}':>16}"
        )
