"""scripts/check_near_questions.py: training texts near held-out questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base import EmbeddingCache, minilm_embedder
from scripts.check_near_questions import (
    CACHE_FILE,
    NEAR_COSINE,
    Text,
    held_out_texts,
    main,
    near_pairs,
    training_texts,
)

ARTICLE = """---
title: Gift cards
keywords: [gift card]
questions:
  - do gift cards expire
---
Gift cards never expire. They have no fees.
"""


def _nlu(intent: str, *examples: str) -> str:
    lines = "".join(f"    - {example}\n" for example in examples)
    return f'version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n{lines}'


def make_root(tmp_path: Path, training: tuple[str, ...]) -> Path:
    files = {
        "knowledge_base/articles/gift-cards.md": ARTICLE,
        "data/nlu/orders.yml": _nlu("check_order_status", *training),
        "tests/nlu_holdout/nlu.yml": _nlu(
            "check_order_status", "where is my parcel now", "tell me a joke"
        ),
        "data/validation/nlu.yml": _nlu("check_order_status", "has my order shipped"),
        "tests/kb_holdout/paraphrases.yml": "gift-cards:\n  - will my gift card run out\n",
        "tests/kb_holdout/unanswerable.yml": "other:\n  - what is the capital of peru\n",
        "data/validation/kb/clean.yml": (
            "answerable:\n  gift-cards:\n    - does a gift card have fees\n"
            "unanswerable:\n  - who won the game\n"
        ),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_every_set_is_read_and_named(tmp_path: Path) -> None:
    root = make_root(tmp_path, ("where is my order",))
    problems: list[str] = []
    assert {t.text for t in training_texts(root, problems)} == {
        "where is my order", "Gift cards", "gift card", "do gift cards expire",
    }  # fmt: skip
    where = {t.text: t.where for t in held_out_texts(root, problems)}
    assert where == {
        "where is my parcel now": "tests/nlu_holdout/nlu.yml, check_order_status",
        "tell me a joke": "tests/nlu_holdout/nlu.yml, check_order_status",
        "has my order shipped": "data/validation/nlu.yml, check_order_status",
        "will my gift card run out": "tests/kb_holdout/paraphrases.yml, gift-cards",
        "what is the capital of peru": "tests/kb_holdout/unanswerable.yml",
        "does a gift card have fees": "data/validation/kb/clean.yml, gift-cards",
        "who won the game": "data/validation/kb/clean.yml, unanswerable",
    }
    assert problems == []


def test_a_near_copy_fails_and_a_recorded_one_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_root(
        tmp_path,
        (
            "where is my parcel right now",  # near "where is my parcel now"
            "i want to change my password",  # far from every held-out question
        ),
    )
    known = tmp_path / "known.txt"
    assert main([], root, known) == 1
    out = capsys.readouterr().out
    assert '"where is my parcel right now" (data/nlu/orders.yml' in out
    assert "1 new pair(s)" in out and "password" not in out

    assert main(["--write-known"], root, known) == 0
    out = capsys.readouterr().out
    assert "1 pair(s) recorded as known" in out and "where is my parcel right" in out
    assert main([], root, known) == 0
    assert "0 new pair(s), 1 known" in capsys.readouterr().out
    assert (root / CACHE_FILE).exists()


def test_a_held_out_question_copied_across_nlu_and_help_centre_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A help-centre test question as an NLU example: no exact-copy check sees it.
    root = make_root(tmp_path, ("What is the capital of Peru?",))
    assert main([], root, tmp_path / "known.txt") == 1
    assert "is the same text as" in capsys.readouterr().out


def test_a_set_that_cannot_be_read_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_root(tmp_path, ("where is my order",))
    (root / "tests/nlu_holdout/nlu.yml").write_text("- not: [nlu data\n")
    (root / "data/validation/nlu.yml").unlink()
    assert main(["--write-known"], root, tmp_path / "known.txt") == 1
    out = capsys.readouterr().out
    assert "tests/nlu_holdout/nlu.yml: not valid YAML" in out
    assert "no file matches data/validation/*.yml" in out
    assert not (tmp_path / "known.txt").exists()  # nothing recorded from half the sets


def test_near_by_meaning_or_by_words() -> None:
    trained = [
        Text("the phone on my profile is wrong", "a"),  # one word replaced
        Text("cancel my order please", "b"),  # near in meaning
        Text("do you sell gift cards", "c"),  # neither
    ]
    held_out = [Text("the email on my profile is wrong", "x"), Text("please cancel my order", "y")]  # fmt: skip
    pairs = near_pairs(trained, held_out, minilm_embedder(), EmbeddingCache())
    found = {(p.trained.where, p.held_out.where): p for p in pairs}
    assert set(found) == {("a", "x"), ("b", "y")}
    assert found["a", "x"].cosine < NEAR_COSINE and found["a", "x"].jaccard >= 0.7
    assert found["b", "y"].cosine >= NEAR_COSINE
