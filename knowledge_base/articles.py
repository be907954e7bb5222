"""Help-centre articles: Markdown files with a YAML front matter block.

An article file is ``---``, YAML with ``title``, ``keywords`` and ``questions`` (and
``other_businesses: true`` for an article about other businesses), ``---``, then a
short Markdown answer body. The body is also split into passages (its
sentences, as plain text): the semantic ranker embeds them, and an answer to a
question about a long article is the passage that answers it (see :meth:`Article.answer`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

#: Bodies up to this length are answered whole; longer ones by an excerpt from the
#: best passage on (a chat bubble or two SMS segments stay readable).
MAX_ANSWER_CHARS = 700

_FRONT_MATTER = re.compile(
    r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.S
)
_SENTENCE = re.compile(r"(.+?[.!?][\"')\]]?)(?=\s+[\"'(\[]?[A-Z0-9]|\s*\Z)", re.S)
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKDOWN = re.compile(r"\*\*|__|`|^[ \t]*(?:#+|>|[-+*]|\d+\.)[ \t]+", re.M)


def plain_text(markdown: str) -> str:
    """Markdown as one line of plain text: links reduced to their text, marks dropped."""
    return " ".join(_MARKDOWN.sub("", _MARKDOWN_LINK.sub(r"\1", markdown)).split())


def sentences(text: str) -> list[str]:
    """Plain text split into sentences (a sentence ends with . ! or ? before a capital)."""
    found: list[str] = []
    position = 0
    for match in _SENTENCE.finditer(text):
        found.append(match.group(1).strip())
        position = match.end()
    rest = text[position:].strip()
    if rest:
        found.append(rest)
    return [sentence for sentence in found if sentence]


@dataclass(frozen=True)
class Article:
    """One help-centre article.

    Attributes:
        slug: Identifier derived from the file name (``returns.md`` -> ``returns``).
        title: Human-readable title.
        body: Markdown answer text, short enough for chat and SMS.
        keywords: Extra search terms an operator attached to the article.
        questions: Example customer questions the article answers.
        other_businesses: The article is about other businesses (Price match), so
            a question naming one may be answered with it
            (:mod:`knowledge_base.elsewhere`).
    """

    slug: str
    title: str
    body: str
    keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    other_businesses: bool = False

    @cached_property
    def passages(self) -> tuple[str, ...]:
        """The body's sentences as plain text, in order."""
        return tuple(sentences(plain_text(self.body))) or (plain_text(self.body),)

    @property
    def summary(self) -> str:
        """The first sentence of the body, as plain text (read out by the phone IVR)."""
        return self.passages[0]

    def answer(self, passage: int = 0, limit: int = MAX_ANSWER_CHARS) -> str:
        """The text to answer with: the whole body if it is short, else an excerpt.

        Args:
            passage: Index of the passage that best answers the question.
            limit: Longest body answered whole, and the excerpt's length limit.

        Returns:
            The Markdown body, or plain-text passages from ``passage`` on (the best
            one at least) within ``limit`` characters.
        """
        body = self.body.strip()
        if len(body) <= limit:
            return body
        chosen = [self.passages[passage]]
        for following in self.passages[passage + 1 :]:
            if len(" ".join([*chosen, following])) > limit:
                break
            chosen.append(following)
        return " ".join(chosen)


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
    other_businesses = meta.get("other_businesses", False)
    if not isinstance(other_businesses, bool):
        raise ValueError(f"{path}: 'other_businesses' must be true or false")
    return Article(
        slug=path.stem,
        title=title.strip(),
        body=body,
        keywords=_string_list(meta, "keywords", path),
        questions=_string_list(meta, "questions", path),
        other_businesses=other_businesses,
    )


def _string_list(meta: dict[str, object], key: str, path: Path) -> tuple[str, ...]:
    value = meta.get(key) or []
    if not isinstance(value, list) or not all(
        isinstance(item, str | int | float) for item in value
    ):
        raise ValueError(f"{path}: '{key}' must be a list of strings")
    return tuple(str(item).strip() for item in value if str(item).strip())
