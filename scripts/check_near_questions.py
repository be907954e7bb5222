"""Checks that no training text is a copy or near copy of a held-out question (`make lint`).

Run with `.venv/bin/python -m scripts.check_near_questions`. The exact-copy checks
(scripts/check_nlu_data.py, scripts.check_kb_data) compare the NLU's sets with the
NLU's training data and the help centre's with its articles, and miss a training
example written one word away from a test question: "will i lose any money if i
back out of a purchase before it's posted" next to a test question that says "before
it ships". Held-out figures then partly measure wordings seen in training. This check
compares

* what is trained or retrieved on: the NLU's intent examples (``data/nlu/*.yml``)
  and the help-centre articles' titles, keywords and example questions (not their
  body passages);
* with every held-out question: the NLU's test sets (``tests/nlu_holdout/``) and
  validation sets (``data/validation/*.yml``), and the help centre's test set
  (``tests/kb_holdout/``) and validation files (``data/validation/kb/``);

across both (an NLU example against a help-centre test question too), and fails on
a pair that is the same text or near it: a cosine of :data:`NEAR_COSINE` or more
between the offline sentence encoder's embeddings (the one the NLU and the help
centre use), or a word Jaccard of :data:`NEAR_JACCARD` or more (distinct words, in
any order: one word added to a text of three or more, dropped from one of four or
more, replaced in one of six or more) with a cosine of :data:`JACCARD_MIN_COSINE`
or more (a typo or a synonym, not another question of the same shape). Texts are
compared after
:func:`scripts.check_nlu_data.normalise`. A set that cannot be read, or a folder with
no set, fails too: a check that reads nothing passes.

Pairs that predate the check (2026-12-01: 23% of the help-centre test questions,
39% of ``tests/nlu_holdout/nlu.yml``) are listed in :data:`KNOWN_FILE`, one line per
pair (the sha256 of each normalised text, shortened): they are reported, not failed
on (``--show-known`` lists them). A new example near a held-out question fails: write
it another way or leave it out. ``--write-known`` records the pairs found now, listing
each one it adds, for a deliberate decision explained in the same commit.

Embeddings are cached by content hash in ``results/lint/`` (the first run encodes
the 8,170 distinct texts, 26 s on 2 cores; later runs about a second).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

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
#: which two texts are near copies ...
NEAR_JACCARD = 0.7
#: ... if their cosine is at least this: the changed word keeps some of the meaning
#: (a typo, "retrun" 0.54; a synonym), unlike "how do i make a profile" and "how do
#: i make a purchase" (0.31), which share five of six words and no meaning.
JACCARD_MIN_COSINE = 0.5
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
        relation = (
            "is the same text as"
            if self.trained.key == self.held_out.key
            else "is near"
        )
        return (
            f'"{self.trained.text}" ({self.trained.where}) {relation} '
            f'"{self.held_out.text}" ({self.held_out.where}): cosine '
            f"{self.cosine:.2f}, word Jaccard {self.jaccard:.2f}"
        )


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:_DIGEST_LENGTH]


def _nlu_texts(root: Path, globs: Iterable[str], problems: list[str]) -> list[Text]:
    texts = []
    for glob in globs:
        paths = sorted(root.glob(glob))
        if not paths:
            problems.append(f"no file matches {glob}")
        for path in paths:
            examples, read_problems = read_examples(path, root)
            problems += [problem.message for problem in read_problems]
            texts += [Text(e.text, f"{e.file}, {e.intent}") for e in examples]
    return texts


def _kb_texts(
    questions: QuestionSet, where: str, unanswerable_where: str
) -> list[Text]:
    return [Text(q, f"{where}, {slug}") for q, slug in questions.answerable] + [
        Text(q, unanswerable_where) for q in questions.unanswerable
    ]


def training_texts(root: Path, problems: list[str]) -> list[Text]:
    """The NLU's intent examples and the articles' titles, keywords and questions."""
    texts = _nlu_texts(root, [TRAINING_GLOB], problems)
    articles = load_articles(root / ARTICLES_DIR)
    if not articles:
        problems.append(f"no article in {ARTICLES_DIR}")
    for article in articles:
        where = f"article {article.slug}"
        for text in (article.title, *article.keywords, *article.questions):
            texts.append(Text(text, where))
    return texts


def held_out_texts(root: Path, problems: list[str]) -> list[Text]:
    """Every held-out question: test and validation sets of the NLU and help centre."""
    texts = _nlu_texts(root, NLU_HELDOUT_GLOBS, problems)
    paraphrases, unanswerable = KB_TEST
    test = load_holdout(root / paraphrases, root / unanswerable)
    texts += _kb_texts(test, paraphrases, unanswerable)
    paths = sorted(root.glob(KB_VALIDATION_GLOB))
    if not paths:
        problems.append(f"no file matches {KB_VALIDATION_GLOB}")
    for path in paths:
        name = path.relative_to(root).as_posix()
        texts += _kb_texts(load_validation(path), name, f"{name}, unanswerable")
    return texts


def _unique(texts: Iterable[Text]) -> list[Text]:
    """One text per normalised form (the first), empty ones left out."""
    seen: dict[str, Text] = {}
    for text in texts:
        if text.key:
            seen.setdefault(text.key, text)
    return list(seen.values())


def _words(
    texts: Sequence[Text], vocabulary: dict[str, int]
) -> tuple[list[int], list[int]]:
    """Each text's distinct words as (row, column) pairs; new words join the vocabulary."""
    rows, columns = [], []
    for row, text in enumerate(texts):
        for word in set(text.key.split()):
            rows.append(row)
            columns.append(vocabulary.setdefault(word, len(vocabulary)))
    return rows, columns


def _jaccard(first: Sequence[Text], second: Sequence[Text]) -> sparse.coo_matrix:
    """Word Jaccard of every pair sharing a word (sparse; the others are 0)."""
    vocabulary: dict[str, int] = {}
    cells = [_words(texts, vocabulary) for texts in (first, second)]
    a, b = (
        sparse.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, columns)),
            shape=(len(texts), len(vocabulary)),
        )
        for texts, (rows, columns) in zip((first, second), cells, strict=True)
    )
    shared = (a @ b.T).tocoo()
    sizes_a = np.asarray(a.sum(axis=1)).ravel()
    sizes_b = np.asarray(b.sum(axis=1)).ravel()
    union = sizes_a[shared.row] + sizes_b[shared.col] - shared.data
    return sparse.coo_matrix(
        (shared.data / union, (shared.row, shared.col)), shape=shared.shape
    )


def near_pairs(
    trained: Sequence[Text],
    held_out: Sequence[Text],
    embedder: Embedder,
    cache: EmbeddingCache,
) -> list[NearPair]:
    """Every pair of a training text and a held-out question that is the same or near."""
    trained, held_out = _unique(trained), _unique(held_out)
    vectors = cache.embed(
        [t.key for t in trained] + [t.key for t in held_out], embedder
    )
    cosines = vectors[: len(trained)] @ vectors[len(trained) :].T
    jaccard = _jaccard(trained, held_out)
    by_words = (jaccard.data >= NEAR_JACCARD) & (
        cosines[jaccard.row, jaccard.col] >= JACCARD_MIN_COSINE
    )
    near = set(zip(*np.nonzero(cosines >= NEAR_COSINE), strict=True))
    near |= set(zip(jaccard.row[by_words], jaccard.col[by_words], strict=True))
    words = jaccard.tocsr()
    pairs = [
        NearPair(trained[i], held_out[j], float(cosines[i, j]), float(words[i, j]))
        for i, j in near
    ]
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
    """Record these pairs (and only these) as known."""
    header = (
        "# Pairs of a training text and a held-out question that are the same or\n"
        "# near, recorded as known by scripts/check_near_questions.py --write-known:\n"
        "# sha256[:16] of each normalised text. The first 1,411 predate the check\n"
        "# (2026-12-01); add others only with a reason in the commit.\n"
    )
    lines = sorted({pair.digest for pair in pairs})
    path.write_text(header + "".join(f"{line}\n" for line in lines), encoding="utf-8")


def _print(title: str, pairs: Sequence[NearPair]) -> None:
    print(f"Near-question check: {len(pairs)} {title}")
    print("\n".join(f"  - {pair.describe()}" for pair in pairs))


def main(
    argv: Sequence[str] | None = None, root: Path = ROOT, known_file: Path = KNOWN_FILE
) -> int:
    """Print the new pairs and any set not read; exit status 1 if there are any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--show-known", action="store_true", help="list the known pairs too"
    )
    parser.add_argument(
        "--write-known",
        action="store_true",
        help=f"record the pairs found now as known ({KNOWN_FILE.name}), listing "
        "the ones added",
    )
    args = parser.parse_args(argv)
    problems: list[str] = []
    trained = training_texts(root, problems)
    held_out = held_out_texts(root, problems)
    pairs = near_pairs(
        trained, held_out, minilm_embedder(), EmbeddingCache(root / CACHE_FILE)
    )
    known = read_known(known_file)
    if args.write_known and not problems:
        added = [pair for pair in pairs if pair.digest not in known]
        write_known(pairs, known_file)
        _print("pair(s) recorded as known", added)
        known = read_known(known_file)
    new = [pair for pair in pairs if pair.digest not in known]
    old = [pair for pair in pairs if pair.digest in known]
    stale = known - {pair.digest for pair in pairs}
    if new:
        _print("new pair(s): write the training example another way", new)
    if args.show_known:
        _print("known pair(s)", old)
    for problem in problems:
        print(f"  - {problem}")
    failed = bool(new or problems)
    print(
        f"Near-question check: {'FAILED' if failed else 'passed'}, {len(new)} new "
        f"pair(s), {len(old)} known (--show-known lists them), {len(stale)} recorded "
        f"pair(s) no longer found, {len(problems)} set(s) not read"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
