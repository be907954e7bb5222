"""Write (or check) the help centre's word counts over customers' messages.

`make kb-words` writes knowledge_base/customer_words.tsv: for each search term
(knowledge_base.analysis), how many of the NLU's training messages contain it
(data/nlu/*.yml, every intent but out_of_scope, each distinct message once, read
with scripts.check_nlu_data's reader). The help centre weighs question words by
these counts (knowledge_base.rarity). `make lint` runs it with --check, which fails
when the file no longer matches the data or the analysis rules; after writing it
again, `make calibrate-kb` tells whether the threshold should move.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from knowledge_base.rarity import (
    DEFAULT_COUNTS_FILE,
    Counts,
    count_terms,
    format_counts,
)
from scripts.check_nlu_data import ROOT, normalise, plain, read_examples

#: Messages about something else: they say nothing of how customers ask us.
LEFT_OUT = frozenset({"out_of_scope"})

HEADER = """\
Search terms (knowledge_base.analysis) in customers' messages: how many of the NLU's
training messages contain each (data/nlu/*.yml, out_of_scope left out, each distinct
message once). Written by `make kb-words` (scripts/count_customer_words.py); `make
lint` fails when it is out of date. Read by knowledge_base/rarity.py."""


def training_messages(root: Path = ROOT) -> list[str]:
    """The NLU's in-scope training messages, annotations removed, each once.

    Raises:
        ValueError: If a file cannot be read as NLU data, or there is none.
    """
    messages: dict[str, str] = {}
    for path in sorted((root / "data" / "nlu").glob("*.yml")):
        examples, problems = read_examples(path, root)
        if problems:
            raise ValueError("; ".join(problem.message for problem in problems))
        for example in examples:
            if example.intent not in LEFT_OUT:
                messages.setdefault(normalise(example.text), plain(example.text))
    if not messages:
        raise ValueError(f"no NLU training messages in {root / 'data' / 'nlu'}")
    return list(messages.values())


def counts(root: Path = ROOT) -> Counts:
    """The counts the file should hold."""
    return count_terms(training_messages(root))


def main(argv: Sequence[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if the file is out of date"
    )
    parser.add_argument("--file", type=Path, default=DEFAULT_COUNTS_FILE)
    args = parser.parse_args(argv)
    counted = counts(root)
    expected = format_counts(counted, HEADER)
    current = args.file.read_text(encoding="utf-8") if args.file.exists() else None
    if args.check:
        if current != expected:
            print(
                f"Customer word counts: FAILED, {args.file} does not match data/nlu "
                "and the analysis rules; run `make kb-words`, then `make calibrate-kb`"
            )
            return 1
        print("Customer word counts: passed")
        return 0
    args.file.write_text(expected, encoding="utf-8")
    terms, messages = counted
    print(f"wrote {args.file}: {len(terms)} terms in {messages} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
