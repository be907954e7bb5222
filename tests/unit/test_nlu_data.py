"""The NLU data: training examples are consistent, the validation set stays apart."""

import re
from pathlib import Path

import yaml

from bot import launch
from bot.settings import PROJECT_ROOT

DATA = PROJECT_ROOT / "data"
VALIDATION = DATA / "validation" / "nlu.yml"
# [Maria Lopez](name) and [(415) 555-0199]{"entity": ...} -> the annotated text.
ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def normalised(text: str) -> str:
    """Lower case, annotations removed, apostrophes dropped, other punctuation folded."""
    text = ANNOTATION.sub(r"\1", text).lower().replace("'", "").replace("\u2019", "")
    return " ".join(re.sub(r"[^\w@]+", " ", text).split())


def examples(path: Path) -> list[tuple[str, str]]:
    """(intent, text) for every example in an NLU file."""
    found = []
    for block in yaml.safe_load(path.read_text()).get("nlu", []):
        for line in block.get("examples", "").splitlines():
            if line.strip().startswith("- "):
                found.append((block["intent"], line.strip()[2:]))
    return found


def training_files() -> list[Path]:
    files: list[Path] = []
    for entry in launch.TRAINING_DATA:
        path = PROJECT_ROOT / entry
        files += sorted(path.rglob("*.yml")) if path.is_dir() else [path]
    return files


def test_training_reads_every_data_file_but_the_validation_set() -> None:
    every = set(DATA.rglob("*.yml")) - set(VALIDATION.parent.rglob("*.yml"))
    assert VALIDATION.is_file()
    assert set(training_files()) == every


def test_no_training_example_is_in_two_intents() -> None:
    seen: dict[str, str] = {}
    clashes = []
    for path in training_files():
        for intent, text in examples(path) if "nlu" in path.parts else []:
            key = normalised(text)
            if key in seen and seen[key] != intent:
                clashes.append((text, seen[key], intent))
            seen[key] = intent
    assert clashes == []


def test_validation_examples_are_fresh() -> None:
    trained = {
        normalised(text)
        for path in training_files()
        if "nlu" in path.parts
        for _, text in examples(path)
    }
    validation = [normalised(text) for _, text in examples(VALIDATION)]
    assert [text for text in validation if text in trained] == []
    assert len(validation) == len(set(validation))
