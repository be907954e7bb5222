"""scripts/count_customer_words.py: the help centre's word counts and their check."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.rarity import DEFAULT_COUNTS_FILE, load_counts
from scripts.count_customer_words import main, training_messages

NLU = """\
version: "3.1"
nlu:
- intent: check_order_status
  examples: |
    - where is my order [12345](order_id)
    - Where is my order 12345?
    - has my parcel been delivered
- intent: out_of_scope
  examples: |
    - what is the weather on mars
- synonym: deliver
  examples: |
    - delivery
"""


def _root(tmp_path: Path, text: str = NLU) -> Path:
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "data" / "nlu" / "orders.yml").write_text(text, encoding="utf-8")
    return tmp_path


def test_the_shipped_counts_are_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert "passed" in capsys.readouterr().out
    _, messages = load_counts(DEFAULT_COUNTS_FILE)
    assert messages == len(training_messages())


def test_messages_are_in_scope_without_annotations_and_each_once(
    tmp_path: Path,
) -> None:
    assert training_messages(_root(tmp_path)) == [
        "where is my order 12345",
        "has my parcel been delivered",
    ]


def test_broken_or_missing_training_data_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no NLU training messages"):
        training_messages(_root(tmp_path, "nlu: []\n"))
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(ValueError, match="not valid YAML"):
        training_messages(_root(broken, "nlu: [unclosed"))


def test_a_stale_file_fails_the_check_until_written_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _root(tmp_path)
    counts = tmp_path / "words.tsv"
    assert main(["--file", str(counts)], root) == 0
    assert main(["--check", "--file", str(counts)], root) == 0
    with (root / "data" / "nlu" / "orders.yml").open("a", encoding="utf-8") as handle:
        handle.write("- intent: faq\n  examples: |\n    - do you ship abroad\n")
    assert main(["--check", "--file", str(counts)], root) == 1
    assert "run `make kb-words`" in capsys.readouterr().out
    assert main(["--file", str(counts)], root) == 0
    terms, messages = load_counts.__wrapped__(counts)
    assert messages == 3 and terms["ship"] == 1


@pytest.mark.parametrize("text", ["- just a list\n", "nlu: 5\n"])
def test_a_file_that_is_not_nlu_data_is_an_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ValueError, match="orders.yml: not NLU data"):
        training_messages(_root(tmp_path, text))
