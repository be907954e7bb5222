"""Checks that no training text is a near copy of a held-out question (`make lint`).

Run with `.venv/bin/python -m scripts.check_near_questions`. The exact-copy checks
(scripts/check_nlu_data.py, scripts.check_kb_data) miss a training example written
one word away from a test question: "will i lose any money if i back out of a
purchase before it's posted" next to a test question that says "before it ships".
Held-out figures then partly measure wordings seen in training. This check compares

* what is trained or retrieved on: the NLU's intent examples (``data/nlu/*.yml``)
  and the help-centre articles' titles, keywords and example questions;
* with every held-out question: the NLU's test sets (``tests/nlu_holdout/``) and
  validation sets (``data/validation/*.yml``), and the help centre's test set
  (``tests/kb_holdout/``) and validation files (``data/validation/kb/``);

and fails on a pair that is near but not the same text (exact copies are the other
checks' business): a cosine of :data:`NEAR_COSINE` or more between the offline
sentence encoder's embeddings (the one the NLU and the help centre use), or a word
Jaccard of :data:`NEAR_JACCARD` or more (one word added to or dropped from a text of
four or more, one replaced in a text of six or more). Texts are compared after
:func:`scripts.check_nlu_data.normalise`.

Pairs that predate the check (2026-12-01: 23% of the help-centre test questions,
39% of ``tests/nlu_holdout/nlu.yml``) are listed in :data:`KNOWN_FILE`, one line per
pair (the sha256 of each normalised text, shortened): they are reported, not failed
on (``--show-known`` lists them). A new example near a held-out question fails: write
it another way or leave it out. ``--write-known`` rewrites the list from the data as
it is, for a deliberate decision recorded in the same commit.

Embeddings are cached by content hash in ``results/lint/`` (the first run encodes
about 9,000 texts, some 30 s on 2 cores; later runs only new texts).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.kb_sets import QuestionSet, load_holdout, load_validation
from knowledge_base import EmbeddingCache, load_articles
from knowledge_base.semantic import Embedder, minilm_embedder
from scripts.check_nlu_data import normalise, read_examples

ROOT = Path(__file__).resolve().parents[1]
KNOWN_FILE = Path(__file__).with_name("near_questions_known.txt")
CACHE_FILE = Path("results") / "lint" / "near_questions.npz"
ARTICLES_DIR = Path("knowledge_base") / "articles"
TRAINING_GLOB = "data/nlu/*.yml"
NLU_HELDOUT_GLOBS = ("tests/nlu_holdout/*.yml", "data/validation/*.yml")
KB_TEST = ("tests/kb_holdout/paraphrases.yml", "tests/kb_holdout/unanswerable.yml")
KB_VALIDATION_GLOB = "data/validation/kb/*.yml"

#: Sentence cosine at or over which two texts are near copies.
NEAR_COSINE = 0.88
#: Word Jaccard (distinct words in common over distinct words in either) at or over
#: which two texts are near copies.
NEAR_JACCARD = 0.7
#: Only pairs at or over this cosine are compared word by word (near copies by
#: words are near in meaning too; it keeps the comparison off 30 million pairs).
JACCARD_CANDIDATE_COSINE = 0.6
_DIGEST_LENGTH = 16


@dataclass(frozen=True)
class Text:
    """A text and where it comes from (a file, with the intent or article slug)."""

    text: str
    where: str

    @property
    def key(self) -> str:
        """Its normalised form."""
        return normalise(self.text)


@dataclass(frozen=True)
class NearPair:
    """A training text near a held-out question."""

    trained: Text
    held_out: Text
    cosine: float
    jaccard: float

    @property
    def digest(self) -> str:
        """The pair's line in :data:`KNOWN_FILE`."""
        return f"{_digest(self.trained.key)} {_digest(self.held_out.key)}"

    def describe(self) -> str:
        return (
            f'"{self.trained.text}" ({self.trained.where}) is near '
            f'"{self.held_out.text}" ({self.held_out.where}): cosine '
            f"{self.cosine:.2f}, word Jaccard {self.jaccard:.2f}"
        )


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:_DIGEST_LENGTH]


def _nlu_texts(root: Path, globs: Iterable[str]) -> list[Text]:
    texts = []
    for path in [path for glob in globs for path in sorted(root.glob(glob))]:
        examples, _ = read_examples(path, root)  # malformed files: check_nlu_data's
        texts += [Text(e.text, f"{e.file}, {e.intent}") for e in examples]
    return texts


def _kb_texts(questions: QuestionSet, where: str) -> list[Text]:
    return [Text(q, f"{where}, {slug}") for q, slug in questions.answerable] + [
        Text(q, f"{where}, unanswerable") for q in questions.unanswerable
    ]


def training_texts(root: Path) -> list[Text]:
    """The NLU's intent examples and the articles' titles, keywords and questions."""
    texts = _nlu_texts(root, [TRAINING_GLOB])
    for article in load_articles(root / ARTICLES_DIR):
        where = f"article {article.slug}"
        for text in (article.title, *article.keywords, *article.questions):
            texts.append(Text(text, where))
    return texts


def held_out_texts(root: Path) -> list[Text]:
    """Every held-out question: test and validation sets of the NLU and help centre."""
    texts = _nlu_texts(root, NLU_HELDOUT_GLOBS)
    texts += _kb_texts(load_holdout(*(root / name for name in KB_TEST)), KB_TEST[0])
    for path in sorted(root.glob(KB_VALIDATION_GLOB)):
        texts += _kb_texts(load_validation(path), path.relative_to(root).as_posix())
    return texts


def _unique(texts: Iterable[Text]) -> list[Text]:
    """One text per normalised form (the first), empty ones left out."""
    seen: dict[str, Text] = {}
    for text in texts:
        if text.key:
            seen.setdefault(text.key, text)
    return list(seen.values())


def near_pairs(
    trained: Sequence[Text],
    held_out: Sequence[Text],
    embedder: Embedder,
    cache: EmbeddingCache,
) -> list[NearPair]:
    """Every pair of a training text and a different held-out question that is near."""
    trained, held_out = _unique(trained), _unique(held_out)
    vectors = cache.embed(
        [t.key for t in trained] + [t.key for t in held_out], embedder
    )
    cosines = vectors[: len(trained)] @ vectors[len(trained) :].T
    words = [frozenset(t.key.split()) for t in (*trained, *held_out)]
    pairs = []
    for i, j in zip(*np.nonzero(cosines >= JACCARD_CANDIDATE_COSINE), strict=True):
        a, b = trained[i], held_out[j]
        if a.key == b.key:
            continue
        wa, wb = words[i], words[len(trained) + j]
        jaccard = len(wa & wb) / len(wa | wb)
        cosine = float(cosines[i, j])
        if cosine >= NEAR_COSINE or jaccard >= NEAR_JACCARD:
            pairs.append(NearPair(a, b, cosine, jaccard))
    return sorted(
        pairs, key=lambda p: (p.held_out.where, p.held_out.key, p.trained.key)
    )


def read_known(path: Path = KNOWN_FILE) -> frozenset[str]:
    """The pairs that predate the check (lines of two digests; '#' starts a comment)."""
    if not path.exists():
        return frozenset()
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(
        " ".join(line.split())
        for line in lines
        if line.strip() and not line.startswith("#")
    )


def write_known(pairs: Iterable[NearPair], path: Path = KNOWN_FILE) -> None:
    """Record these pairs as predating the check."""
    header = (
        "# Near pairs of a training text and a held-out question that predate\n"
        "# scripts/check_near_questions.py: sha256[:16] of each normalised text.\n"
    )
    lines = sorted({pair.digest for pair in pairs})
    path.write_text(header + "".join(f"{line}\n" for line in lines), encoding="utf-8")


def main(
    argv: Sequence[str] | None = None, root: Path = ROOT, known_file: Path = KNOWN_FILE
) -> int:
    """Print the new near pairs; exit status 1 if there are any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--show-known", action="store_true", help="list the known pairs too"
    )
    parser.add_argument(
        "--write-known",
        action="store_true",
        help=f"record every pair found as known ({KNOWN_FILE.name}) and pass",
    )
    args = parser.parse_args(argv)
    cache = EmbeddingCache(root / CACHE_FILE)
    pairs = near_pairs(
        training_texts(root), held_out_texts(root), minilm_embedder(), cache
    )
    if args.write_known:
        write_known(pairs, known_file)
    known = read_known(known_file)
    new = [p for p in pairs if p.digest not in known]
    old = [p for p in pairs if p.digest in known]
    for title, shown in (("new near pair(s)", new), ("known near pair(s)", old)):
        if shown and (shown is new or args.show_known):
            print(f"Near-question check: {len(shown)} {title}")
            print("\n".join(f"  - {p.describe()}" for p in shown))
    print(
        f"Near-question check: {'FAILED' if new else 'passed'}, {len(new)} new near "
        f"pair(s), {len(old)} known pair(s) predating the check (--show-known lists them)"
    )
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
