"""scripts/check_nlu_data.py: the repository's NLU data and one crafted case per failure."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from bot import launch
from bot.settings import PROJECT_ROOT
from scripts.check_nlu_data import (
    ROOT,
    check,
    domain_intents,
    main,
    normalise,
    read_examples,
)

DOMAIN = 'version: "3.1"\nintents:\n  - greet\n  - request_refund\n  - faq\n'


def _nlu(blocks: dict[str, list[str]]) -> str:
    lines = ['version: "3.1"', "nlu:"]
    for intent, examples in blocks.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {example}" for example in examples]
    return "\n".join(lines) + "\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A tiny repository whose NLU data has no problem."""
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "tests" / "nlu_holdout").mkdir(parents=True)
    (tmp_path / "domain.yml").write_text(DOMAIN)
    write(tmp_path, "data/nlu/a.yml", {"greet": ["hello"], "faq": ["refund policy?"]})
    write(tmp_path, "data/nlu/b.yml", {"request_refund": ["i want a refund"]})
    write(tmp_path, "tests/nlu_holdout/x.yml", {"request_refund": ["money back pls"]})
    return tmp_path


def write(root: Path, name: str, blocks: dict[str, list[str]]) -> None:
    (root / name).write_text(_nlu(blocks))


def messages(root: Path, allowed_intents: tuple[str, ...] = ()) -> list[str]:
    """The new problems check() finds under root, with no frozen files."""
    return [p.message for p in check(root, allowed_intents, frozen={}) if not p.known]


def test_the_repository_data_has_no_new_problem() -> None:
    assert [p.message for p in check(ROOT) if not p.known] == []


def test_the_frozen_sets_cover_every_intent_and_many_domains() -> None:
    style, _ = read_examples(ROOT / "tests/nlu_holdout/style.yml", ROOT)
    per_intent = Counter(e.intent for e in style)
    assert {i: per_intent[i] for i in domain_intents(ROOT) if per_intent[i] < 32} == {
        "out_of_scope": 0  # it has a set of its own
    }
    off_topic, _ = read_examples(ROOT / "tests/nlu_holdout/out_of_scope.yml", ROOT)
    assert {e.intent for e in off_topic} == {"out_of_scope"} and len(off_topic) >= 400
    text = (ROOT / "tests/nlu_holdout/out_of_scope.yml").read_text()
    assert text.count("- intent: out_of_scope") >= 15  # one block per domain


def test_normalise_folds_case_annotations_and_punctuation() -> None:
    assert normalise("Where's  [Maria](name)'s REFUND?!") == "wheres marias refund"
    assert normalise('[T-000123]{"entity": "ticket_reference"}') == "t 000123"


def test_a_clean_repository_passes(repo: Path) -> None:
    assert messages(repo) == []
    assert main([], root=repo, frozen={}) == 0


def test_an_example_in_two_training_intents_fails(repo: Path) -> None:
    write(repo, "data/nlu/b.yml", {"request_refund": ["i want a refund", "Hello!"]})
    [problem] = messages(repo)
    assert "training example in two intents" in problem
    assert "greet" in problem and "request_refund" in problem


def test_a_held_out_example_in_the_training_data_fails(repo: Path) -> None:
    write(repo, "tests/nlu_holdout/x.yml", {"request_refund": ["I WANT A REFUND."]})
    [problem] = messages(repo)
    assert "held-out example in the training data" in problem
    assert "data/nlu/b.yml" in problem


def test_annotations_do_not_hide_a_leak(repo: Path) -> None:
    write(repo, "data/nlu/a.yml", {"greet": ["hi im [Ana](name)"]})
    write(repo, "tests/nlu_holdout/x.yml", {"greet": ["Hi, I'm Ana"]})
    assert len(messages(repo)) == 1


def test_an_intent_missing_from_the_domain_fails_unless_allowed(repo: Path) -> None:
    write(repo, "tests/nlu_holdout/x.yml", {"out_of_scope": ["weather in oslo"]})
    assert messages(repo) == [
        "tests/nlu_holdout/x.yml: intent out_of_scope is not in domain.yml"
    ]
    assert messages(repo, allowed_intents=("out_of_scope",)) == []
    assert main(["--allow-intent", "out_of_scope"], root=repo, frozen={}) == 0


def test_the_same_example_twice_in_one_file_fails(repo: Path) -> None:
    write(repo, "tests/nlu_holdout/x.yml", {"faq": ["do you ship?", "Do you ship"]})
    [problem] = messages(repo)
    assert problem.startswith("tests/nlu_holdout/x.yml: the same example twice")


def test_an_example_in_two_held_out_sets_fails(repo: Path) -> None:
    write(repo, "tests/nlu_holdout/y.yml", {"request_refund": ["Money back, pls"]})
    [problem] = messages(repo)
    assert "example in two held-out sets" in problem


def test_a_changed_frozen_set_fails(repo: Path) -> None:
    path = repo / "tests/nlu_holdout/x.yml"
    frozen = {"tests/nlu_holdout/x.yml": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert [p for p in check(repo, frozen=frozen) if not p.known] == []
    path.write_text(path.read_text().replace("money back pls", "refund me"))
    [problem] = [p.message for p in check(repo, frozen=frozen)]
    assert "frozen held-out set was changed" in problem


def test_main_lists_the_problems_and_exits_1(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "data/nlu/b.yml", {"request_refund": ["hello"]})
    assert main([], root=repo, frozen={}) == 1
    out = capsys.readouterr().out
    assert "training example in two intents" in out
    assert "FAILED" in out


def test_only_the_listed_old_leaks_are_excused(repo: Path) -> None:
    write(repo, "data/nlu/a.yml", {"greet": ["hi", "hello"]})
    write(repo, "tests/nlu_holdout/nlu.yml", {"greet": ["Hi!", "hello"]})
    problems = check(repo, frozen={})
    assert [(p.known, '"Hi!"' in p.message) for p in problems] == [
        (True, True),
        (False, False),
    ]


def test_the_benchmark_counts_fallbacks_as_rejections() -> None:
    from benchmarks.nlu import Prediction, score

    scores = score(
        [
            Prediction("weather?", "out_of_scope", "nlu_fallback", 0.45),
            Prediction("order a pizza", "out_of_scope", "check_order_status", 0.9),
            Prediction("tell me a joke", "out_of_scope", "out_of_scope", 0.9),
            Prediction("refund?", "request_refund", "nlu_fallback", 0.45),
            Prediction("money back pls", "request_refund", "request_refund", 0.9),
        ]
    )
    assert scores.accuracy == 2 / 5
    assert scores.rejection_rate == 2 / 3
    assert scores.false_rejection_rate == 1 / 2
    assert scores.per_intent["request_refund"] == (1.0, 0.5, 2 / 3, 2)
    assert scores.macro_f1 == (2 / 3 + 1 / 2) / 2  # out_of_scope: p 1, r 1/3
    assert scores.confusions[0] == ("out_of_scope", "nlu_fallback", 1)


def test_training_reads_every_data_file_but_the_validation_set() -> None:
    data = PROJECT_ROOT / "data"
    validation = set((data / "validation").rglob("*.yml"))
    trained: set[Path] = set()
    for entry in launch.TRAINING_DATA:
        path = PROJECT_ROOT / entry
        trained |= set(path.rglob("*.yml")) if path.is_dir() else {path}
    assert validation
    assert trained == set(data.rglob("*.yml")) - validation
