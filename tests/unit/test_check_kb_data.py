"""scripts/check_kb_data.py: the repository's help-centre question sets, and failures."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from scripts.check_kb_data import (
    FROZEN,
    PARAPHRASES,
    ROOT,
    UNANSWERABLE,
    VALIDATION,
    VALIDATION_FILES,
    check,
)


def test_the_repository_passes() -> None:
    assert check() == []


def copy_sets(tmp_path: Path) -> Path:
    for name in (PARAPHRASES, UNANSWERABLE, *VALIDATION_FILES):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_an_edited_frozen_set_fails(tmp_path: Path) -> None:
    root = copy_sets(tmp_path)
    with (root / UNANSWERABLE).open("a") as handle:
        handle.write("  - one more question\n")
    [problem] = check(root)
    assert "frozen test set was changed" in problem


def test_a_test_question_from_the_front_matter_or_validation_fails(
    tmp_path: Path,
) -> None:
    root = copy_sets(tmp_path)
    path = root / PARAPHRASES
    text = path.read_text().replace(
        "  - do you take discover cards\n",
        "  - do you take discover cards\n  - Do you take PayPal?\n"
        "  - assistance seeing the accepted payment options\n",
    )
    path.write_text(text)
    frozen = {**FROZEN, PARAPHRASES: hashlib.sha256(text.encode()).hexdigest()}
    problems = check(root, frozen)
    assert len(problems) == 2
    assert "front matter of payment-methods" in problems[0]
    assert "the validation set" in problems[1]


def test_unknown_articles_and_thin_sets_fail(tmp_path: Path) -> None:
    root = copy_sets(tmp_path)
    (root / PARAPHRASES).write_text("no-such-article:\n  - a question\n")
    (root / UNANSWERABLE).write_text("everyday:\n  - hello\n")
    problems = check(root, {})
    assert any("names no article: no-such-article" in p for p in problems)
    assert any("returns has 0 questions" in p for p in problems)
    assert any("1 unanswerable questions" in p for p in problems)


def test_a_validation_question_from_the_front_matter_fails(tmp_path: Path) -> None:
    root = copy_sets(tmp_path)
    with (root / VALIDATION).open("a") as handle:
        handle.write("  - Do you take PayPal?\n")
    [problem] = check(root)
    assert problem == (
        'validation set: "Do you take PayPal?" is also a front-matter question of '
        "payment-methods"
    )


def test_the_second_validation_file_is_checked_too(tmp_path: Path) -> None:
    root = copy_sets(tmp_path)
    fresh = VALIDATION_FILES[1]
    text = (root / fresh).read_text()
    (root / fresh).write_text(
        text.replace("answerable:\n", "answerable:\n  no-such-article: [hello]\n", 1)
    )
    [problem] = check(root)
    assert problem == 'validation set: "hello" names no article: no-such-article'
