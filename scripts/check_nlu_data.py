"""Checks the NLU training data against itself and against the held-out sets.

Run with `.venv/bin/python scripts/check_nlu_data.py` (part of `make lint`). Texts are
compared after normalisation (lower case, entity annotations reduced to their text,
apostrophes dropped, other punctuation and whitespace folded). It fails, listing every
problem, on:

- an example labelled with two intents in the training data (data/nlu/*.yml);
- an example of a held-out set (tests/nlu_holdout/*.yml) that is in the training data;
- an example in two held-out sets (each set must measure something of its own);
- an intent in a held-out set that is not in domain.yml (nor named with --allow-intent);
- the same example twice in one file;
- a frozen held-out set whose content changed (see FROZEN).

Problems listed in KNOWN predate this check: they are reported, not failed on.
Files are read as plain YAML, not with Rasa's reader: Rasa silently drops repeated
examples, and those are what this check is for.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TRAINING_GLOB = "data/nlu/*.yml"
HOLDOUT_GLOB = "tests/nlu_holdout/*.yml"
# The set for choosing thresholds: never trained on, so it is kept apart like a test set.
VALIDATION_GLOB = "data/validation/*.yml"

# Held-out sets frozen by issue 9 (2026-11-30), by SHA-256 of the file: they are never
# edited to suit a model. A deliberate correction updates the hash in the same commit.
FROZEN: Mapping[str, str] = {
    "tests/nlu_holdout/style.yml": "46abba8a5b0de7666cd4b44fefad53e6ba14d5c5646b2b06071ddca6d999c785",
    "tests/nlu_holdout/out_of_scope.yml": "76d400c61b6091cd59630ecf4581d92d6956525df912177f77c81187227dd9ce",
}

# Problems older than this check (2026-11-30), reported but not failed on so that
# `make lint` passes until they are fixed in the data (issue 9): 89 examples of the first
# held-out set are also training examples (mostly one- to three-word messages), and the
# training data has one example twice. Never add entries; delete them once fixed.
_KNOWN_LEAKS_OF_NLU_YML = """
how do i change my password | delete my account | get me a human | operator |
human please | do you sell gift cards | do you ship to canada | do you price match |
104257 | its 100318 | jane doe example com | my number is 415 555 0134 | maria lopez |
order 108842 | t 000123 | 1 415 555 0134 | 4155550134 | hi | hello there | hey |
good morning | yo | good evening | hiya | howdy | hello anyone there | morning |
greetings | sup | good afternoon | bye | see ya | goodbye | thats all bye |
catch you later | ttyl | have a good one | bye bye | take care | farewell | cya |
good night | later | yes | yep | correct | sure | absolutely | uh huh | yes please |
thats correct | ya | definitely | affirmative | of course | exactly | no | nope |
not really | no thanks | nah | thats wrong | absolutely not | i dont think so |
negative | not at all | dont do that | no way | incorrect | nah im good | thanks |
thank you so much | thx | ty | cheers | much appreciated | thank u | many thanks |
great thanks | tysm | are you a bot | is this a robot | are you human |
is this automated | are you a live agent | are you chatgpt | tell me a joke |
who won the game last night | write me a poem
"""
KNOWN: frozenset[tuple[str, str]] = frozenset(
    {
        ("tests/nlu_holdout/nlu.yml", t.strip())
        for t in _KNOWN_LEAKS_OF_NLU_YML.split("|")
    }
    | {("data/nlu/account.yml", "its jane doe example com")}
)

# [text](entity), [text]{"entity": ...} and [text][{...}] all reduce to their text.
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\}|\[[^\]]*\])")
_APOSTROPHES = re.compile(r"['’`]")
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Example:
    """One NLU example and where it was written."""

    text: str
    intent: str
    file: str

    def describe(self) -> str:
        return f'"{self.text}" ({self.intent}, {self.file})'


@dataclass(frozen=True)
class Problem:
    """One problem: a readable message, and whether KNOWN excuses it."""

    message: str
    known: bool = False


def _problem(message: str, example: Example | None = None) -> Problem:
    key = (example.file, normalise(example.text)) if example else None
    return Problem(message, key in KNOWN)


def plain(text: str) -> str:
    """The example as the customer wrote it: 'where is [12345](order_id)' -> '... 12345'."""
    return _ANNOTATION.sub(r"\1", text)


def normalise(text: str) -> str:
    """The form two examples are compared in: 'Where's [it](x)?!' -> 'wheres it'."""
    text = plain(text).lower()
    text = _APOSTROPHES.sub("", text)
    return " ".join(_NOT_WORD.sub(" ", text).split())


def read_examples(path: Path, root: Path) -> tuple[list[Example], list[Problem]]:
    """The intent examples of one Rasa NLU YAML file, and problems reading it."""
    name = path.relative_to(root).as_posix()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return [], [_problem(f"{name}: not valid YAML ({exc})")]
    blocks = (document.get("nlu") or []) if isinstance(document, dict) else None
    if not isinstance(blocks, list):
        return [], [_problem(f"{name}: not NLU data (no 'nlu' list at the top)")]
    examples: list[Example] = []
    problems: list[Problem] = []
    for block in blocks:
        if not isinstance(block, dict) or "intent" not in block:
            continue  # synonyms, regexes and lookup tables hold no intent examples
        intent, lines = str(block["intent"]), block.get("examples")
        if not isinstance(lines, str):
            problems.append(_problem(f"{name}: intent {intent} has no '|' examples"))
            continue
        for line in lines.splitlines():
            line = line.strip()
            if line.startswith("- "):
                examples.append(Example(line[2:].strip(), intent, name))
            elif line:
                problems.append(_problem(f'{name}: "{line}" ({intent}) lacks "- "'))
    return examples, problems


def domain_intents(root: Path) -> set[str]:
    """Intent names declared in domain.yml."""
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8")) or {}
    return {
        next(iter(entry)) if isinstance(entry, dict) else str(entry)
        for entry in domain.get("intents") or []
    }


def _by_text(examples: Iterable[Example]) -> dict[str, list[Example]]:
    grouped: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        grouped[normalise(example.text)].append(example)
    return grouped


def _duplicates_within_files(files: Mapping[str, list[Example]]) -> list[Problem]:
    problems = []
    for name, examples in files.items():
        for group in _by_text(examples).values():
            if len(group) > 1:
                copies = "; ".join(f'"{e.text}" ({e.intent})' for e in group)
                message = f"{name}: the same example twice: {copies}"
                problems.append(_problem(message, group[0]))
    return problems


def _conflicting_training_labels(training: list[Example]) -> list[Problem]:
    problems = []
    for group in _by_text(training).values():
        if len({e.intent for e in group}) > 1:
            labels = "; ".join(e.describe() for e in group)
            problems.append(_problem(f"training example in two intents: {labels}"))
    return problems


def _holdout_problems(
    holdout_files: Mapping[str, list[Example]],
    training: list[Example],
    intents: set[str],
) -> list[Problem]:
    problems = []
    trained = _by_text(training)
    for name, examples in holdout_files.items():
        for intent in sorted({e.intent for e in examples} - intents):
            problems.append(_problem(f"{name}: intent {intent} is not in domain.yml"))
        for example in examples:
            if normalise(example.text) in trained:
                seen = trained[normalise(example.text)][0]
                message = (
                    f"held-out example in the training data: {example.describe()} "
                    f"is {seen.describe()}"
                )
                problems.append(_problem(message, example))
    holdout = [e for examples in holdout_files.values() for e in examples]
    for group in _by_text(holdout).values():
        if len({e.file for e in group}) > 1:
            sets = "; ".join(e.describe() for e in group)
            problems.append(_problem(f"example in two held-out sets: {sets}"))
    return problems


def _frozen_problems(root: Path, frozen: Mapping[str, str]) -> list[Problem]:
    problems = []
    for name, digest in frozen.items():
        path = root / name
        if not path.exists():
            problems.append(_problem(f"{name}: frozen held-out set is missing"))
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            message = (
                f"{name}: frozen held-out set was changed (its sha256 is no longer "
                f"{digest[:12]}...); held-out sets are not edited to suit a model"
            )
            problems.append(_problem(message))
    return problems


def check(
    root: Path = ROOT,
    allowed_intents: Iterable[str] = (),
    frozen: Mapping[str, str] = FROZEN,
) -> list[Problem]:
    """Every problem found in the NLU data under root, known ones included."""
    problems: list[Problem] = []
    files: dict[str, list[Example]] = {}
    globs = (TRAINING_GLOB, VALIDATION_GLOB, HOLDOUT_GLOB)
    for path in [path for glob in globs for path in sorted(root.glob(glob))]:
        examples, read_problems = read_examples(path, root)
        files[path.relative_to(root).as_posix()] = examples
        problems += read_problems
    training = [
        e for name, es in files.items() if name.startswith("data/nlu/") for e in es
    ]
    holdout = {
        name: es for name, es in files.items() if not name.startswith("data/nlu/")
    }
    intents = domain_intents(root) | set(allowed_intents)
    problems += _duplicates_within_files(files)
    problems += _conflicting_training_labels(training)
    problems += _holdout_problems(holdout, training, intents)
    problems += _frozen_problems(root, frozen)
    return problems


def main(
    argv: Sequence[str] | None = None,
    root: Path = ROOT,
    frozen: Mapping[str, str] = FROZEN,
) -> int:
    """Print the problems; exit status 1 if there are any new ones."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--allow-intent",
        action="append",
        default=[],
        metavar="NAME",
        help="accept this intent in held-out sets although domain.yml lacks it "
        "(for an intent about to be added)",
    )
    parser.add_argument(
        "--show-known", action="store_true", help="list the KNOWN problems too"
    )
    args = parser.parse_args(argv)
    problems = check(root, args.allow_intent, frozen)
    new = [p for p in problems if not p.known]
    known = [p for p in problems if p.known]
    for title, shown in (("problem(s)", new), ("known problem(s)", known)):
        if shown and (shown is new or args.show_known):
            print(f"NLU data check: {len(shown)} {title}")
            print("\n".join(f"  - {p.message}" for p in shown))
    print(
        f"NLU data check: {'FAILED' if new else 'passed'}, {len(new)} new problem(s), "
        f"{len(known)} known problem(s) predating the check (--show-known lists them)"
    )
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
