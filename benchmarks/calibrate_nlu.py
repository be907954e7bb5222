"""Choose the NLU rejection threshold on the validation set, not by hand.

`make calibrate-nlu` parses every file in data/validation/ (never trained on, and not
a test set: `nlu.yml` by the training data's author, `nlu_customers.yml` by another
author in real customers' styles, `nlu_unclear.yml` of messages too vague to act on,
labelled out_of_scope because refusing them is right) with the trained model and,
for each candidate threshold, counts: in-scope
messages answered with the right intent, in-scope messages wrongly rejected, and
off-topic messages rejected (predicted out_of_scope, or no intent as confident as the
threshold). It recommends the threshold that answers the most in-scope messages
right among those that refuse at least MIN_REJECTION of the off-topic and vague ones
and wrongly reject at most MAX_FALSE_REJECTION of in-scope ones (ties: the lower
threshold); FallbackClassifier's `threshold` in config.yml is set from it. When no
threshold refuses enough, the one with the most right decisions within the
false-rejection budget is taken.

When the pipeline has a SentenceIntentClassifier (bot/nlu/classifier.py), the share of
DIET in its blend is chosen the same way and at the same time: every candidate blend
is tried on the validation set (the loaded component's weight is changed in this
process only) and the pair (blend, threshold) is chosen by the same rule; ties go to
the lower threshold, then to the blend in config.yml.

Why anchor on the off-topic rate: it holds from the validation set to the held-out
sets (0.948 against 0.955 at one threshold), while in-scope confidence does not. On a
validation set partly written by the training data's authors, in-scope requests look
surer than other people's (1-3% refused there against ~10% on the style set at the
same threshold), so a rule that spends the in-scope budget on the validation set
pushes the threshold up and refuses real customers for a few more off-topic
messages. The lowest threshold that refuses enough off-topic messages (the issue's
target is 0.90; MIN_REJECTION keeps a margin) refuses the fewest customers.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.nlu import (
    OUT_OF_SCOPE,
    Prediction,
    load_examples,
    predict,
    sentence_classifiers,
)
from bot.launch import model_path
from bot.quiet import quiet_warnings
from bot.settings import PROJECT_ROOT

VALIDATION_DIR = PROJECT_ROOT / "data" / "validation"
MAX_FALSE_REJECTION = 0.05
# The off-topic target is 0.90 refused; two points of margin for a new set.
MIN_REJECTION = 0.92
CANDIDATES = tuple(round(0.20 + 0.05 * i, 2) for i in range(16))  # 0.20 .. 0.95
BLENDS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Operating:
    """What one threshold does on the validation set."""

    threshold: float
    blend: float | None  # the SentenceIntentClassifier's DIET share, if it has one
    accuracy: float  # in-scope messages answered with their intent
    false_rejection: float  # in-scope messages rejected
    rejection: float  # off-topic messages rejected
    right: int  # in-scope answered with their intent + off-topic rejected


def rejected(prediction: Prediction, threshold: float) -> bool:
    """Whether the assistant refuses this message at `threshold`."""
    return (
        prediction.best_intent == OUT_OF_SCOPE or prediction.best_confidence < threshold
    )


def operating_point(
    predictions: list[Prediction], threshold: float, blend: float | None = None
) -> Operating:
    """The three rates of `threshold` (at `blend`) over `predictions`."""
    in_scope = [p for p in predictions if p.intent != OUT_OF_SCOPE]
    off_topic = [p for p in predictions if p.intent == OUT_OF_SCOPE]
    return Operating(
        threshold=threshold,
        blend=blend,
        accuracy=sum(
            not rejected(p, threshold) and p.best_intent == p.intent for p in in_scope
        )
        / max(len(in_scope), 1),
        false_rejection=sum(rejected(p, threshold) for p in in_scope)
        / max(len(in_scope), 1),
        rejection=sum(rejected(p, threshold) for p in off_topic)
        / max(len(off_topic), 1),
        right=sum(
            not rejected(p, threshold) and p.best_intent == p.intent for p in in_scope
        )
        + sum(rejected(p, threshold) for p in off_topic),
    )


def choose(
    points: list[Operating],
    max_false_rejection: float,
    configured_blend: float | None = None,
    min_rejection: float = MIN_REJECTION,
) -> Operating:
    """The most in-scope messages right among points that refuse enough off-topic.

    Points must refuse at least `min_rejection` of off-topic messages and wrongly
    reject at most `max_false_rejection` of in-scope ones. Ties go to the lowest
    threshold, then to the blend nearest the configured one. Without such a point:
    the most right decisions within the false-rejection budget (same ties), and
    without that either, the lowest threshold.
    """

    def blend_distance(p: Operating) -> float:
        if p.blend is None or configured_blend is None:
            return 0.0
        return abs(p.blend - configured_blend)

    allowed = [p for p in points if p.false_rejection <= max_false_rejection]
    if not allowed:
        return min(points, key=lambda p: (p.threshold, blend_distance(p)))
    enough = [p for p in allowed if p.rejection >= min_rejection]
    if enough:
        return max(enough, key=lambda p: (p.accuracy, -p.threshold, -blend_distance(p)))
    return max(allowed, key=lambda p: (p.right, -p.threshold, -blend_distance(p)))


def validation_files() -> list[Path]:
    """The validation sets, in a stable order."""
    return sorted(VALIDATION_DIR.glob("*.yml"))


async def _operating_points(model: Path) -> tuple[list[Operating], float | None]:
    """Every (blend, threshold) candidate's operating point, and the configured blend."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    examples = [
        (text, intent)
        for path in validation_files()
        for text, intent in load_examples(path)
    ]
    classifiers = sentence_classifiers(agent)
    if not classifiers:
        predictions = await predict(agent, examples)
        return [operating_point(predictions, t) for t in CANDIDATES], None
    configured = classifiers[0].blend
    points = []
    for weight in BLENDS:
        for classifier in classifiers:
            classifier.blend = weight
        predictions = await predict(agent, examples)
        points += [operating_point(predictions, t, weight) for t in CANDIDATES]
    return points, configured


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.calibrate_nlu [MODEL]`: print the table and the choice."""
    quiet_warnings()
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)
    args = sys.argv[1:] if argv is None else argv
    model = Path(args[0]) if args else model_path()
    if not model.exists():
        print(f"No trained model at {model}: run `make train` first.")
        return 1
    points, configured = asyncio.run(_operating_points(model))
    names = ", ".join(str(p.relative_to(PROJECT_ROOT)) for p in validation_files())
    print(f"Validation sets: {names}; model {model}")
    print(
        f"{'blend':>6}{'threshold':>10}{'in-scope right':>16}{'false reject':>14}"
        f"{'off-topic':>11}"
    )
    for p in points:
        blend = "-" if p.blend is None else f"{p.blend:.2f}"
        print(
            f"{blend:>6}{p.threshold:>10.2f}{p.accuracy:>16.3f}"
            f"{p.false_rejection:>14.3f}{p.rejection:>11.3f}"
        )
    best = choose(points, MAX_FALSE_REJECTION, configured)
    chosen = f"threshold {best.threshold:.2f}"
    if best.blend is not None:
        chosen = f"blend {best.blend:.2f}, {chosen}"
    print(
        f"chosen: {chosen} (most in-scope messages right while refusing at least "
        f"{MIN_REJECTION:.0%} of off-topic ones and at most "
        f"{MAX_FALSE_REJECTION:.0%} of in-scope ones)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
