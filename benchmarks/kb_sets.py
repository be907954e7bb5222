"""The help centre's question sets: the frozen test set and the validation set.

``tests/kb_holdout/paraphrases.yml`` maps each article's slug to customer questions
it answers; ``tests/kb_holdout/unanswerable.yml`` groups questions no article
answers. The validation set, for choosing thresholds and weights, is three files of both
kinds (``answerable``, ``unanswerable``): ``data/validation/kb/questions.yml``, read
while the articles' example questions and the text-analysis rules were written;
``data/validation/kb/fresh.yml``, written later from the articles' titles and bodies
alone; and ``data/validation/kb/clean.yml``, written on 2026-12-01 by two writers
given only the articles' titles and bodies, after every earlier choice. The articles'
example questions were written with the first two files in view (and 51 of them
against those files' failures), so an answerable question there is nearer an
example question than a customer's own wording is: a classifier trained on the
example questions gained +0.027 on them and lost 0.049 on ``clean.yml``. Constants
are therefore chosen on :func:`load_calibration`: the answerable questions of
``clean.yml`` only, and the unanswerable questions of all three files (which no
example question was written against). Plain YAML, read without Rasa.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT

HOLDOUT_DIR = PROJECT_ROOT / "tests" / "kb_holdout"
PARAPHRASES = HOLDOUT_DIR / "paraphrases.yml"
UNANSWERABLE = HOLDOUT_DIR / "unanswerable.yml"
VALIDATION = PROJECT_ROOT / "data" / "validation" / "kb" / "questions.yml"
VALIDATION_FRESH = VALIDATION.with_name("fresh.yml")
VALIDATION_CLEAN = VALIDATION.with_name("clean.yml")
VALIDATION_FILES = (VALIDATION, VALIDATION_FRESH, VALIDATION_CLEAN)


@dataclass(frozen=True)
class QuestionSet:
    """Questions with the article that answers them, and questions none answers.

    Attributes:
        answerable: ``(question, slug)`` pairs.
        unanswerable: Questions whose right answer is "I don't know".
    """

    answerable: tuple[tuple[str, str], ...]
    unanswerable: tuple[str, ...]


def _read(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _pairs(by_slug: object, where: Path) -> tuple[tuple[str, str], ...]:
    if not isinstance(by_slug, dict):
        raise ValueError(f"{where}: expected a mapping of article slug to questions")
    return tuple(
        (str(question), str(slug))
        for slug, questions in by_slug.items()
        for question in _strings(questions, where)
    )


def _strings(value: object, where: Path) -> Iterable[str]:
    if isinstance(value, dict):
        value = [item for group in value.values() for item in group or []]
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of questions")
    return [str(item) for item in value]


def load_holdout(
    paraphrases: Path = PARAPHRASES, unanswerable: Path = UNANSWERABLE
) -> QuestionSet:
    """The frozen test set."""
    return QuestionSet(
        _pairs(_read(paraphrases), paraphrases),
        tuple(_strings(_read(unanswerable), unanswerable)),
    )


def load_validation(*paths: Path) -> QuestionSet:
    """The validation set (for choosing thresholds): all of its files by default."""
    answerable: list[tuple[str, str]] = []
    unanswerable: list[str] = []
    for path in paths or VALIDATION_FILES:
        document = _read(path)
        if not isinstance(document, dict):
            raise ValueError(f"{path}: expected 'answerable' and 'unanswerable'")
        answerable += _pairs(document.get("answerable"), path)
        unanswerable += _strings(document.get("unanswerable"), path)
    return QuestionSet(tuple(answerable), tuple(unanswerable))


def load_calibration() -> QuestionSet:
    """What the help centre's constants are chosen on (see the module docstring).

    The answerable questions of ``clean.yml`` (no example question was written
    against them) and the unanswerable questions of every validation file.
    """
    every = load_validation()
    clean = load_validation(VALIDATION_CLEAN)
    return QuestionSet(clean.answerable, every.unanswerable)
