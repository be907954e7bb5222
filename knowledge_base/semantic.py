"""Meaning-based ranking: article texts and questions as sentence embeddings.

Each article is represented by several texts ("units"), each embedded with the
offline all-MiniLM-L6-v2 encoder of :mod:`bot.nlu.encoder`: its title with its
keywords, each example question of its front matter, and each passage of its body
(prefixed with the title, so that "They never expire" still says what "they" are).
An article's similarity to a question is the best cosine over its units, where a
passage's cosine gets ``passage_bonus`` added: a question is less like the sentence
that answers it than like another question, so passages would otherwise count for
too little. The question is embedded once, whole (embedding a long one sentence by
sentence as well ranked no better on the validation set and cost a second, padded
pass), and its cosines with every unit are one matrix-vector product. The best
passage is the passage unit with the highest cosine. The embeddings of the last
:data:`QUERY_CACHE_SIZE` questions are kept: customers ask the same questions in the
same words, and a conversation's fallback and help-centre turns may ask it twice.

Embeddings are computed when the articles are loaded and kept in an
:class:`EmbeddingCache`, keyed by the sha256 of the model's identity and the text:
an edited article re-embeds only its changed texts, a new model re-embeds all.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from knowledge_base.articles import Article

logger = logging.getLogger(__name__)

#: The encoder's output width (all-MiniLM-L6-v2).
DIMENSION = 384

#: Questions whose embeddings are kept (1.5 kB each).
QUERY_CACHE_SIZE = 2048


class TextEncoder(Protocol):
    """Anything that embeds texts as unit-length rows (the sentence encoder)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Embedder:
    """An encoder and the identity of its model, which cache keys include.

    Attributes:
        encoder: Embeds texts.
        model_id: Changes whenever the encoder's output could (a checksum of its files).
    """

    encoder: TextEncoder
    model_id: str


def minilm_embedder() -> Embedder:
    """The process's one all-MiniLM-L6-v2 encoder (loaded and checked once).

    Its files are refused unless their sha256 sums are the pinned ones, so those sums
    identify the model.
    """
    from bot.nlu.encoder import CHECKSUMS, load_encoder

    digest = hashlib.sha256()
    for name, checksum in sorted(CHECKSUMS.items()):
        digest.update(f"{name}={checksum}\n".encode())
    return Embedder(load_encoder(), f"all-MiniLM-L6-v2:{digest.hexdigest()}")


class EmbeddingCache:
    """Embeddings by content hash, in memory and optionally in one ``.npz`` file.

    The file holds only the texts of the last knowledge base loaded (stale entries are
    dropped when it is rewritten); it is written atomically and owner-only (0600),
    like everything in ``var/``. A damaged file is ignored and rewritten.

    Args:
        path: The ``.npz`` file, or None to keep embeddings in memory only.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model_id: str, text: str) -> str:
        """The cache key of a text embedded by a model."""
        return hashlib.sha256(f"{model_id}\0{text}".encode()).hexdigest()

    def embed(self, texts: Sequence[str], embedder: Embedder) -> np.ndarray:
        """The texts' embeddings, from the cache where possible.

        Returns:
            ``(len(texts), dimension)`` float32 rows, in the texts' order.
        """
        keys = [self.key(embedder.model_id, text) for text in texts]
        stored = self._read()
        missing = {key: text for key, text in zip(keys, texts, strict=True)}
        for key in stored.keys() & missing.keys():
            del missing[key]
        self.hits += len(keys) - sum(key in missing for key in keys)
        self.misses += sum(key in missing for key in keys)
        if missing:
            vectors = embedder.encoder.encode(list(missing.values()))
            stored.update(zip(missing, np.asarray(vectors, np.float32), strict=True))
        if self.path is not None and (missing or stored.keys() != set(keys)):
            self._write({key: stored[key] for key in keys})
        if not keys:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.stack([stored[key] for key in keys]).astype(np.float32, copy=False)

    def _read(self) -> dict[str, np.ndarray]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
            if vectors.ndim != 2 or len(keys) != len(vectors):
                raise ValueError(f"keys {keys.shape} and vectors {vectors.shape}")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            logger.warning(
                "ignoring unreadable embedding cache %s: %s", self.path, error
            )
            return {}
        return {str(key): vector for key, vector in zip(keys, vectors, strict=True)}

    def _write(self, entries: dict[str, np.ndarray]) -> None:
        assert self.path is not None
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        keys = np.array(list(entries), dtype="<U64")
        vectors = (
            np.stack(list(entries.values()))
            if entries
            else np.zeros((0, DIMENSION), np.float32)
        )
        # mkstemp creates the file 0600; replacing is atomic, so a reader in another
        # process sees the old file or the new one, never half of one.
        fd, name = tempfile.mkstemp(dir=self.path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, keys=keys, vectors=vectors.astype(np.float32))
            os.replace(name, self.path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class SemanticScores:
    """Every article's similarity to one question.

    Attributes:
        similarity: ``(articles,)`` best cosine over each article's units (passages
            with the bonus added).
        passage: ``(articles,)`` index of each article's best passage.
    """

    similarity: np.ndarray
    passage: np.ndarray


class SemanticIndex:
    """Sentence embeddings of every article's title, questions and passages.

    Args:
        articles: The articles, in the order scores refer to.
        embedder: The encoder and its model identity.
        cache: Where embeddings are kept between loads (memory only by default).
    """

    def __init__(
        self,
        articles: Sequence[Article],
        embedder: Embedder,
        cache: EmbeddingCache | None = None,
    ) -> None:
        self.embedder = embedder
        texts: list[str] = []
        owners: list[int] = []
        passage_of: list[int] = []  # the passage a unit is, or -1
        for index, article in enumerate(articles):
            units = [(_title_text(article), -1)]
            units += [(question, -1) for question in article.questions]
            units += [
                (f"{article.title}: {passage}", number)
                for number, passage in enumerate(article.passages)
            ]
            for text, number in units:
                texts.append(text)
                owners.append(index)
                passage_of.append(number)
        self._vectors = (cache or EmbeddingCache()).embed(texts, embedder)
        self._owners = np.array(owners, dtype=np.int64)
        self._passage_of = np.array(passage_of, dtype=np.int64)
        # Units are grouped by article, so a maximum per article is one reduceat.
        self._starts = np.searchsorted(self._owners, np.arange(len(articles)))
        self._count = len(articles)
        self._is_passage = (self._passage_of >= 0).astype(np.float32)
        self._kind = np.where(self._passage_of >= 0, "passage", "question")
        self._kind[self._starts] = "title"
        self._embed_query = functools.lru_cache(maxsize=QUERY_CACHE_SIZE)(
            self._encode_query
        )

    def embed_query(self, query: str) -> np.ndarray:
        """The question's embedding, ``(dimension,)`` float32 of unit length.

        From the cache of recent questions if it is there; the array is read-only.
        """
        return self._embed_query(query)

    def clear_query_cache(self) -> None:
        """Forget the recent questions' embeddings (benchmarks time the encoder)."""
        self._embed_query.cache_clear()

    def _encode_query(self, query: str) -> np.ndarray:
        vectors = self.embedder.encoder.encode([query])
        vector = np.array(vectors[0], dtype=np.float32)
        vector.flags.writeable = False
        return vector

    def scores(
        self, query_vector: np.ndarray, passage_bonus: float = 0.0
    ) -> SemanticScores:
        """Each article's similarity and best passage for an embedded question.

        Args:
            query_vector: What :meth:`embed_query` returned.
            passage_bonus: Added to a passage's cosine (see the module docstring).
        """
        if not self._count:
            empty = np.zeros(0, dtype=np.float32)
            return SemanticScores(empty, empty.astype(np.int64))
        cosines = self._vectors @ query_vector
        cosines += np.float32(passage_bonus) * self._is_passage
        similarity = np.maximum.reduceat(cosines, self._starts)
        passages = np.where(self._passage_of >= 0, cosines, -np.inf)
        best_unit = _argmax_per_group(passages, self._starts)
        return SemanticScores(similarity, self._passage_of[best_unit])

    def by_kind(self, query_vector: np.ndarray) -> dict[str, np.ndarray]:
        """Each article's best cosine with its title, its questions and its passages.

        For comparing refusal signals (``make calibrate-kb``); no bonus is added, and
        an article without questions gets -1 for them.
        """
        cosines = self._vectors @ query_vector
        return {
            kind: np.maximum.reduceat(
                np.where(self._kind == kind, cosines, np.float32(-1.0)), self._starts
            )
            for kind in ("title", "question", "passage")
        }


def _title_text(article: Article) -> str:
    if not article.keywords:
        return article.title
    return f"{article.title}: {', '.join(article.keywords)}"


def _argmax_per_group(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The index of the largest value in each group ``values[starts[i]:starts[i+1]]``."""
    maxima = np.maximum.reduceat(values, starts)
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(values))))
    candidates = np.flatnonzero(values == maxima[group])
    # The first candidate of each group (candidates are sorted).
    first = np.unique(group[candidates], return_index=True)[1]
    return candidates[first]
