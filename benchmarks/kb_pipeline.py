"""The help centre behind the NLU: how the two gates combine, with the trained model.

`python -m benchmarks.kb_pipeline [MODEL]` (after `make train`). In the product a
message reaches the help centre if the NLU takes it as ``faq``, or if the NLU was
unsure (``nlu_fallback``), the message is a question and the help centre is
confident (``Calibration.fallback_threshold``; :mod:`knowledge_base.unsure`);
out_of_scope and every other intent go elsewhere (a refusal, or another flow such as
cancelling an order). For the validation set and the frozen test set it prints the
share of each kind of question the NLU sends to ``faq`` and, for the knowledge base
alone and behind the NLU: top-1 (the right article answered) and "I don't know"
recall (the unanswerable questions that get no article). Then, before and after
the fallback path: combined top-1, answerable questions given a wrong article, and
off-topic messages given an article (the unanswerable help-centre questions and the
NLU sets' off-topic and too-vague messages), plus the NLU sets' requests of other
intents that get an article instead of "say that another way". Last, what the
``faq`` path does by the NLU's confidence.

`python -m benchmarks.kb_pipeline --calibrate [MODEL]` chooses the fallback path's
threshold on the validation sets only (:func:`choose_fallback_threshold`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.kb_sets import QuestionSet, load_calibration, load_holdout
from benchmarks.nlu import FALLBACK, HOLDOUT_DIR, load_examples, predict
from bot.launch import model_path
from bot.settings import PROJECT_ROOT
from knowledge_base import CALIBRATION, KnowledgeBase
from knowledge_base.unsure import is_question

FAQ = "faq"
OUT_OF_SCOPE = "out_of_scope"
VALIDATION_NLU = tuple(
    PROJECT_ROOT / "data" / "validation" / name
    for name in ("nlu.yml", "nlu_customers.yml", "nlu_unclear.yml")
)
TEST_NLU = tuple(HOLDOUT_DIR / name for name in ("nlu.yml", "style.yml", "out_of_scope.yml"))  # fmt: skip
#: Thresholds tried for the fallback path (those under the faq path's are skipped).
FALLBACK_THRESHOLDS = tuple(round(0.70 + 0.01 * i, 2) for i in range(41))
#: Intents whose flow an article could come before: they start a form or account help.
FLOW_INTENTS = frozenset({
    "check_order_status", "cancel_order", "change_order", "request_refund",
    "check_refund_status", "report_problem", "account_problem", "reset_password",
    "update_account", "delete_account",
})  # fmt: skip
#: The NLU confidences the faq path is split at.
FAQ_CONFIDENCE_BANDS = (0.2, 0.4, 0.6, 0.8, 1.01)


@dataclass(frozen=True)
class Gates:
    """One question set through the knowledge base alone and behind the NLU."""

    to_faq_answerable: float
    to_faq_unanswerable: float
    kb_top1: float
    kb_idk_recall: float
    top1: float
    idk_recall: float


def combine(
    kb_answers: list[str | None], routed: list[bool], questions: QuestionSet
) -> Gates:
    """The figures, from each question's KB answer and whether the NLU said faq.

    Args:
        kb_answers: The knowledge base's article slug (or None) per question,
            answerable ones first.
        routed: Whether the NLU took each question as ``faq``, in the same order.
        questions: The question set.
    """
    count = len(questions.answerable)
    gold = [slug for _, slug in questions.answerable]
    kb_right = [a == g for a, g in zip(kb_answers[:count], gold, strict=True)]
    kb_refused = [a is None for a in kb_answers[count:]]
    faq_answerable, faq_unanswerable = routed[:count], routed[count:]
    return Gates(
        to_faq_answerable=sum(faq_answerable) / count,
        to_faq_unanswerable=sum(faq_unanswerable) / len(faq_unanswerable),
        kb_top1=sum(kb_right) / count,
        kb_idk_recall=sum(kb_refused) / len(kb_refused),
        top1=sum(r and f for r, f in zip(kb_right, faq_answerable, strict=True))
        / count,
        idk_recall=sum(
            r or not f for r, f in zip(kb_refused, faq_unanswerable, strict=True)
        )
        / len(kb_refused),
    )


@dataclass(frozen=True)
class Routed:
    """One message through the NLU and the knowledge base, before any threshold.

    Attributes:
        intent: What the NLU predicted (``nlu_fallback`` when it was unsure).
        confidence: The NLU's confidence in it.
        question: Whether the message reads as a question (``is_question``).
        slug: The knowledge base's best article.
        score: The knowledge base's confidence in it.
        gold: The right article; None when no article answers (or, for the NLU
            sets, when an article is not the answer).
        elsewhere: The knowledge base refuses it as a question about another
            business (:meth:`knowledge_base.KnowledgeBase.refuses`).
    """

    intent: str
    confidence: float
    question: bool
    slug: str
    score: float
    gold: str | None
    elsewhere: bool = False


def answer(
    message: Routed, faq_threshold: float, fallback_threshold: float | None
) -> str | None:
    """The article the assistant answers with, or None (the fallback path off if None)."""
    if message.elsewhere:
        return None
    if message.intent == FAQ:
        return message.slug if message.score >= faq_threshold else None
    if (
        fallback_threshold is not None
        and message.intent == FALLBACK
        and message.question
        and message.score >= fallback_threshold
    ):
        return message.slug
    return None


@dataclass(frozen=True)
class Outcome:
    """Counts of one set's answers (``answerable`` questions have an article)."""

    answerable: int
    right: int
    wrong: int
    others: int
    others_answered: int

    @property
    def top1(self) -> float:
        return self.right / self.answerable if self.answerable else 0.0


def outcome(
    messages: Sequence[Routed], faq_threshold: float, fallback_threshold: float | None
) -> Outcome:
    """Right and wrong articles over a set's messages."""
    answers = [answer(m, faq_threshold, fallback_threshold) for m in messages]
    pairs = list(zip(messages, answers, strict=True))
    return Outcome(
        answerable=sum(m.gold is not None for m in messages),
        right=sum(m.gold is not None and a == m.gold for m, a in pairs),
        wrong=sum(m.gold is not None and a not in (None, m.gold) for m, a in pairs),
        others=sum(m.gold is None for m in messages),
        others_answered=sum(m.gold is None and a is not None for m, a in pairs),
    )


def choose_fallback_threshold(
    questions: Sequence[Routed],
    off_topic: Sequence[Routed],
    faq_threshold: float,
    thresholds: Sequence[float] = FALLBACK_THRESHOLDS,
) -> float:
    """The lowest threshold, not under faq's, at which the fallback path is as precise.

    Precision: of the articles a path answers with, the share that are right; the
    faq path's is measured on the same help-centre questions, with its threshold.
    Answering wrongly is worse than asking again, so the new path must be no less
    precise than the one customers already get; and an NLU that could not place a
    message is weaker evidence than one that said faq, so the help centre must be at
    least as sure as on the faq path (on validation few messages fall back, and a
    laxer threshold rests on one or two of them). On the validation sets only.

    Args:
        questions: The help-centre questions (``gold`` None when unanswerable).
        off_topic: Off-topic and too-vague messages (no article is right).
        faq_threshold: The faq path's threshold.
        thresholds: The candidates, ascending.
    """
    faq = [m for m in questions if m.intent == FAQ]
    base = outcome(faq, faq_threshold, None)
    base_given = base.right + base.wrong + base.others_answered
    target = base.right / base_given if base_given else 1.0
    unsure = [m for m in [*questions, *off_topic] if m.intent == FALLBACK]
    candidates = [t for t in thresholds if t >= faq_threshold] or [max(thresholds)]
    for threshold in candidates:
        path = outcome(unsure, 2.0, threshold)  # only the fallback path answers
        given = path.right + path.wrong + path.others_answered
        if given == 0 or path.right / given >= target:
            return threshold
    return candidates[-1]


async def route(
    agent: object, kb: KnowledgeBase, examples: Sequence[tuple[str, str | None]]
) -> list[Routed]:
    """Parse each message with the model and rank it in the knowledge base."""
    predictions = await predict(agent, [(text, "") for text, _ in examples])
    routed = []
    for (text, gold), prediction in zip(examples, predictions, strict=True):
        [best] = kb.rank(text, limit=1)
        routed.append(
            Routed(
                prediction.predicted,
                prediction.confidence,
                is_question(text),
                best.article.slug,
                best.score,
                gold,
                kb.refuses(text, best.article),
            )
        )
    return routed


def _nlu_sets(paths: Sequence[Path]) -> tuple[list[tuple[str, None]], list[tuple[str, None]]]:  # fmt: skip
    """The NLU sets' off-topic/vague messages, and their requests of other intents."""
    off_topic, requests = [], []
    for path in paths:
        for text, intent in load_examples(path):
            if intent == OUT_OF_SCOPE:
                off_topic.append((text, None))
            elif intent != FAQ:  # an faq example's article is not known
                requests.append((text, None))
    return off_topic, requests


@dataclass(frozen=True)
class _Set:
    name: str
    questions: list[Routed]
    answerable: int
    off_topic: list[Routed]
    requests: list[Routed]


async def _route_sets(agent: object, kb: KnowledgeBase, test: bool) -> list[_Set]:
    sets = []
    loaders = (
        ("validation", load_calibration, VALIDATION_NLU),
        ("test", load_holdout, TEST_NLU),
    )
    # --calibrate reads no test file, not even from disk.
    for name, load, nlu_paths in loaders[: 2 if test else 1]:
        questions = load()
        examples: list[tuple[str, str | None]] = [*questions.answerable]
        examples += [(text, None) for text in questions.unanswerable]
        off_topic, requests = _nlu_sets(nlu_paths)
        sets.append(
            _Set(
                name,
                await route(agent, kb, examples),
                len(questions.answerable),
                await route(agent, kb, off_topic),
                await route(agent, kb, requests),
            )
        )
    return sets


def _print_gates(sets: list[_Set]) -> None:
    print(
        f"{'set':<12}{'to faq (ans/unans)':>20}{'KB alone top-1/IDK':>21}"
        f"{'behind the NLU top-1/IDK':>27}"
    )
    threshold = CALIBRATION.threshold
    for s in sets:
        questions = QuestionSet(
            tuple((m.gold or "", m.gold or "") for m in s.questions[: s.answerable]),
            tuple("" for _ in s.questions[s.answerable :]),
        )
        gates = combine(
            [
                m.slug if m.score >= threshold and not m.elsewhere else None
                for m in s.questions
            ],
            [m.intent == FAQ for m in s.questions],
            questions,
        )
        print(
            f"{s.name:<12}"
            f"{f'{gates.to_faq_answerable:.3f} / {gates.to_faq_unanswerable:.3f}':>20}"
            f"{f'{gates.kb_top1:.3f} / {gates.kb_idk_recall:.3f}':>21}"
            f"{f'{gates.top1:.3f} / {gates.idk_recall:.3f}':>27}"
        )


def _print_fallback_path(
    sets: list[_Set], fallback_threshold: float, asked: str = "a question"
) -> None:
    print(
        f"\nThe fallback path (nlu_fallback + {asked} + KB confidence >= "
        f"{fallback_threshold}), before -> after:"
    )
    print(
        f"{'set':<12}{'combined top-1':>18}{'wrong article':>16}"
        f"{'unanswerable answered':>24}{'off-topic answered':>21}"
        f"{'requests answered':>20}"
    )
    faq_threshold = CALIBRATION.threshold
    for s in sets:
        cells = []
        for messages in (s.questions, s.off_topic, s.requests):
            before = outcome(messages, faq_threshold, None)
            after = outcome(messages, faq_threshold, fallback_threshold)
            cells.append((before, after))
        (qb, qa), (ob, oa), (rb, ra) = cells
        print(
            f"{s.name:<12}{f'{qb.top1:.3f} -> {qa.top1:.3f}':>18}"
            f"{f'{qb.wrong} -> {qa.wrong}':>16}"
            f"{f'{qb.others_answered} -> {qa.others_answered} of {qb.others}':>24}"
            f"{f'{ob.others_answered} -> {oa.others_answered} of {ob.others}':>21}"
            f"{f'{rb.others_answered} -> {ra.others_answered} of {rb.others}':>20}"
        )
    for s in sets:
        unsure = [m for m in s.questions[: s.answerable] if m.intent == FALLBACK]
        print(
            f"  {s.name}: {len(unsure)} answerable questions fall back, "
            f"{sum(m.question for m in unsure)} of them read as questions"
        )


def _print_faq_by_confidence(sets: list[_Set]) -> None:
    print(
        "\nThe faq path by the NLU's confidence (answerable: right / wrong / refused; "
        "unanswerable: answered of n):"
    )
    low = 0.0
    for high in FAQ_CONFIDENCE_BANDS:
        cells = []
        for s in sets:
            band = [
                m for m in s.questions if m.intent == FAQ and low <= m.confidence < high
            ]
            o = outcome(band, CALIBRATION.threshold, None)
            refused = o.answerable - o.right - o.wrong
            cells.append(
                f"{s.name} {o.right}/{o.wrong}/{refused}; {o.others_answered} of "
                f"{o.others}"
            )
        print(f"  [{low:.1f}, {min(high, 1.0):.1f}{')' if high <= 1 else ']'}  " + "   ".join(cells))  # fmt: skip
        low = high


def elsewhere(
    questions: Sequence[Routed], requests: Sequence[Routed], threshold: float
) -> tuple[Counter[str], Outcome, int]:
    """Help-centre questions the NLU sends elsewhere, and an article before a flow.

    Returns:
        Where the answerable questions not taken as ``faq`` go (``flows`` for
        :data:`FLOW_INTENTS`); the outcome if a flow answered every message that
        reads as a question with its article first (at ``threshold``, as ``faq``
        does); and how many of the NLU sets' requests of those intents (whose right
        answer is the flow alone) would get an article too.
    """
    places: Counter[str] = Counter()
    for message in questions:
        if message.gold is not None and message.intent != FAQ:
            places["flows" if message.intent in FLOW_INTENTS else message.intent] += 1
    in_flows = [
        replace(m, intent=FAQ) if m.question else replace(m, intent=FALLBACK)
        for m in questions
        if m.intent in FLOW_INTENTS
    ]
    noise = sum(
        m.intent in FLOW_INTENTS
        and m.question
        and m.score >= threshold
        and not m.elsewhere
        for m in requests
    )
    return places, outcome(in_flows, threshold, None), noise


def _print_elsewhere(sets: list[_Set]) -> None:
    threshold = CALIBRATION.threshold
    print(
        "\nAnswerable help-centre questions the NLU does not take as faq, and an "
        "article before the flow (questions only, KB confidence >= "
        f"{threshold}): right / wrong, unanswerable answered; NLU requests given "
        "an article:"
    )
    for s in sets:
        places, flows, noise = elsewhere(s.questions, s.requests, threshold)
        where = ", ".join(f"{name} {count}" for name, count in places.most_common(4))
        print(
            f"  {s.name}: {where}; article first: {flows.right} / {flows.wrong}, "
            f"{flows.others_answered} of {flows.others}; requests {noise} of "
            f"{sum(m.intent in FLOW_INTENTS for m in s.requests)}"
        )


def _as_questions(messages: list[Routed]) -> list[Routed]:
    """The messages as if each read as a question (what the question test costs)."""
    return [replace(m, question=True) for m in messages]


async def run(model: Path, calibrate: bool) -> None:
    """Parse every message with the model, rank it in the served knowledge base."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    kb = KnowledgeBase.from_directory()
    print(f"Model: {model}")
    sets = await _route_sets(agent, kb, test=not calibrate)
    _print_gates(sets)
    validation = sets[0]
    if calibrate:
        chosen = choose_fallback_threshold(
            validation.questions, validation.off_topic, CALIBRATION.threshold
        )
        print(f"\nchosen on validation: fallback_threshold={chosen}")
        print("validation, by threshold (top-1, wrong, unanswerable and off-topic answered):")  # fmt: skip
        for t in FALLBACK_THRESHOLDS[::2]:
            q = outcome(validation.questions, CALIBRATION.threshold, t)
            o = outcome(validation.off_topic, CALIBRATION.threshold, t)
            print(f"  {t:.2f}  {q.top1:.3f}  {q.wrong:>3}  {q.others_answered:>3}  {o.others_answered:>3}")  # fmt: skip
        _print_fallback_path(sets[:1], chosen)
        anything = [
            _Set(s.name, _as_questions(s.questions), s.answerable,
                 _as_questions(s.off_topic), _as_questions(s.requests))
            for s in sets
        ]  # fmt: skip
        _print_fallback_path(anything, chosen, "any message")
        return
    _print_fallback_path(sets, CALIBRATION.fallback_threshold)
    _print_faq_by_confidence(sets)
    _print_elsewhere(sets)


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.kb_pipeline [--calibrate] [MODEL]`."""
    from rasa.utils.log_utils import configure_structlog

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="the served model by default")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="choose the fallback path's threshold on the validation sets",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    configure_structlog(logging.ERROR)
    model = Path(args.model) if args.model else model_path()
    if not model.exists():
        print(f"No trained model at {model}: run `make train` first.")
        return 1
    asyncio.run(run(model, args.calibrate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
