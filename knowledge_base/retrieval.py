"""Help-centre articles and a small lexical retriever for the ``faq`` intent.

Articles are Markdown files with a YAML front matter block (``title``,
``keywords``, ``questions``) followed by a short answer body. The
:class:`KnowledgeBase` ranks them with BM25F: BM25 over the fields title,
keywords, questions and body with per-field boosts (3.0, 2.5, 2.0, 1.0), after
the rule-based text analysis in :mod:`knowledge_base.analysis`.

Answering with the wrong article is worse than not answering (the bot then
offers a human instead), so :meth:`KnowledgeBase.search` only returns the best
article if it passes three checks:

* ``coverage >= MIN_COVERAGE`` (0.55): the IDF-weighted share of the query's
  words found in the article, where a word found only in the body counts half
  and a word no article contains gets the highest possible IDF. So "can I pay
  with bitcoin" (coverage ~0.3, "bitcoin" is unknown) is rejected while "can I
  pay with paypal" (1.0) is accepted: most of a question must be about the
  article.
* ``score >= MIN_SCORE`` (0.8): rejects queries whose only matching words are
  generic ones most articles share ("order", "email", "account").
* ``on_topic``: at least one query word occurs in the article's title,
  keywords or questions, so a passing mention in a body ("in stock") never
  decides the answer on its own.

The thresholds were tuned on about 140 paraphrased questions and 110 off-topic
ones (the tables in ``tests/unit/test_knowledge_base.py`` hold a subset). BM25
scores grow with the number of articles, so rerun those tests after adding
articles; to teach the retriever a new wording, add it to an article's
``keywords`` rather than special-casing queries.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from knowledge_base.analysis import analyze

#: Environment variable that overrides the default articles directory.
KNOWLEDGE_BASE_DIR_ENV = "KNOWLEDGE_BASE_DIR"

#: Articles shipped with the package.
DEFAULT_ARTICLES_DIR = Path(__file__).parent / "articles"

#: Minimum IDF-weighted share of query words found in the best article.
MIN_COVERAGE = 0.55

#: Minimum BM25F score of the best article.
MIN_SCORE = 0.8

_FIELD_BOOSTS = {"title": 3.0, "keywords": 2.5, "questions": 2.0, "body": 1.0}
_FIELD_B = {"title": 0.3, "keywords": 0.5, "questions": 0.5, "body": 0.75}
_HEAD_FIELDS = ("title", "keywords", "questions")
_BODY_ONLY_CREDIT = 0.5
_K1 = 2.0

_FRONT_MATTER = re.compile(
    r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.S
)
_FIRST_SENTENCE = re.compile(r"(.+?[.!?][\"')\]]?)(?=\s+[\"'(\[]?[A-Z0-9]|\s*\Z)", re.S)
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKDOWN = re.compile(r"\*\*|__|`|^[ \t]*(?:#+|>|[-+*]|\d+\.)[ \t]+", re.M)


@dataclass(frozen=True)
class Article:
    """One help-centre article.

    Attributes:
        slug: Identifier derived from the file name (``returns.md`` -> ``returns``).
        title: Human-readable title.
        body: Markdown answer text, short enough for chat and SMS.
        keywords: Extra search terms an operator attached to the article.
        questions: Example customer questions the article answers.
    """

    slug: str
    title: str
    body: str
    keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """The first sentence of the body, as plain text (read out by the phone IVR)."""
        text = " ".join(_MARKDOWN.sub("", _MARKDOWN_LINK.sub(r"\1", self.body)).split())
        found = _FIRST_SENTENCE.match(text)
        return found.group(1) if found else text


@dataclass(frozen=True)
class Match:
    """A search result.

    Attributes:
        article: The best-ranked article.
        score: Its BM25F score (unbounded, higher is better).
        coverage: IDF-weighted share of the query's words found in the article (0-1).
        on_topic: Whether a query word occurs in the article's title, keywords
            or questions (not only somewhere in its body).
    """

    article: Article
    score: float
    coverage: float
    on_topic: bool


def load_articles(directory: Path) -> list[Article]:
    """Load every ``*.md`` article in a directory, sorted by slug.

    Args:
        directory: Folder containing the article files.

    Returns:
        The parsed articles.

    Raises:
        FileNotFoundError: If ``directory`` does not exist.
        ValueError: If an article is malformed; the message names the file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"Knowledge base directory not found: {directory}")
    return [_parse_article(path) for path in sorted(directory.glob("*.md"))]


def _parse_article(path: Path) -> Article:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not valid UTF-8 ({error})") from error
    found = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if found is None:
        raise ValueError(
            f"{path}: missing front matter (the file must start with a '---' block)"
        )
    try:
        meta = yaml.safe_load(found.group(1))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: invalid YAML front matter: {error}") from error
    if not isinstance(meta, dict):
        raise ValueError(
            f"{path}: front matter must be a mapping with 'title', 'keywords', 'questions'"
        )
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"{path}: 'title' must be a non-empty string")
    body = found.group(2).strip()
    if not body:
        raise ValueError(f"{path}: the article body is empty")
    return Article(
        slug=path.stem,
        title=title.strip(),
        body=body,
        keywords=_string_list(meta, "keywords", path),
        questions=_string_list(meta, "questions", path),
    )


def _string_list(meta: dict[str, object], key: str, path: Path) -> tuple[str, ...]:
    value = meta.get(key) or []
    if not isinstance(value, list) or not all(
        isinstance(item, str | int | float) for item in value
    ):
        raise ValueError(f"{path}: '{key}' must be a list of strings")
    return tuple(str(item).strip() for item in value if str(item).strip())


@dataclass
class _Document:
    article: Article
    fields: dict[str, Counter[str]]
    lengths: dict[str, int] = field(default_factory=dict)


class KnowledgeBase:
    """BM25F search over a fixed set of articles.

    Args:
        articles: The articles to search.
        min_coverage: Minimum IDF-weighted share of query terms the best article
            must contain (see the module docstring).
        min_score: Minimum BM25F score of the best article.
    """

    def __init__(
        self,
        articles: list[Article],
        min_coverage: float = MIN_COVERAGE,
        min_score: float = MIN_SCORE,
    ) -> None:
        self.articles = list(articles)
        self.min_coverage = min_coverage
        self.min_score = min_score
        self._docs = [
            _Document(
                article,
                {
                    "title": Counter(analyze(article.title)),
                    "keywords": Counter(analyze(" . ".join(article.keywords))),
                    "questions": Counter(analyze(" . ".join(article.questions))),
                    "body": Counter(analyze(article.body)),
                },
            )
            for article in self.articles
        ]
        for doc in self._docs:
            doc.lengths = {
                name: sum(counts.values()) for name, counts in doc.fields.items()
            }
        count = max(len(self._docs), 1)
        self._avg_length = {
            name: max(sum(doc.lengths[name] for doc in self._docs) / count, 1.0)
            for name in _FIELD_BOOSTS
        }
        doc_freq: Counter[str] = Counter()
        for doc in self._docs:
            doc_freq.update(set().union(*doc.fields.values()))
        self._idf = {term: self._bm25_idf(df) for term, df in doc_freq.items()}
        self._unknown_idf = self._bm25_idf(0)

    @classmethod
    def from_directory(cls, path: Path | str | None = None) -> KnowledgeBase:
        """Build a knowledge base from a folder of articles.

        Args:
            path: Articles folder. Defaults to ``$KNOWLEDGE_BASE_DIR`` if set,
                otherwise the ``articles`` folder next to this module.

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
        return cls(articles)

    def get(self, slug: str) -> Article | None:
        """Return the article with this slug, or None."""
        return next(
            (article for article in self.articles if article.slug == slug), None
        )

    def rank(self, query: str) -> list[Match]:
        """Score every article that shares a term with the query, best first.

        Unlike :meth:`search` this applies no threshold; it is meant for
        debugging and tuning.

        Args:
            query: The customer's question.

        Returns:
            Matches sorted by descending score.
        """
        terms = set(analyze(query))
        informative = {term for term in terms if not term.isdigit()}
        total_weight = sum(
            self._idf.get(term, self._unknown_idf) for term in informative
        )
        matches = []
        for doc in self._docs:
            score = sum(self._term_score(doc, term) for term in terms)
            if score <= 0:
                continue
            found = sum(
                self._idf.get(term, 0.0) * self._presence(doc, term)
                for term in informative
            )
            coverage = found / total_weight if total_weight else 0.0
            on_topic = any(self._presence(doc, term) == 1.0 for term in terms)
            matches.append(Match(doc.article, score, coverage, on_topic))
        return sorted(matches, key=lambda match: match.score, reverse=True)

    def search(self, query: str) -> Match | None:
        """Find the article that answers a question.

        Args:
            query: The customer's question, as typed or transcribed.

        Returns:
            The best match, or None if no article matches well enough.
        """
        matches = self.rank(query)
        if not matches:
            return None
        best = matches[0]
        if (
            best.coverage < self.min_coverage
            or best.score < self.min_score
            or not best.on_topic
        ):
            return None
        return best

    def _bm25_idf(self, doc_freq: int) -> float:
        count = len(self._docs)
        return math.log(1 + (count - doc_freq + 0.5) / (doc_freq + 0.5))

    @staticmethod
    def _presence(doc: _Document, term: str) -> float:
        """1.0 if the term is in a head field, _BODY_ONLY_CREDIT if only in the body, else 0.0."""
        if any(term in doc.fields[name] for name in _HEAD_FIELDS):
            return 1.0
        return _BODY_ONLY_CREDIT if term in doc.fields["body"] else 0.0

    def _term_score(self, doc: _Document, term: str) -> float:
        idf = self._idf.get(term)
        if idf is None:
            return 0.0
        weighted_tf = 0.0
        for name, counts in doc.fields.items():
            tf = counts.get(term, 0)
            if tf:
                norm = (
                    1
                    - _FIELD_B[name]
                    + _FIELD_B[name] * doc.lengths[name] / self._avg_length[name]
                )
                weighted_tf += _FIELD_BOOSTS[name] * tf / norm
        return idf * weighted_tf / (_K1 + weighted_tf)
