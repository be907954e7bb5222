"""Checks the help centre's question sets (part of `make lint`).

Run with `.venv/bin/python -m scripts.check_kb_data`. It fails, listing every
problem, on:

- a frozen test set (tests/kb_holdout/) whose content changed (see FROZEN);
- a question set naming an article that does not exist;
- an article with fewer than MIN_PARAPHRASES test questions, or fewer than
  MIN_UNANSWERABLE questions no article answers;
- a test question that is also a validation question, an article's title, keyword
  or front-matter question, or another test question (the test set must measure
  questions the retriever was not shown or tuned on);
- a validation question that is also an article's front-matter question (the
  validation set chooses thresholds for questions asked in other words).

Texts are compared as scripts/check_nlu_data.py compares NLU examples.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from benchmarks.kb_sets import load_holdout, load_validation
from knowledge_base import DEFAULT_ARTICLES_DIR, load_articles
from scripts.check_nlu_data import normalise

ROOT = Path(__file__).resolve().parents[1]
PARAPHRASES = "tests/kb_holdout/paraphrases.yml"
UNANSWERABLE = "tests/kb_holdout/unanswerable.yml"
VALIDATION = "data/validation/kb/questions.yml"
VALIDATION_FILES = (
    VALIDATION,
    "data/validation/kb/fresh.yml",
    "data/validation/kb/clean.yml",
)
MIN_PARAPHRASES = 10
MIN_UNANSWERABLE = 150

# Frozen by issue 14 before any tuning, by SHA-256 of the file: never edited to suit
# a ranker. A deliberate correction updates the hash in the same commit.
FROZEN: Mapping[str, str] = {
    PARAPHRASES: "91ea134a692ff57cc6a39a7712e944712d936fe05b4bac3de14777e80df1269a",
    UNANSWERABLE: "e3a0d3a454c568e449190f1aae50d75f927718c9d2d2e624706e705973254cf6",
}


def check(
    root: Path = ROOT,
    frozen: Mapping[str, str] = FROZEN,
    articles_dir: Path = DEFAULT_ARTICLES_DIR,
) -> list[str]:
    """Every problem found in the question sets under root."""
    problems = []
    for name, digest in frozen.items():
        path = root / name
        if not path.exists():
            problems.append(f"{name}: frozen test set is missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(
                f"{name}: frozen test set was changed (its sha256 is no longer "
                f"{digest[:12]}...); test sets are not edited to suit a ranker"
            )
    articles = load_articles(articles_dir)
    slugs = {article.slug for article in articles}
    test = load_holdout(root / PARAPHRASES, root / UNANSWERABLE)
    validation = load_validation(*(root / name for name in VALIDATION_FILES))
    for name, pairs in (("test", test.answerable), ("validation", validation.answerable)):  # fmt: skip
        for question, slug in pairs:
            if slug not in slugs:
                problems.append(f'{name} set: "{question}" names no article: {slug}')
    per_article = Counter(slug for _, slug in test.answerable)
    for slug in sorted(slugs):
        if per_article[slug] < MIN_PARAPHRASES:
            problems.append(
                f"test set: {slug} has {per_article[slug]} questions, fewer than "
                f"{MIN_PARAPHRASES}"
            )
    if len(test.unanswerable) < MIN_UNANSWERABLE:
        problems.append(
            f"test set: {len(test.unanswerable)} unanswerable questions, fewer than "
            f"{MIN_UNANSWERABLE}"
        )
    seen = {
        normalise(text): f"front matter of {article.slug}"
        for article in articles
        for text in (article.title, *article.keywords, *article.questions)
    }
    asked = {
        normalise(text): article.slug
        for article in articles
        for text in article.questions
    }
    validation_questions = [q for q, _ in validation.answerable]
    for question in validation_questions + list(validation.unanswerable):
        key = normalise(question)
        if key in asked:
            problems.append(
                f'validation set: "{question}" is also a front-matter question of '
                f"{asked[key]}"
            )
        seen.setdefault(key, "the validation set")
    test_questions = [q for q, _ in test.answerable] + list(test.unanswerable)
    for question in test_questions:
        key = normalise(question)
        if key in seen:
            problems.append(f'test set: "{question}" is also in {seen[key]}')
        seen[key] = "the test set"
    return problems


def main(root: Path = ROOT, frozen: Mapping[str, str] = FROZEN) -> int:
    """Print the problems; exit status 1 if there are any."""
    problems = check(root, frozen)
    for problem in problems:
        print(f"  - {problem}")
    print(
        f"Help-centre question sets: {'FAILED' if problems else 'passed'}, "
        f"{len(problems)} problem(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
