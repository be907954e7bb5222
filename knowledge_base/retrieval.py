"""The help centre's retriever: which article answers a question, if any.

Used by ``actions/knowledge.py`` for the ``faq`` intent. Two rankers look at every
question (``method="hybrid"``, the default):

* lexical, :mod:`knowledge_base.bm25`: BM25F over title, keywords, questions and
  body after rule-based analysis (:mod:`knowledge_base.analysis`); it knows exact
  words, product names and the shop's own vocabulary, and how much of the question
  an article covers (``coverage``, 0-1; a word no article contains counts against it);
* semantic, :mod:`knowledge_base.semantic`: the offline sentence encoder's cosine
  between the question and each article's title, example questions and body
  passages; it matches questions asked in other words ("assistance seeing the
  accepted payment options").

They are fused with a weighted score (``similarity + rank_lexical_weight *
lexical``, where ``lexical`` is the coverage, halved if no question word is in a
head field and scaled down under ``MIN_SCORE``) or, with ``fusion="rrf"``, by
reciprocal rank fusion. The hybrid's coverage weighs each question word by its
rarity in customers' own messages (the NLU's training data) and the articles
together (:mod:`knowledge_base.rarity`), not by BM25's IDF over the articles alone,
so that it does not change as articles are added. Answering with the wrong article is worse than not answering (the bot then
offers a ticket or a person), so :meth:`KnowledgeBase.search` returns the best
article only if its confidence, ``similarity + gate_lexical_weight * lexical``,
reaches ``threshold``, and the question names no other business
(:mod:`knowledge_base.elsewhere`: "what is ikea's return policy", which the encoder
takes for a question about ours, or "amazon's return policy", a name we use asked
about as another business's; one named in passing may be answered by an article
about other businesses, Price match), as :meth:`KnowledgeBase.refuses` decides; the
answer is the article's best passage when the article is long (:meth:`Match.answer`).

Every constant of the hybrid and the semantic-only threshold were chosen by ``make
calibrate-kb`` on the validation set (never on the frozen test set
``tests/kb_holdout/``): the answerable questions of ``data/validation/kb/clean.yml``,
which no example question was written against, and the unanswerable questions of
all three files (:func:`benchmarks.kb_sets.load_calibration`). Chosen on the two
older files, whose questions the articles' example questions were written against,
the threshold (0.81) refused a quarter of the clean file's answerable questions;
ranking by the similarity alone gained +0.077 in min(top-1, IDK recall) there (a
paired bootstrap's 95% interval +0.014 to +0.130). Other refusal signals (cosines
with questions, passages or title alone, the margin to the second article, a
logistic model, a classifier over the example questions) did no better. With
coverage weighed by BM25's IDF the best threshold for the served weights was 0.752
for our 17 articles (0.731 was served) and 0.807 for 200 (the benchmark's product
guides added): a growing help centre would have answered more questions it should
refuse. Weighed by rarity in customers' messages it is 0.807 for 17 articles and
0.808 for 110 or 200; with 60, 0.807 does within one question of the best.
``make benchmark-kb`` measures the methods on the test set,
with 17 and 200 articles (see the README). Both rankers read the question with typos
of the articles' words mended (:meth:`KnowledgeBase.read`). The question's embedding
and cosines run on one BLAS thread. The lexical method alone (``method="bm25"``)
keeps the earlier rules and BM25's own IDF: coverage >= ``MIN_COVERAGE``, score >=
``MIN_SCORE`` and a question word in a head field.

Articles are embedded when the knowledge base is built (the action server does it
at start-up), with embeddings cached by content hash, so editing or adding an
article needs no retraining. To teach the retriever a new wording, add it to an
article's ``questions`` or ``keywords``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from bot.nlu.encoder import one_blas_thread
from knowledge_base.articles import Article, load_articles
from knowledge_base.bm25 import Bm25Index, LexicalMatch
from knowledge_base.elsewhere import (
    KnownBusinesses,
    OtherBusiness,
    article_words,
    load_businesses,
)
from knowledge_base.rarity import TermRarity
from knowledge_base.semantic import (
    Embedder,
    EmbeddingCache,
    SemanticIndex,
    SemanticScores,
    minilm_embedder,
)
from knowledge_base.typos import QuestionReader

#: Environment variable that overrides the default articles directory.
KNOWLEDGE_BASE_DIR_ENV = "KNOWLEDGE_BASE_DIR"

#: Articles shipped with the package.
DEFAULT_ARTICLES_DIR = Path(__file__).parent / "articles"

#: Where the action server caches article embeddings, inside SWITCHBOARD_VAR_DIR.
CACHE_FILE_NAME = "kb_embeddings.npz"

#: BM25 alone: minimum IDF-weighted share of query words found in the best article.
MIN_COVERAGE = 0.55

#: BM25 alone: minimum BM25F score of the best article.
MIN_SCORE = 0.8

Method = Literal["hybrid", "semantic", "bm25"]
Fusion = Literal["weighted", "rrf"]


@dataclass(frozen=True)
class Calibration:
    """The hybrid's constants (chosen on the validation set, see the module docstring).

    Attributes:
        passage_bonus: Added to a body passage's cosine before taking an article's best.
        rank_lexical_weight: Weight of the lexical score when ranking (``weighted``).
        gate_lexical_weight: Weight of the lexical score in the confidence.
        threshold: Minimum confidence of the best article (hybrid).
        fallback_threshold: The same, for a question the NLU could not place
            (:mod:`knowledge_base.unsure`; chosen by ``benchmarks.kb_pipeline``).
        semantic_threshold: Minimum similarity of the best article (semantic alone).
        fusion: ``weighted`` score or reciprocal rank fusion (``rrf``) for ranking.
        rrf_k: The constant of reciprocal rank fusion.
        refuse_other_business: The hybrid refuses a question naming another
            business by a word it does not know (:mod:`knowledge_base.elsewhere`).
        refuse_known_business: The hybrid refuses a question naming a listed
            well-known business, unless its best article is about other businesses.
    """

    passage_bonus: float = 0.1
    rank_lexical_weight: float = 0.0
    gate_lexical_weight: float = 0.4
    threshold: float = 0.807
    fallback_threshold: float = 0.81
    semantic_threshold: float = 0.612
    fusion: Fusion = "weighted"
    rrf_k: float = 60.0
    refuse_other_business: bool = True
    refuse_known_business: bool = True


#: The constants served (chosen by `python -m benchmarks.kb --calibrate`).
CALIBRATION = Calibration()


@dataclass(frozen=True)
class Match:
    """A search result.

    Attributes:
        article: The best-ranked article.
        score: The ranking's confidence in it: for the hybrid, similarity plus the
            weighted lexical score; for semantic alone, the similarity; for BM25
            alone, the BM25F score (unbounded, higher is better).
        coverage: Weighted share of the query's words found in the article (0-1):
            by rarity in customers' messages for the hybrid and semantic alone,
            by BM25's IDF for BM25 alone.
        on_topic: Whether a query word occurs in the article's title, keywords
            or questions (not only somewhere in its body).
        similarity: Best cosine between the question and the article's texts
            (passages with their bonus); 0.0 for BM25 alone.
        passage: Index of the article's passage that best answers the question.
    """

    article: Article
    score: float
    coverage: float
    on_topic: bool
    similarity: float = 0.0
    passage: int = 0

    @property
    def answer(self) -> str:
        """The text to answer with: the body, or from the best passage of a long one."""
        return self.article.answer(self.passage)


class KnowledgeBase:
    """Search over a fixed set of articles.

    Args:
        articles: The articles to search.
        embedder: The sentence encoder (the process's MiniLM by default); unused by
            ``method="bm25"``.
        cache: Where article embeddings are kept (memory only by default).
        method: ``hybrid`` (served), ``semantic`` or ``bm25`` alone (benchmarks).
        calibration: The hybrid's constants.
        min_coverage: BM25 alone: minimum coverage of the best article.
        min_score: BM25 alone: minimum BM25F score of the best article.
        businesses: Well-known businesses (the shipped ``businesses.yml`` by
            default; :mod:`knowledge_base.elsewhere`).
        rarity: The hybrid's word weights in the lexical evidence (the shipped
            counts over customers' messages and these articles by default;
            :mod:`knowledge_base.rarity`); unused by ``method="bm25"``.
    """

    def __init__(
        self,
        articles: list[Article],
        embedder: Embedder | None = None,
        cache: EmbeddingCache | None = None,
        method: Method = "hybrid",
        calibration: Calibration = CALIBRATION,
        min_coverage: float = MIN_COVERAGE,
        min_score: float = MIN_SCORE,
        businesses: KnownBusinesses | None = None,
        rarity: TermRarity | None = None,
    ) -> None:
        self.articles = list(articles)
        self.method = method
        self.calibration = calibration
        self.min_coverage = min_coverage
        self.min_score = min_score
        self._bm25 = Bm25Index(self.articles)
        self._semantic: SemanticIndex | None = None
        self._rarity: TermRarity | None = None
        english: frozenset[str] = frozenset()
        if method != "bm25":
            self._rarity = rarity or TermRarity.from_file(
                self._bm25.document_frequencies
            )
            embedder = embedder or minilm_embedder()
            self._semantic = SemanticIndex(self.articles, embedder, cache)
            words = getattr(embedder.encoder, "words", None)
            english = words() if callable(words) else frozenset()
        texts = [
            text
            for article in self.articles
            for text in (
                article.title,
                article.body,
                *article.keywords,
                *article.questions,
            )
        ]
        known = businesses if businesses is not None else load_businesses()
        self._other_business = OtherBusiness(
            self._bm25.terms,
            article_words(texts),
            english,
            known,
            "\n".join(texts).lower(),
        )
        self._by_slug = {article.slug: article for article in self.articles}
        self._reader = (
            QuestionReader(
                texts,
                english,
                known.anywhere + known.in_a_name_place + known.asked_about_only,
            )
            if english
            else None
        )

    @classmethod
    def from_directory(
        cls,
        path: Path | str | None = None,
        *,
        cache: EmbeddingCache | None = None,
        embedder: Embedder | None = None,
        method: Method = "hybrid",
    ) -> KnowledgeBase:
        """Build a knowledge base from a folder of articles.

        Args:
            path: Articles folder. Defaults to ``$KNOWLEDGE_BASE_DIR`` if set,
                otherwise the ``articles`` folder next to this module.
            cache: Where article embeddings are kept (memory only by default).
            embedder: The sentence encoder (the process's MiniLM by default).
            method: ``hybrid``, ``semantic`` or ``bm25``.

        Returns:
            The knowledge base.

        Raises:
            FileNotFoundError: If the folder does not exist.
            ValueError: If an article is malformed or the folder has no articles.
        """
        if path is None:
            path = os.environ.get(KNOWLEDGE_BASE_DIR_ENV) or DEFAULT_ARTICLES_DIR
        articles = load_articles(Path(path))
        if not articles:
            raise ValueError(f"No articles (*.md) found in {path}")
        return cls(articles, embedder=embedder, cache=cache, method=method)

    def with_method(
        self, method: Method, calibration: Calibration | None = None
    ) -> KnowledgeBase:
        """The same articles and embeddings, ranked another way (benchmarks)."""
        if method != "bm25" and self._semantic is None:
            raise ValueError(f"method {method!r} needs the semantic index")
        other = object.__new__(KnowledgeBase)
        other.__dict__.update(self.__dict__)
        other.method = method
        other.calibration = calibration or self.calibration
        return other

    def read(self, query: str) -> str:
        """The question as the hybrid's rankers read it, typos of ours mended.

        :mod:`knowledge_base.typos`; BM25 alone, and a knowledge base whose encoder
        has no word list, read the question as written.
        """
        return self._reader.read(query) if self._reader is not None else query

    def embed(self, query: str) -> np.ndarray:
        """The embedding of the question as read (computed once, kept for recent ones)."""
        if self._semantic is None:
            raise ValueError("a bm25 knowledge base embeds nothing")
        return self._semantic.embed_query(self.read(query))

    def clear_query_cache(self) -> None:
        """Forget recent questions' embeddings (benchmarks time the encoder)."""
        if self._semantic is not None:
            self._semantic.clear_query_cache()

    def signals(
        self, query: str, vector: np.ndarray, passage_bonus: float
    ) -> tuple[SemanticScores, np.ndarray, list[LexicalMatch]]:
        """What the hybrid decides on, for every article (calibration, debugging).

        Args:
            query: The question, as written (BM25 ranks it as read, :meth:`read`).
            vector: Its embedding (:meth:`embed`).
            passage_bonus: Added to passages' cosines.

        Returns:
            The semantic scores, the lexical evidence per article (0-1) and the BM25
            ranking.
        """
        return self._signals(self.read(query), vector, passage_bonus)

    def _signals(
        self, text: str, vector: np.ndarray, passage_bonus: float
    ) -> tuple[SemanticScores, np.ndarray, list[LexicalMatch]]:
        """:meth:`signals` for a question already read (``text``)."""
        if self._semantic is None:
            raise ValueError("a bm25 knowledge base has no semantic scores")
        lexical = self._bm25.rank(text, self._rarity)
        evidence = np.zeros(len(self.articles), dtype=np.float32)
        for match in lexical:
            evidence[match.index] = _lexical(match)
        return self._semantic.scores(vector, passage_bonus), evidence, lexical

    def by_kind(self, vector: np.ndarray) -> dict[str, np.ndarray]:
        """Each article's best cosine with its title, questions and passages."""
        if self._semantic is None:
            raise ValueError("a bm25 knowledge base has no semantic scores")
        return self._semantic.by_kind(vector)

    def other_business(self, query: str) -> str | None:
        """The other business the question names by a word it does not know, if any."""
        return self._other_business.names(query)

    def known_business(self, query: str) -> str | None:
        """The listed well-known business the question names, if any."""
        return self._other_business.listed(query)

    def their_policy(self, query: str) -> str | None:
        """The business, by a name we also use, whose own policy the question asks about."""
        return self._other_business.their_policy(query)

    def refuses(self, query: str, article: Article) -> bool:
        """Whether the question, with this best article, asks about another business.

        The unknown-word rule refuses whatever the article (unless the word is a
        listed name), and so does a name customers also use about us when the
        question asks about that business's own policy ("amazon's return policy");
        a listed well-known business unless the article is about other businesses
        and the question names it only in passing ("found it cheaper at costco",
        not "costco's price match policy"). Each as the calibration enables it
        (:mod:`knowledge_base.elsewhere`).
        """
        calibration = self.calibration
        listed = self.known_business(query)
        # A listed name is the listed rule's to judge, even when the encoder does not
        # know the word: "can you match costco's price" is for Price match.
        if calibration.refuse_other_business and (
            self.other_business(query) not in (None, listed)
        ):
            return True
        if not calibration.refuse_known_business:
            return False
        if self.their_policy(query):
            return True
        if not listed:
            return False
        return (
            not article.other_businesses
            or self._other_business.asked_about(query) is not None
        )

    def get(self, slug: str) -> Article | None:
        """Return the article with this slug, or None."""
        return self._by_slug.get(slug)

    def rank(self, query: str, limit: int | None = None) -> list[Match]:
        """Every candidate article, best first, without any threshold.

        For debugging and tuning; BM25 alone lists only articles sharing a term
        with the query.

        Args:
            query: The customer's question.
            limit: At most this many matches (all by default).

        Returns:
            Matches sorted best first.
        """
        if self.method == "bm25" or self._semantic is None:
            ranked = self._bm25.rank(query)[:limit]
            return [self._match(m.index, m.score, m) for m in ranked]
        text = self.read(query)  # once: the embedding and BM25 read the same text
        with one_blas_thread():
            semantic, lexical_score, lexical = self._signals(
                text, self._semantic.embed_query(text), self.calibration.passage_bonus
            )
        by_index = {match.index: match for match in lexical}
        similarity = semantic.similarity
        if self.method == "semantic":
            order, confidence = _descending(similarity), similarity
        else:
            calibration = self.calibration
            confidence = similarity + calibration.gate_lexical_weight * lexical_score
            if calibration.fusion == "rrf":
                order = _descending(
                    _rrf(similarity, lexical, len(self.articles), calibration.rrf_k)
                )
            else:
                order = _descending(
                    similarity + calibration.rank_lexical_weight * lexical_score
                )
        return [
            self._match(
                int(i),
                float(confidence[i]),
                by_index.get(int(i)),
                float(similarity[i]),
                int(semantic.passage[i]),
            )
            for i in order[:limit]
        ]

    def search(self, query: str, threshold: float | None = None) -> Match | None:
        """Find the article that answers a question.

        Args:
            query: The customer's question, as typed or transcribed.
            threshold: The hybrid's minimum confidence, if not the calibrated one.

        Returns:
            The best match, or None if no article matches well enough.
        """
        if not query.strip():
            return None
        matches = self.rank(query, limit=1)
        if not matches:
            return None
        best = matches[0]
        if self.method == "hybrid" and self.refuses(query, best.article):
            return None
        if self.method == "bm25":
            accepted = (
                best.coverage >= self.min_coverage
                and best.score >= self.min_score
                and best.on_topic
            )
        elif self.method == "semantic":
            accepted = best.score >= self.calibration.semantic_threshold
        else:
            if threshold is None:
                threshold = self.calibration.threshold
            accepted = best.score >= threshold
        return best if accepted else None

    def _match(
        self,
        index: int,
        score: float,
        lexical: LexicalMatch | None,
        similarity: float = 0.0,
        passage: int = 0,
    ) -> Match:
        return Match(
            article=self.articles[index],
            score=score,
            coverage=lexical.coverage if lexical else 0.0,
            on_topic=lexical.on_topic if lexical else False,
            similarity=similarity,
            passage=passage,
        )


@functools.lru_cache(maxsize=1)
def served_knowledge_base(var_dir: Path) -> KnowledgeBase:
    """The hybrid knowledge base the action server answers from, built once.

    Articles come from ``$KNOWLEDGE_BASE_DIR`` (or the shipped ones); their
    embeddings are cached in ``var_dir`` (:data:`CACHE_FILE_NAME`, mode 0600).
    """
    return KnowledgeBase.from_directory(cache=EmbeddingCache(var_dir / CACHE_FILE_NAME))


def _lexical(match: LexicalMatch) -> float:
    """The lexical evidence for an article, 0-1.

    Its coverage of the question (the hybrid weighs words by their rarity in
    customers' messages), halved if no question word is in a head field, and scaled
    down when the BM25F score is under ``MIN_SCORE`` (only generic words in common).
    """
    head = 1.0 if match.on_topic else 0.5
    return match.coverage * head * min(1.0, match.score / MIN_SCORE)


def _descending(values: np.ndarray) -> np.ndarray:
    """Indexes by descending value; ties keep the articles' order."""
    return np.argsort(-values, kind="stable")


def _rrf(
    similarity: np.ndarray, lexical: list[LexicalMatch], count: int, k: float
) -> np.ndarray:
    """Reciprocal rank fusion of the semantic and the lexical ranking."""
    fused = np.zeros(count, dtype=np.float64)
    fused[_descending(similarity)] += 1.0 / (k + 1 + np.arange(count))
    for rank, match in enumerate(lexical):
        fused[match.index] += 1.0 / (k + 1 + rank)
    return fused
