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


def test_every_set_is_read(tmp_path: Path) -> None:
    root = make_root(tmp_path, ("where is my order",))
    assert {t.text for t in training_texts(root)} == {
        "where is my order", "Gift cards", "gift card", "do gift cards expire",
    }  # fmt: skip
    assert len(held_out_texts(root)) == 7


def test_a_near_copy_fails_and_a_recorded_one_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_root(
        tmp_path,
        (
            "where is my parcel right now",  # near "where is my parcel now"
            "tell me a joke",  # the same text: the exact-copy checks' business
            "i want to change my password",  # far from every held-out question
        ),
    )
    known = tmp_path / "known.txt"
    assert main([], root, known) == 1
    out = capsys.readouterr().out
    assert '"where is my parcel right now" (data/nlu/orders.yml' in out
    assert "1 new near pair(s)" in out and "joke" not in out and "password" not in out

    assert main(["--write-known"], root, known) == 0
    assert main([], root, known) == 0
    assert "0 new near pair(s), 1 known pair(s)" in capsys.readouterr().out
    assert (root / CACHE_FILE).exists()


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
