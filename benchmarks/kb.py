"""Help-centre benchmark: BM25 alone, embeddings alone and the hybrid, on the test set.

`make benchmark-kb` prints, for each method, on the frozen test set
(tests/kb_holdout/): top-1 article accuracy on the paraphrases (an "I don't know"
counts as wrong), "I don't know" recall on the unanswerable questions (the share
refused) and precision (the share of all "I don't know" answers that were right to
refuse), and the milliseconds one question takes (wall-clock mean and p50, and CPU
time, which does not grow with whatever else the machine runs), with the share of it
that is the question's embedding, and the machine's load average. Every method
starts with no question embedding kept; the line "questions asked again" times the
served hybrid on the same questions a second time, from the kept embeddings (what a
question customers ask often costs). Then the same with 200 articles: the 17 real ones plus 183 synthetic ones
(benchmarks/kb_synthetic.py), and one more line: the served weights with the
threshold chosen for 200 articles on the validation set (:func:`threshold_for`),
which shows whether one threshold still serves both sizes (the confidence's word
weights, knowledge_base.rarity, are meant not to depend on the other articles).

`python -m benchmarks.kb --calibrate` (`make calibrate-kb`) chooses the hybrid's
constants on the validation set (benchmarks.kb_sets.load_calibration: the answerable
questions of data/validation/kb/clean.yml, which no example question was written
against, and the unanswerable questions of all three files), never on the test set:
the ones that maximise the smaller of top-1 accuracy and "I don't know" recall
under 5-fold cross-validation (ties: their sum, then the same in-sample, the
wider threshold interval, the smaller bonus and weights), with the threshold in the
middle of the interval that does best on the whole set. It prints the pick's gain
over the served constants with a 95% paired-bootstrap interval: set
knowledge_base.retrieval.CALIBRATION from the pick only when that interval is above
zero. It prints the served constants' figures on each validation file, and then
compares other refusal signals for the same ranking
(benchmarks/kb_signals.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from benchmarks.kb_sets import (
    VALIDATION_FILES,
    QuestionSet,
    load_calibration,
    load_holdout,
    load_validation,
)
from benchmarks.kb_signals import (
    best_threshold,
    compare,
    crossed,
    objective,
    paired_bootstrap,
)
from benchmarks.kb_synthetic import synthetic_articles
from bot.settings import PROJECT_ROOT
from knowledge_base import (
    CALIBRATION,
    DEFAULT_ARTICLES_DIR,
    Calibration,
    EmbeddingCache,
    KnowledgeBase,
    load_articles,
    minilm_embedder,
)

CACHE_DIR = PROJECT_ROOT / "results" / "kb"
BONUSES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
RANK_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5)
GATE_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class Scores:
    """One method's figures on one question set."""

    top1: float
    idk_recall: float
    idk_precision: float
    ms_mean: float
    ms_p50: float
    cpu_ms_mean: float


def evaluate(
    kb: KnowledgeBase, questions: QuestionSet, *, again: bool = False
) -> Scores:
    """Search every question once and score the answers.

    Args:
        kb: The knowledge base, ranking its way.
        questions: The question set.
        again: Search every question once untimed first (kept embeddings); else
            start with none kept.
    """
    kb.search("warm-up question about delivery")
    kb.clear_query_cache()
    wall: list[float] = []
    cpu: list[float] = []
    answers: list[str | None] = []
    texts = [q for q, _ in questions.answerable] + list(questions.unanswerable)
    if again:
        for text in texts:
            kb.search(text)
    for text in texts:
        start, start_cpu = time.perf_counter(), time.process_time()
        match = kb.search(text)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        answers.append(match.article.slug if match else None)
    gold = [slug for _, slug in questions.answerable]
    answered = answers[: len(gold)]
    refused = answers[len(gold) :]
    idk_total = sum(answer is None for answer in answers)
    idk_right = sum(answer is None for answer in refused)
    return Scores(
        top1=sum(a == g for a, g in zip(answered, gold, strict=True)) / len(gold),
        idk_recall=idk_right / len(refused),
        idk_precision=idk_right / idk_total if idk_total else 1.0,
        ms_mean=statistics.fmean(wall),
        ms_p50=statistics.median(wall),
        cpu_ms_mean=statistics.fmean(cpu),
    )


def embedding_ms(kb: KnowledgeBase, questions: QuestionSet) -> tuple[float, float]:
    """Mean wall-clock and CPU milliseconds of the questions' embedding alone."""
    wall: list[float] = []
    cpu: list[float] = []
    kb.clear_query_cache()
    for text in [q for q, _ in questions.answerable] + list(questions.unanswerable):
        start, start_cpu = time.perf_counter(), time.process_time()
        kb.embed(text)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.fmean(wall), statistics.fmean(cpu)


def methods(kb: KnowledgeBase) -> list[tuple[str, KnowledgeBase]]:
    """The rankings compared: today's BM25, embeddings alone, both fusions."""
    rrf = replace(kb.calibration, fusion="rrf")
    return [
        ("BM25 alone (before)", kb.with_method("bm25")),
        ("embeddings alone", kb.with_method("semantic")),
        ("hybrid, weighted (served)", kb.with_method("hybrid")),
        ("hybrid, RRF ranking", kb.with_method("hybrid", rrf)),
    ]


def _cache(articles: int) -> EmbeddingCache:
    # One file per size: a cache file keeps only the last knowledge base's texts.
    return EmbeddingCache(CACHE_DIR / f"embeddings-{articles}.npz")


def benchmark() -> None:
    """Print the table for 17 and for 200 articles."""
    holdout = load_holdout()
    real = load_articles(DEFAULT_ARTICLES_DIR)
    embedder = minilm_embedder()
    print(
        f"test set: {len(holdout.answerable)} paraphrases, "
        f"{len(holdout.unanswerable)} unanswerable questions; {CALIBRATION}"
    )
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    for articles in (real, real + synthetic_articles(200 - len(real))):
        started = time.perf_counter()
        kb = KnowledgeBase(articles, embedder, _cache(len(articles)))
        print(
            f"\n=== {len(articles)} articles (built in "
            f"{time.perf_counter() - started:.1f} s) ==="
        )
        print(
            f"{'method':<28}{'top-1':>7}{'IDK rec':>9}{'IDK prec':>10}"
            f"{'ms mean':>9}{'ms p50':>8}{'CPU ms':>8}"
        )
        runs = [(name, evaluate(ranked, holdout)) for name, ranked in methods(kb)]
        runs.append(("questions asked again", evaluate(kb, holdout, again=True)))
        if articles is not real:
            threshold = threshold_for(kb, load_calibration())
            own = kb.with_method("hybrid", replace(CALIBRATION, threshold=threshold))
            runs.append((f"hybrid, threshold {threshold}", evaluate(own, holdout)))
        for name, s in runs:
            print(
                f"{name:<28}{s.top1:>7.3f}{s.idk_recall:>9.3f}{s.idk_precision:>10.3f}"
                f"{s.ms_mean:>9.1f}{s.ms_p50:>8.1f}{s.cpu_ms_mean:>8.1f}"
            )
        wall, cpu = embedding_ms(kb, holdout)
        print(
            f"of which the question's embedding: {wall:.1f} ms mean, {cpu:.1f} ms CPU "
            f"(load average {os.getloadavg()[0]:.2f})"
        )


@dataclass(frozen=True)
class _Signals:
    """One validation question's inputs to the hybrid, for one passage bonus."""

    similarity: np.ndarray
    lexical: np.ndarray


def calibrate(
    kb: KnowledgeBase, validation: QuestionSet, *, refuse_other_business: bool = True
) -> Calibration:
    """Choose the hybrid's constants on the validation set and print how they do.

    Each candidate (passage bonus, ranking and gate weights) is judged by 5-fold
    cross-validation, its threshold chosen on four folds and applied to the fifth
    (:func:`benchmarks.kb_signals.crossed`), so that a candidate whose best
    threshold only separates these questions by luck does not win; ties go to the
    in-sample figures, the wider threshold interval, then the smaller bonus and
    weights. The served threshold is then chosen on the whole set. With
    ``refuse_other_business``, questions naming another business are refused
    whatever their confidence, as :meth:`knowledge_base.KnowledgeBase.refuses`
    decides for the best-ranked article.
    """
    slugs = [article.slug for article in kb.articles]
    texts = [q for q, _ in validation.answerable] + list(validation.unanswerable)
    gold = np.array(
        [slugs.index(slug) for _, slug in validation.answerable]
        + [-1] * len(validation.unanswerable)
    )
    answerable = gold >= 0
    # Whether the hybrid refuses each question with each article first, as asking
    # about another business (the same rule as KnowledgeBase.search).
    gate = kb.with_method(
        "hybrid",
        replace(
            kb.calibration,
            refuse_other_business=refuse_other_business,
            refuse_known_business=refuse_other_business,
        ),
    )
    refused_with = np.array(
        [[gate.refuses(text, article) for article in kb.articles] for text in texts]
    )
    vectors = [kb.embed(text) for text in texts]
    results: list[tuple[tuple[float, ...], tuple[str, float, float, float, float]]] = []

    def judge(confidence: np.ndarray, right: np.ndarray, top: np.ndarray, gated: bool = True) -> tuple[tuple[float, ...], float]:  # fmt: skip
        if gated:  # the hybrid refuses these whatever its confidence
            refused = refused_with[np.arange(len(top)), top]
            confidence = np.where(refused, -1.0, confidence)
        accepted = crossed(right, answerable, lambda _train: confidence)
        top1 = float((right & accepted)[answerable].mean())
        idk = float((~accepted)[~answerable].mean())
        score, threshold, width = best_threshold(confidence, right, answerable)
        return (*objective(top1, idk), *score, width), threshold

    for bonus in BONUSES:
        signals = []
        for text, vector in zip(texts, vectors, strict=True):
            semantic, lexical, _ = kb.signals(text, vector, bonus)
            signals.append(_Signals(semantic.similarity, lexical))
        similarity = np.array([s.similarity for s in signals])
        lexical = np.array([s.lexical for s in signals])
        rows = np.arange(len(signals))
        top = similarity.argmax(axis=1)
        key, threshold = judge(similarity[rows, top], top == gold, top, gated=False)
        results.append((key, ("semantic", bonus, 0.0, 0.0, threshold)))
        for w in RANK_WEIGHTS:
            top = (similarity + w * lexical).argmax(axis=1)
            for a in GATE_WEIGHTS:
                confidence = similarity[rows, top] + a * lexical[rows, top]
                key, threshold = judge(confidence, top == gold, top)
                results.append((key, ("hybrid", bonus, w, a, threshold)))
    # Ties go to the smaller bonus and lexical weights (the least adjusted ranking).
    results.sort(key=lambda r: (r[0], -r[1][1], -r[1][2], -r[1][3]), reverse=True)
    print(
        "best on the validation set (min and sum of top-1 and IDK recall, "
        "cross-validated, then in-sample; width of the threshold's interval):"
    )
    for key, params in results[:8]:
        print(f"  {key}  {params}")
    for rank_weight in RANK_WEIGHTS:
        key, params = next(r for r in results if r[1][0] == "hybrid" and r[1][2] == rank_weight)  # fmt: skip
        print(f"  best with rank weight {rank_weight}: {key} {params}")
    _, bonus, w, a, threshold = next(p for s, p in results if p[0] == "hybrid")
    # Semantic alone with the same passage bonus, since the two share the index.
    semantic_best = next(p for s, p in results if p[0] == "semantic" and p[1] == bonus)
    return Calibration(
        passage_bonus=bonus,
        rank_lexical_weight=w,
        gate_lexical_weight=a,
        threshold=round(threshold, 3),
        fallback_threshold=CALIBRATION.fallback_threshold,
        semantic_threshold=round(semantic_best[4], 3),
        refuse_other_business=refuse_other_business,
        refuse_known_business=refuse_other_business,
    )


def _answerable(questions: QuestionSet) -> np.ndarray:
    """Per question, answerable ones first as everywhere here: is it answerable."""
    return np.array(
        [True] * len(questions.answerable) + [False] * len(questions.unanswerable)
    )


def confidences(
    kb: KnowledgeBase, questions: QuestionSet, calibration: Calibration
) -> tuple[np.ndarray, np.ndarray]:
    """Per question: is the hybrid's best article the right one, and its confidence.

    A question the hybrid refuses whatever its confidence (another business) gets -1.
    """
    ranked = kb.with_method("hybrid", calibration)
    right, confidence = [], []
    texts: list[tuple[str, str | None]] = [*questions.answerable]
    texts += [(q, None) for q in questions.unanswerable]
    for text, slug in texts:
        [best] = ranked.rank(text, limit=1)
        right.append(best.article.slug == slug)
        confidence.append(-1.0 if ranked.refuses(text, best.article) else best.score)
    return np.array(right), np.array(confidence)


def decisions(
    kb: KnowledgeBase, questions: QuestionSet, calibration: Calibration
) -> tuple[np.ndarray, np.ndarray]:
    """Per question: is the hybrid's best article the right one, and is it answered."""
    right, confidence = confidences(kb, questions, calibration)
    return right, confidence >= calibration.threshold


def threshold_for(kb: KnowledgeBase, validation: QuestionSet) -> float:
    """The served weights' threshold for this knowledge base, chosen on validation.

    As :func:`calibrate` chooses the served one, for the served weights: with 200
    articles it tells whether the served threshold still fits a bigger help centre
    (17 and 200 articles: 0.752 and 0.807 with coverage weighed by BM25's IDF over
    the articles; 0.807 and 0.808 weighed by rarity in customers' messages,
    knowledge_base.rarity).
    """
    right, confidence = confidences(kb, validation, CALIBRATION)
    answerable = _answerable(validation)
    _, threshold, _ = best_threshold(confidence, right, answerable)
    return round(threshold, 3)


def compare_with_served(
    kb: KnowledgeBase, questions: QuestionSet, chosen: Calibration
) -> None:
    """Print the recommendation's gain over the served constants, with its spread.

    Serve a recommendation only when the interval is above zero: the validation set
    is a few hundred questions, and constants that win it by two or three of them
    won by luck as often as not.
    """
    answerable = _answerable(questions)
    gain, low, high = paired_bootstrap(
        answerable,
        decisions(kb, questions, CALIBRATION),
        decisions(kb, questions, chosen),
    )
    verdict = "serve it" if low > 0 else "keep the served constants"
    print(
        f"recommended minus served, min(top-1, IDK recall) on the validation set: "
        f"{gain:+.3f}, 95% bootstrap interval [{low:+.3f}, {high:+.3f}]: {verdict}"
    )


def compare_other_business_rule(kb: KnowledgeBase, questions: QuestionSet) -> None:
    """Print what refusing questions about another business does to the served constants.

    For each rule (an unknown word in a name's place; a listed well-known business),
    the gain in min(top-1, IDK recall) over the served constants without it, with its
    95% paired-bootstrap interval, the unanswerable questions it refuses and the
    right answers it loses.
    """
    answerable = _answerable(questions)
    with_rules = decisions(kb, questions, CALIBRATION)
    for name, without_rule in (
        ("naming another business", replace(CALIBRATION, refuse_other_business=False)),
        (
            "naming a listed well-known business",
            replace(CALIBRATION, refuse_known_business=False),
        ),
    ):
        without = decisions(kb, questions, without_rule)
        gain, low, high = paired_bootstrap(answerable, without, with_rules)
        hurt = int(np.sum(without[0] & without[1] & ~with_rules[1] & answerable))
        saved = int(np.sum(without[1] & ~with_rules[1] & ~answerable))
        print(
            f"refusing questions {name}, served constants: {gain:+.3f}, 95% "
            f"bootstrap interval [{low:+.3f}, {high:+.3f}]; {saved} unanswerable "
            f"questions refused, {hurt} right answers lost"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="choose the constants on the validation set instead",
    )
    args = parser.parse_args(argv)
    if args.calibrate:
        kb = KnowledgeBase(
            load_articles(DEFAULT_ARTICLES_DIR),
            minilm_embedder(),
            _cache(17),
        )
        validation = load_calibration()
        chosen = calibrate(kb, validation)
        print(f"recommended: {chosen}")
        print(f"served:      {CALIBRATION}")
        for name, ranked in methods(kb.with_method("hybrid", chosen)):
            s = evaluate(ranked, validation)
            print(
                f"  {name:<28} validation top-1 {s.top1:.3f}, IDK recall {s.idk_recall:.3f}"
            )
        print("the served constants on each validation file, top-1 / IDK recall:")
        for path in VALIDATION_FILES:
            s = evaluate(kb, load_validation(path))
            print(f"  {path.name:<16} {s.top1:.3f} / {s.idk_recall:.3f}")
        compare_with_served(kb, validation, chosen)
        bigger = KnowledgeBase(
            kb.articles + synthetic_articles(200 - len(kb.articles)),
            minilm_embedder(),
            _cache(200),
        )
        print(
            f"the served weights' best threshold on the validation set: "
            f"{threshold_for(kb, validation)} with {len(kb.articles)} articles, "
            f"{threshold_for(bigger, validation)} with 200 (served: "
            f"{CALIBRATION.threshold})"
        )
        compare_other_business_rule(kb, validation)
        compare(kb, validation, chosen)
        return 0
    benchmark()
    return 0


if __name__ == "__main__":
    sys.exit(main())
