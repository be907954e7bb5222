"""Tests for the embedding cache and the semantic index (knowledge_base.semantic)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from knowledge_base import Article, Embedder, EmbeddingCache, minilm_embedder
from knowledge_base.semantic import DIMENSION, SemanticIndex


class WordHashEncoder:
    """A deterministic stand-in for the sentence encoder: hashed bag of words."""

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded += texts
        rows = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                digest = hashlib.sha256(word.strip("?.!,:").encode()).digest()
                rows[row, int.from_bytes(digest[:2], "big") % DIMENSION] += 1.0
            rows[row] /= max(float(np.linalg.norm(rows[row])), 1e-9)
        return rows


@pytest.fixture
def encoder() -> WordHashEncoder:
    return WordHashEncoder()


def embedder(encoder: WordHashEncoder, model_id: str = "model-a") -> Embedder:
    return Embedder(encoder, model_id)


def test_cache_hit_embeds_nothing_again(
    tmp_path: Path, encoder: WordHashEncoder
) -> None:
    path = tmp_path / "var" / "kb.npz"
    first = EmbeddingCache(path).embed(["a b", "c d"], embedder(encoder))
    assert encoder.encoded == ["a b", "c d"]
    cache = EmbeddingCache(path)
    second = cache.embed(["c d", "a b"], embedder(encoder))
    assert encoder.encoded == ["a b", "c d"]  # nothing new was encoded
    assert (cache.hits, cache.misses) == (2, 0)
    np.testing.assert_array_equal(second, first[::-1])


def test_an_edited_text_alone_is_embedded_again(
    tmp_path: Path, encoder: WordHashEncoder
) -> None:
    path = tmp_path / "kb.npz"
    EmbeddingCache(path).embed(["title", "old body"], embedder(encoder))
    cache = EmbeddingCache(path)
    cache.embed(["title", "new body"], embedder(encoder))
    assert encoder.encoded[-1:] == ["new body"]
    assert (cache.hits, cache.misses) == (1, 1)
    with np.load(path) as data:  # the stale entry is gone from the file
        assert len(data["keys"]) == 2


def test_another_model_checksum_embeds_everything_again(
    tmp_path: Path, encoder: WordHashEncoder
) -> None:
    path = tmp_path / "kb.npz"
    EmbeddingCache(path).embed(["a", "b"], embedder(encoder, "model-a"))
    cache = EmbeddingCache(path)
    cache.embed(["a", "b"], embedder(encoder, "model-b"))
    assert (cache.hits, cache.misses) == (0, 2)
    assert EmbeddingCache.key("model-a", "a") != EmbeddingCache.key("model-b", "a")


def test_the_served_model_id_is_the_encoders_file_checksums() -> None:
    from bot.nlu.encoder import CHECKSUMS

    model_id = minilm_embedder().model_id
    digest = hashlib.sha256(
        "".join(
            f"{name}={value}\n" for name, value in sorted(CHECKSUMS.items())
        ).encode()
    ).hexdigest()
    assert model_id == f"all-MiniLM-L6-v2:{digest}"


def test_cache_file_is_owner_only(tmp_path: Path, encoder: WordHashEncoder) -> None:
    path = tmp_path / "var" / "kb.npz"
    old_umask = os.umask(0o022)
    try:
        EmbeddingCache(path).embed(["a"], embedder(encoder))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["kb.npz"]  # no temp file left


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_cache_file_is_rebuilt(
    tmp_path: Path, encoder: WordHashEncoder, damage: str
) -> None:
    path = tmp_path / "kb.npz"
    if damage == "garbage":
        path.write_bytes(b"not a zip file")
    else:  # a write cut short: a zip file's start without its directory
        EmbeddingCache(path).embed(["a", "b"], embedder(encoder))
        path.write_bytes(path.read_bytes()[:200])
    cache = EmbeddingCache(path)
    vectors = cache.embed(["a"], embedder(encoder))
    assert vectors.shape == (1, DIMENSION) and cache.misses == 1
    assert EmbeddingCache(path).embed(["a"], embedder(encoder)).shape == (1, DIMENSION)


def test_memory_only_cache_writes_no_file(
    tmp_path: Path, encoder: WordHashEncoder
) -> None:
    cache = EmbeddingCache()
    assert cache.embed([], embedder(encoder)).shape == (0, DIMENSION)
    cache.embed(["a"], embedder(encoder))
    assert list(tmp_path.iterdir()) == []


def test_index_scores_every_article_and_its_best_passage(
    encoder: WordHashEncoder, two_articles: list[Article]
) -> None:
    index = SemanticIndex(two_articles, embedder(encoder))
    scores = index.scores(index.embed_query("how much does express cost"))
    assert scores.similarity.shape == (2,)
    assert int(np.argmax(scores.similarity)) == 1
    assert scores.passage.tolist()[1] == 1  # "Express is faster."
    with_bonus = index.scores(index.embed_query("have no fees"), passage_bonus=0.5)
    assert with_bonus.passage.tolist()[0] == 1
    assert (
        with_bonus.similarity[0]
        > index.scores(index.embed_query("have no fees")).similarity[0]
    )


def test_a_question_is_embedded_once_whole(
    encoder: WordHashEncoder, two_articles: list[Article]
) -> None:
    index = SemanticIndex(two_articles, embedder(encoder))
    before = len(encoder.encoded)
    vector = index.embed_query("Hello there. Do gift cards expire?")
    assert vector.shape == (DIMENSION,)
    assert encoder.encoded[before:] == ["Hello there. Do gift cards expire?"]
    # One article's similarity: its best cosine over its title, questions, passages.
    units = encoder.encode(
        ["Gift cards: gift card", "do gift cards expire",
         "Gift cards: Gift cards never expire.", "Gift cards: They have no fees."]
    )  # fmt: skip
    assert index.scores(vector).similarity[0] == pytest.approx(
        float(np.max(units @ vector))
    )


def test_by_kind_gives_each_articles_best_title_question_and_passage(
    encoder: WordHashEncoder, two_articles: list[Article]
) -> None:
    articles = [*two_articles, Article("bare", "Opening hours", "We open at 8.")]
    index = SemanticIndex(articles, embedder(encoder))
    vector = index.embed_query("do gift cards expire")

    kinds = index.by_kind(vector)

    assert kinds["question"][0] == pytest.approx(1.0)  # its own question
    assert kinds["question"][2] == -1.0  # no questions at all
    [title, passage] = encoder.encode(["Gift cards: gift card", "Gift cards: Gift cards never expire."])  # fmt: skip
    assert kinds["title"][0] == pytest.approx(float(title @ vector))
    assert kinds["passage"][0] == pytest.approx(float(passage @ vector))
    # The similarity ranking takes the best of the three (no bonus here).
    assert index.scores(vector).similarity == pytest.approx(
        np.maximum.reduce([kinds["title"], kinds["question"], kinds["passage"]])
    )


def test_a_question_asked_again_is_not_embedded_again(
    encoder: WordHashEncoder, two_articles: list[Article]
) -> None:
    index = SemanticIndex(two_articles, embedder(encoder))
    before = len(encoder.encoded)

    first = index.embed_query("do gift cards expire")
    again = index.embed_query("do gift cards expire")
    other = index.embed_query("Do gift cards expire")

    assert encoder.encoded[before:] == ["do gift cards expire", "Do gift cards expire"]
    assert again is first and not first.flags.writeable  # shared, so read-only
    assert other is not first
    index.clear_query_cache()
    index.embed_query("do gift cards expire")
    assert encoder.encoded[-1] == "do gift cards expire"
    assert len(encoder.encoded) == before + 3
