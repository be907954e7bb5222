"""BM25F over the articles' fields, with the share of the query each article covers.

BM25 over the fields title, keywords, questions and body with per-field boosts (3.0,
2.5, 2.0, 1.0), after the rule-based text analysis in :mod:`knowledge_base.analysis`.
Besides the score, each match says how much of the question the article covers:

* ``coverage``: the IDF-weighted share of the query's words found in the article,
  where a word found only in the body counts half and a word no article contains
  gets the highest possible IDF ("can I pay with bitcoin" covers 0.11 of the
  Payment methods article: "bitcoin" is unknown). The hybrid weighs the words by
  their rarity in customers' messages and the articles instead (``rank(query,
  rarity)``, :mod:`knowledge_base.rarity`; 0.32 there, "pay" being less common in
  customers' messages than in our articles), so that the share does not change
  with the number of articles.
* ``on_topic``: at least one query word occurs in the article's title, keywords or
  questions, so a passing mention in a body ("in stock") never decides on its own.

Scores are computed from an inverted index (term -> articles), so a query costs time
in proportion to the articles sharing its words, not to the number of articles.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from knowledge_base.analysis import analyze
from knowledge_base.articles import Article

_FIELD_BOOSTS = {"title": 3.0, "keywords": 2.5, "questions": 2.0, "body": 1.0}
_FIELD_B = {"title": 0.3, "keywords": 0.5, "questions": 0.5, "body": 0.75}
_HEAD_FIELDS = ("title", "keywords", "questions")
_BODY_ONLY_CREDIT = 0.5
_K1 = 2.0


@dataclass(frozen=True)
class LexicalMatch:
    """One article's BM25F figures for a query.

    Attributes:
        index: The article's position in the index's article list.
        score: BM25F score (unbounded, higher is better).
        coverage: Weighted share of the query's words found in the article (0-1),
            by IDF or by the ``rarity`` :meth:`Bm25Index.rank` was given.
        on_topic: Whether a query word occurs in the title, keywords or questions.
    """

    index: int
    score: float
    coverage: float
    on_topic: bool


@dataclass(frozen=True)
class _Posting:
    """A term's figures in one article: saturated weighted tf and presence credit."""

    index: int
    weighted_tf: float
    presence: float  # 1.0 in a head field, _BODY_ONLY_CREDIT in the body only


class Bm25Index:
    """BM25F over a fixed list of articles.

    Args:
        articles: The articles, in the order match indexes refer to.
    """

    def __init__(self, articles: Sequence[Article]) -> None:
        fields = [
            {
                "title": Counter(analyze(article.title)),
                "keywords": Counter(analyze(" . ".join(article.keywords))),
                "questions": Counter(analyze(" . ".join(article.questions))),
                "body": Counter(analyze(article.body)),
            }
            for article in articles
        ]
        count = max(len(articles), 1)
        lengths = [
            {name: sum(counts.values()) for name, counts in doc.items()}
            for doc in fields
        ]
        average = {
            name: max(sum(length[name] for length in lengths) / count, 1.0)
            for name in _FIELD_BOOSTS
        }
        self._count = len(articles)
        self._postings: dict[str, list[_Posting]] = defaultdict(list)
        for index, (doc, length) in enumerate(zip(fields, lengths, strict=True)):
            for term in sorted(set().union(*doc.values())):
                weighted_tf = 0.0
                for name, counts in doc.items():
                    if tf := counts.get(term, 0):
                        norm = (
                            1
                            - _FIELD_B[name]
                            + _FIELD_B[name] * length[name] / (average[name])
                        )
                        weighted_tf += _FIELD_BOOSTS[name] * tf / norm
                head = any(term in doc[name] for name in _HEAD_FIELDS)
                presence = 1.0 if head else _BODY_ONLY_CREDIT
                self._postings[term].append(_Posting(index, weighted_tf, presence))
        self._idf = {
            term: self._bm25_idf(len(postings))
            for term, postings in self._postings.items()
        }
        self._unknown_idf = self._bm25_idf(0)

    @property
    def terms(self) -> frozenset[str]:
        """Every search term some article contains."""
        return frozenset(self._postings)

    @property
    def document_frequencies(self) -> tuple[Mapping[str, int], int]:
        """Per term, how many articles contain it; and how many articles there are."""
        return (
            {term: len(postings) for term, postings in self._postings.items()},
            self._count,
        )

    def rank(
        self, query: str, rarity: Callable[[str], float] | None = None
    ) -> list[LexicalMatch]:
        """Every article that shares a term with the query, best score first.

        Args:
            query: The question.
            rarity: A term's weight in ``coverage`` (:mod:`knowledge_base.rarity`);
                BM25's IDF over the articles by default. The score always uses
                BM25's IDF.
        """
        terms = set(analyze(query))
        informative = {term for term in terms if not term.isdigit()}
        weight = rarity or (lambda term: self._idf.get(term, self._unknown_idf))
        total_weight = sum(weight(term) for term in informative)
        scores: dict[int, float] = defaultdict(float)
        found: dict[int, float] = defaultdict(float)
        head: set[int] = set()
        for term in terms:
            idf = self._idf.get(term)
            if idf is None:
                continue
            share = weight(term) if term in informative else 0.0
            for posting in self._postings[term]:
                tf = posting.weighted_tf
                scores[posting.index] += idf * tf / (_K1 + tf)
                found[posting.index] += share * posting.presence
                if posting.presence == 1.0:
                    head.add(posting.index)
        matches = [
            LexicalMatch(
                index,
                score,
                found[index] / total_weight if total_weight else 0.0,
                index in head,
            )
            for index, score in scores.items()
            if score > 0
        ]
        return sorted(matches, key=lambda match: (-match.score, match.index))

    def _bm25_idf(self, doc_freq: int) -> float:
        return math.log(1 + (self._count - doc_freq + 0.5) / (doc_freq + 0.5))
