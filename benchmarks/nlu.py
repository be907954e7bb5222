"""NLU benchmark: the trained model on every held-out set in tests/nlu_holdout/.

Run with `make benchmark-nlu`. Per set: intent accuracy, macro F1, the most frequent
confusions, how often off-topic messages are rejected (predicted out_of_scope, or
nlu_fallback because the FallbackClassifier found no intent confident enough) and how
often in-scope ones are wrongly rejected, and milliseconds per message; the in-scope sets once more with one typo per message
(:func:`with_typos`). The held-out
sets are never used for training or for choosing thresholds, so these figures measure
generalisation; predictions are written to results/nlu_holdout/<set>.json.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bot.launch import model_path, training_time_path
from bot.nlu.classifier import SentenceIntentClassifier
from bot.quiet import quiet_warnings
from bot.settings import PROJECT_ROOT

HOLDOUT_DIR = PROJECT_ROOT / "tests" / "nlu_holdout"
OUT = PROJECT_ROOT / "results" / "nlu_holdout"
OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
# A model without an out_of_scope intent can still reject through the fallback.
REJECTED = frozenset({OUT_OF_SCOPE, FALLBACK})
# In-scope held-out sets also measured with one typo per message (seeded, so the
# figure is comparable between models).
TYPO_SETS = ("nlu", "style")
TYPO_SEED = 11


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one held-out example."""

    text: str
    intent: str
    predicted: str
    confidence: float
    # The best real intent and its confidence, whether or not the fallback took over:
    # what a threshold is calibrated on.
    best_intent: str = ""
    best_confidence: float = 0.0


@dataclass(frozen=True)
class SetScores:
    """The figures printed for one held-out set."""

    examples: int
    accuracy: float
    macro_f1: float
    rejection_rate: float | None  # share of out_of_scope examples rejected
    false_rejection_rate: float | None  # share of in-scope examples rejected
    confusions: list[tuple[str, str, int]]
    per_intent: dict[str, tuple[float, float, float, int]]  # precision, recall, f1, n


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs of a Rasa NLU YAML file, entity annotations removed."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def score(predictions: list[Prediction]) -> SetScores:
    """Accuracy, macro F1 over the set's intents, rejections and confusions."""
    true = Counter(p.intent for p in predictions)
    predicted = Counter(p.predicted for p in predictions)
    right = Counter(p.intent for p in predictions if p.predicted == p.intent)
    per_intent = {}
    for intent, n in true.items():
        precision = right[intent] / predicted[intent] if predicted[intent] else 0.0
        recall = right[intent] / n
        f1 = 2 * precision * recall / (precision + recall) if right[intent] else 0.0
        per_intent[intent] = (precision, recall, f1, n)
    off_topic = [p for p in predictions if p.intent == OUT_OF_SCOPE]
    in_scope = [p for p in predictions if p.intent != OUT_OF_SCOPE]
    errors = Counter(
        (p.intent, p.predicted) for p in predictions if p.predicted != p.intent
    )
    return SetScores(
        examples=len(predictions),
        accuracy=sum(right.values()) / len(predictions),
        macro_f1=sum(row[2] for row in per_intent.values()) / len(per_intent),
        rejection_rate=_rate(
            sum(p.predicted in REJECTED for p in off_topic), len(off_topic)
        ),
        false_rejection_rate=_rate(
            sum(p.predicted in REJECTED for p in in_scope), len(in_scope)
        ),
        confusions=[(t, p, n) for (t, p), n in errors.most_common(10)],
        per_intent=per_intent,
    )


def sentence_classifiers(agent: Any) -> list[SentenceIntentClassifier]:
    """The loaded model's SentenceIntentClassifier instances (usually none or one).

    Reads the graph runner's instantiated nodes: Rasa has no public accessor for a
    loaded component, and this is a benchmark, never the serving path.
    """
    runner = agent.processor.graph_runner
    nodes = getattr(runner, "_instantiated_nodes", {}).values()
    return [
        node._component  # type: ignore[misc]
        for node in nodes
        if isinstance(getattr(node, "_component", None), SentenceIntentClassifier)
    ]


async def predict(agent: object, examples: list[tuple[str, str]]) -> list[Prediction]:
    """The model's intent for each example, parsed one message at a time."""
    predictions = []
    for text, intent in examples:
        result = await agent.parse_message(text)  # type: ignore[attr-defined]
        top = result.get("intent") or {}
        ranking = [
            r for r in result.get("intent_ranking") or [] if r.get("name") != FALLBACK
        ]
        best = ranking[0] if ranking else top
        predictions.append(
            Prediction(
                text,
                intent,
                str(top.get("name")),
                float(top.get("confidence") or 0.0),
                str(best.get("name")),
                float(best.get("confidence") or 0.0),
            )
        )
    return predictions


def report(name: str, scores: SetScores, ms_per_message: float) -> None:
    """Print one set's figures."""
    print(f"\n=== {name}: {scores.examples} examples ===")
    if len(scores.per_intent) > 1:
        print(f"{'intent':<22}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>5}")
        for intent, (p, r, f1, n) in sorted(
            scores.per_intent.items(), key=lambda item: item[1][2]
        ):
            print(f"{intent:<22}{p:>10.3f}{r:>8.3f}{f1:>8.3f}{n:>5}")
    print(f"intent accuracy:      {scores.accuracy:.3f}")
    print(f"macro F1:             {scores.macro_f1:.3f}")
    if scores.rejection_rate is not None:
        print(
            f"rejection rate:       {scores.rejection_rate:.3f}  (off-topic examples "
            f"predicted {' or '.join(sorted(REJECTED))})"
        )
    if scores.false_rejection_rate is not None:
        print(
            f"false rejection rate: {scores.false_rejection_rate:.3f}  (in-scope "
            "examples rejected)"
        )
    print(f"ms per message:       {ms_per_message:.1f}")
    print("most frequent confusions (true -> predicted):")
    for true, predicted, n in scores.confusions:
        print(f"  {true} -> {predicted}: {n}")


def training_time(model: Path) -> str:
    """How long `make train` took for the served model, as `bot train` recorded it."""
    record = training_time_path()
    if model != model_path() or not record.exists():
        return "training time: not recorded for this model (recorded by `make train`)"
    seconds = json.loads(record.read_text())
    return (
        f"training time: {seconds['wall_seconds']:.0f} s wall, "
        f"{seconds['cpu_seconds']:.0f} s CPU (make train, on this machine)"
    )


def rethreshold(prediction: Prediction, threshold: float) -> Prediction:
    """The prediction as a rejection threshold of `threshold` would have made it."""
    predicted = prediction.best_intent
    if prediction.best_confidence < threshold:
        predicted = FALLBACK
    return replace(prediction, predicted=predicted)


async def run(
    paths: list[Path],
    model: Path,
    blend: float | None = None,
    threshold: float | None = None,
) -> None:
    """Load the model once and benchmark every held-out set.

    Args:
        paths: The held-out sets.
        model: The trained model.
        blend: Another DIET share for the model's SentenceIntentClassifier (a design
            comparison: 0 is the embedding classifier alone, 1 DIET alone).
        threshold: Another rejection threshold, applied to the best intent's
            confidence instead of the model's FallbackClassifier.
    """
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    print(f"Model: {model}")
    print(training_time(model))
    if blend is not None:
        classifiers = sentence_classifiers(agent)
        if not classifiers:
            raise SystemExit(f"{model} has no SentenceIntentClassifier to blend")
        for classifier in classifiers:
            classifier.blend = blend
        print(f"blend (DIET's share) set to {blend}")
    if threshold is not None:
        print(f"rejection threshold set to {threshold} (instead of the model's)")
    OUT.mkdir(parents=True, exist_ok=True)
    in_scope: list[tuple[str, str]] = []
    for path in paths:
        examples = load_examples(path)
        if path.stem in TYPO_SETS:
            in_scope.extend(examples)
        await _benchmark_set(
            agent, str(path.relative_to(PROJECT_ROOT)), path.stem, examples, threshold
        )
    if in_scope:
        await _benchmark_set(
            agent,
            f"{' + '.join(TYPO_SETS)}, one typo per message (seed {TYPO_SEED})",
            "typos",
            with_typos(in_scope, random.Random(TYPO_SEED)),
            threshold,
        )


async def _benchmark_set(
    agent: Any,
    name: str,
    stem: str,
    examples: list[tuple[str, str]],
    threshold: float | None,
) -> None:
    """Predict, print and store one set's figures."""
    started = time.perf_counter()
    predictions = await predict(agent, examples)
    elapsed = time.perf_counter() - started
    if threshold is not None:
        predictions = [rethreshold(p, threshold) for p in predictions]
    report(name, score(predictions), 1000 * elapsed / max(len(examples), 1))
    (OUT / f"{stem}.json").write_text(
        json.dumps([asdict(p) for p in predictions], indent=1)
    )


def with_typos(
    examples: list[tuple[str, str]], rng: random.Random
) -> list[tuple[str, str]]:
    """Each example with one typo, as hurried customers type.

    One word of 5+ letters gets a letter dropped, two swapped or one wrong (never
    the first or last letter); examples without such a word stay as they are.
    """
    typed = []
    for text, intent in examples:
        words = text.split(" ")
        long_words = [
            i for i, word in enumerate(words) if len(word) >= 5 and word.isalpha()
        ]
        if long_words:
            index = rng.choice(long_words)
            word = words[index]
            at = rng.randrange(1, len(word) - 2)
            kind = rng.choice("dsw")
            if kind == "d":
                word = word[:at] + word[at + 1 :]
            elif kind == "s":
                word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
            else:
                word = word[:at] + rng.choice("aeiourstnl") + word[at + 1 :]
            words[index] = word
        typed.append((" ".join(words), intent))
    return typed


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.nlu [MODEL] [--blend W] [--threshold T]`.

    The served model unless one is named; --blend and --threshold compare designs
    on the same trained model (see :func:`run`).
    """
    import argparse

    quiet_warnings()
    from rasa.utils.log_utils import configure_structlog

    parser = argparse.ArgumentParser(prog="python -m benchmarks.nlu")
    parser.add_argument("model", nargs="?", type=Path, default=model_path())
    parser.add_argument("--blend", type=float)
    parser.add_argument("--threshold", type=float)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    configure_structlog(logging.ERROR)  # Rasa logs every parse at debug level
    paths = sorted(HOLDOUT_DIR.glob("*.yml"))
    if not args.model.exists():
        print(f"No trained model at {args.model}: run `make train` first.")
        return 1
    asyncio.run(run(paths, args.model, args.blend, args.threshold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
