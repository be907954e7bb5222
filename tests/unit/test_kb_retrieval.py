"""Tests for the hybrid ranker and its "I don't know" threshold (knowledge_base.retrieval)."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from threadpoolctl import ThreadpoolController

from knowledge_base import (
    CACHE_FILE_NAME,
    CALIBRATION,
    Article,
    EmbeddingCache,
    KnowledgeBase,
    served_knowledge_base,
)
from knowledge_base.articles import MAX_ANSWER_CHARS
from knowledge_base.retrieval import Method
from knowledge_base.semantic import SemanticIndex, SemanticScores


@pytest.fixture(scope="module")
def kb(help_centre: KnowledgeBase) -> KnowledgeBase:
    return help_centre


def test_the_issues_example_pair_both_get_payment_methods(kb: KnowledgeBase) -> None:
    for question in (
        "assistance seeing the accepted payment options",
        "help seeing what payment options are accepted",
    ):
        match = kb.search(question)
        assert match is not None and match.article.slug == "payment-methods", question


def test_the_hybrid_answers_what_bm25_alone_does_not(kb: KnowledgeBase) -> None:
    question = "assistance seeing the accepted payment options"
    assert kb.with_method("bm25").search(question) is None
    assert kb.search(question) is not None


@pytest.mark.parametrize(
    "question",
    ["do you sell second hand cars", "what's the capital of peru", "", "   "],
)
def test_off_topic_questions_get_no_article(kb: KnowledgeBase, question: str) -> None:
    assert kb.search(question) is None


def test_the_threshold_decides(kb: KnowledgeBase) -> None:
    question = "assistance seeing the accepted payment options"
    [best, *_] = kb.rank(question)
    assert best.score >= CALIBRATION.threshold
    stricter = kb.with_method(
        "hybrid", replace(CALIBRATION, threshold=best.score + 0.01)
    )
    assert stricter.search(question) is None
    laxer = kb.with_method("hybrid", replace(CALIBRATION, threshold=best.score))
    assert laxer.search(question) == best


def test_semantic_alone_uses_its_own_threshold(kb: KnowledgeBase) -> None:
    semantic = kb.with_method("semantic")
    [best, *_] = semantic.rank("do gift cards ever run out")
    assert best.article.slug == "gift-cards" and best.score == best.similarity
    strict = kb.with_method("semantic", replace(CALIBRATION, semantic_threshold=2.0))
    assert strict.search("do gift cards ever run out") is None


def test_both_fusions_rank_every_article(kb: KnowledgeBase) -> None:
    rrf = kb.with_method("hybrid", replace(CALIBRATION, fusion="rrf"))
    for ranked in (kb, rrf):
        matches = ranked.rank("can i pay with paypal")
        assert len(matches) == len(kb.articles)
        assert matches[0].article.slug == "payment-methods"


def test_the_match_names_its_best_passage(kb: KnowledgeBase) -> None:
    match = kb.search("when does my card get charged")
    assert match is not None and match.article.slug == "payment-methods"
    assert "charged when your order ships" in match.article.passages[match.passage]
    # Short articles are answered whole; the IVR still reads the first sentence.
    assert match.answer == match.article.body
    assert match.article.summary == match.article.passages[0]


def test_a_long_article_is_answered_from_its_best_passage() -> None:
    filler = " ".join(f"Sentence number {i} says nothing much." for i in range(30))
    body = f"{filler} Parking is free on Sundays. Ask at the desk."
    article = Article("parking", "Parking", body)
    best = article.passages.index("Parking is free on Sundays.")
    assert article.answer(best) == "Parking is free on Sundays. Ask at the desk."
    assert len(article.answer(0)) <= MAX_ANSWER_CHARS
    assert article.answer(0).startswith("Sentence number 0")


def test_the_served_knowledge_base_caches_embeddings_in_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "parking.md").write_text(
        "---\ntitle: Parking\nkeywords: [parking]\nquestions: [where can I park]\n"
        "---\nParking is free on Sundays. Ask at the desk.\n"
    )
    monkeypatch.setenv("KNOWLEDGE_BASE_DIR", str(tmp_path / "articles"))
    var = tmp_path / "var"
    kb = served_knowledge_base(var)
    assert served_knowledge_base(var) is kb  # built once per process
    path = var / CACHE_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cache = EmbeddingCache(path)
    KnowledgeBase.from_directory(cache=cache)
    assert cache.misses == 0 and cache.hits > 0
    served_knowledge_base.cache_clear()


def test_a_bm25_knowledge_base_needs_no_encoder() -> None:
    kb = KnowledgeBase.from_directory(method="bm25")
    with pytest.raises(ValueError, match="semantic"):
        kb.with_method("hybrid")
    match = kb.search("can i pay with paypal")
    assert match is not None and match.similarity == 0.0


def test_a_question_is_scored_on_one_blas_thread(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    blas = ThreadpoolController().select(user_api="blas").lib_controllers
    before = [library.get_num_threads() for library in blas]
    seen: list[list[int]] = []
    scores = SemanticIndex.scores

    def counting(self: SemanticIndex, *args: Any) -> SemanticScores:
        seen.append([library.get_num_threads() for library in blas])
        return scores(self, *args)

    monkeypatch.setattr(SemanticIndex, "scores", counting)
    assert kb.search("can i pay with paypal") is not None

    assert seen == [[1] * len(blas)]
    assert [library.get_num_threads() for library in blas] == before


@pytest.mark.parametrize("method", ["hybrid", "semantic", "bm25"])
def test_a_limited_ranking_is_the_head_of_the_full_one(
    kb: KnowledgeBase, method: Method
) -> None:
    ranked = kb.with_method(method)
    question = "can i pay with paypal"

    assert ranked.rank(question, limit=1) == ranked.rank(question)[:1]
    assert ranked.search(question) == ranked.rank(question)[0]


def test_search_applies_a_stricter_threshold_when_given(kb: KnowledgeBase) -> None:
    [best] = kb.rank("what payment methods do you accept", limit=1)

    assert kb.search("what payment methods do you accept", threshold=best.score)
    stricter = best.score + 0.01
    assert kb.search("what payment methods do you accept", threshold=stricter) is None
