"""The help centre behind the NLU: how the two gates combine, with the trained model.

`python -m benchmarks.kb_pipeline [MODEL]` (after `make train`). In the product a
message reaches the help centre only if the NLU takes it as ``faq``; out_of_scope,
the fallback and every other intent go elsewhere (a refusal, "say that another
way", or another flow such as cancelling an order). For the validation set and the
frozen test set it prints the share of each kind of question the NLU sends to
``faq`` and, for the knowledge base alone and behind the NLU: top-1 (the right
article answered) and "I don't know" recall (the unanswerable questions that get no
article). Nothing here chooses a constant; `make benchmark-kb` is the knowledge
base's own benchmark.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.kb_sets import QuestionSet, load_holdout, load_validation
from benchmarks.nlu import predict
from bot.launch import model_path
from knowledge_base import KnowledgeBase

FAQ = "faq"


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


async def run(model: Path) -> None:
    """Parse every question with the model, search the served knowledge base."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    kb = KnowledgeBase.from_directory()
    print(f"Model: {model}")
    print(
        f"{'set':<12}{'to faq (ans/unans)':>20}{'KB alone top-1/IDK':>21}"
        f"{'behind the NLU top-1/IDK':>27}"
    )
    for name, questions in (("validation", load_validation()), ("test", load_holdout())):  # fmt: skip
        texts = [q for q, _ in questions.answerable] + list(questions.unanswerable)
        predictions = await predict(agent, [(text, "") for text in texts])
        answers = [kb.search(text) for text in texts]
        gates = combine(
            [match.article.slug if match else None for match in answers],
            [p.predicted == FAQ for p in predictions],
            questions,
        )
        print(
            f"{name:<12}"
            f"{f'{gates.to_faq_answerable:.3f} / {gates.to_faq_unanswerable:.3f}':>20}"
            f"{f'{gates.kb_top1:.3f} / {gates.kb_idk_recall:.3f}':>21}"
            f"{f'{gates.top1:.3f} / {gates.idk_recall:.3f}':>27}"
        )


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.kb_pipeline [MODEL]`: the served model by default."""
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)
    args = sys.argv[1:] if argv is None else argv
    model = Path(args[0]) if args else model_path()
    if not model.exists():
        print(f"No trained model at {model}: run `make train` first.")
        return 1
    asyncio.run(run(model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
