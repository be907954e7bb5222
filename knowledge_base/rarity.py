"""How rare a search term is where customers write: the weights of the lexical evidence.

The hybrid's confidence adds the share of the question an article covers, each word
weighed by its rarity (:meth:`knowledge_base.bm25.Bm25Index.rank`). Weighed by BM25's
IDF over the articles alone, that share changed with the help centre's size: among
the 17 shipped articles "deliver" is in eleven and weighs 0.13 of a word no article
has, but among 200 (the benchmark's 183 extra product guides do not use it) it
weighs 0.48 of one. A question sharing such words with an article looked better
covered the more articles there were, and the threshold that does best on the
validation set rose from 0.752 for 17 articles to 0.807 for 200: a help centre that
grew would answer more questions it should refuse unless someone chose its threshold
again.

:class:`TermRarity` counts document frequency over the customers' own messages as
well: every in-scope intent example of the NLU's training data (``data/nlu/*.yml``,
``out_of_scope`` left out, each distinct message once) is a document beside the
articles. A word customers write in many messages weighs little however many
articles there are ("order", in 534 of 3,014, weighs 0.2 of an unknown word;
"deliver", in 103, 0.38 with 17 articles or 200), one they rarely write weighs a
lot whether an article has it or not, and the articles still count, so a help
centre's own vocabulary is rare where customers do not use it. With these weights
the threshold that does best on the validation set for the served weights is 0.807
for 17 articles and 0.808 for 110 or 200 (with the benchmark's synthetic product
guides); with 60 it does within one question of the best.

The counts are stored in :data:`DEFAULT_COUNTS_FILE`, written from the NLU data by
``make kb-words`` (``scripts/count_customer_words.py``); ``make lint`` fails when the
file no longer matches the data or the analysis rules. So the help centre reads no
training data at start-up, and an edit to the NLU's examples changes its weights
only when someone rewrites the file (and can check the threshold again).
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from knowledge_base.analysis import analyze

#: Search terms in customers' messages, with how many messages contain each.
DEFAULT_COUNTS_FILE = Path(__file__).parent / "customer_words.tsv"

#: The file's line that gives how many messages were counted (never a search term).
_MESSAGES = "(messages)"

#: Per term, how many documents contain it; and how many documents there are.
Counts = tuple[Mapping[str, int], int]


def count_terms(messages: Iterable[str]) -> Counts:
    """How many of the messages contain each search term, and how many there are.

    Numbers are left out: the coverage never counts them.
    """
    counts: Counter[str] = Counter()
    total = 0
    for text in messages:
        counts.update(term for term in set(analyze(text)) if not term.isdigit())
        total += 1
    return dict(counts), total


def format_counts(counts: Counts, header: str) -> str:
    """The counts file's text: comment lines, then the message count, then the terms."""
    terms, total = counts
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    rows = "".join(f"{term}\t{terms[term]}\n" for term in sorted(terms))
    return f"{comments}{_MESSAGES}\t{total}\n{rows}"


@functools.lru_cache(maxsize=4)
def load_counts(path: Path = DEFAULT_COUNTS_FILE) -> Counts:
    """Read a counts file (cached: read once per process).

    Raises:
        FileNotFoundError: If there is no such file.
        ValueError: If a line is not ``term<TAB>count`` (or repeats a term), the
            message count is missing, or a term is in more messages than it gives.
    """
    terms: dict[str, int] = {}
    total: int | None = None
    text = path.read_text(encoding="utf-8-sig")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, tab, value = line.partition("\t")
        repeated = name in terms or (name == _MESSAGES and total is not None)
        if not tab or not name or not (value.isascii() and value.isdigit()):
            raise ValueError(f"{path}:{number}: expected 'term<TAB>count': {line!r}")
        if repeated:
            raise ValueError(f"{path}:{number}: {name!r} is given twice")
        if name == _MESSAGES:
            total = int(value)
        else:
            terms[name] = int(value)
    if total is None:
        raise ValueError(f"{path}: no '{_MESSAGES}<TAB>count' line")
    for name, count in terms.items():
        if count > total:
            raise ValueError(f"{path}: {name!r} is in {count} of {total} messages")
    return terms, total


class TermRarity:
    """A search term's weight: BM25's IDF over customer messages and articles together.

    Args:
        background: Per term, how many customer messages contain it; and how many
            messages there are.
        articles: The same for the articles.
    """

    def __init__(self, background: Counts, articles: Counts) -> None:
        self._background, background_count = background
        self._articles, article_count = articles
        self._count = background_count + article_count

    @classmethod
    def from_file(
        cls, articles: Counts, path: Path = DEFAULT_COUNTS_FILE
    ) -> TermRarity:
        """Rarity over a stored counts file (the shipped one by default)."""
        return cls(load_counts(path), articles)

    def __call__(self, term: str) -> float:
        """The term's weight; a document is a message or an article."""
        found = self._background.get(term, 0) + self._articles.get(term, 0)
        return math.log(1 + (self._count - found + 0.5) / (found + 0.5))
