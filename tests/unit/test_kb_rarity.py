"""Tests for weighing question words by their rarity (knowledge_base.rarity).

And for the coverage BM25 computes with those weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base import Article, KnowledgeBase
from knowledge_base.bm25 import Bm25Index
from knowledge_base.rarity import (
    DEFAULT_COUNTS_FILE,
    TermRarity,
    count_terms,
    format_counts,
    load_counts,
)


def _articles(count: int) -> list[Article]:
    """Six policies that say "deliver", then ``count - 6`` guides that never do.

    Eleven of the 17 shipped articles say it.
    """
    policies = [
        Article(
            f"policy-{i}", f"Policy {i}", "We deliver in 3 to 5 working days.", (), ()
        )
        for i in range(6)
    ]
    guides = [
        Article(
            f"guide-{i}", f"Tent guide {i}", "Pitch the tent on flat ground.", (), ()
        )
        for i in range(count - 6)
    ]
    return [*policies, *guides]


def _background(often: int, messages: int) -> tuple[dict[str, int], int]:
    """Customers' messages in which "deliver" occurs ``often`` times."""
    return {"deliver": often, "order": messages // 2}, messages


def test_a_term_counts_once_per_message_and_numbers_not_at_all() -> None:
    counts, messages = count_terms(["order order order", "my order 12345", "refund"])
    assert (counts, messages) == ({"order": 2, "refund": 1}, 3)


def test_counts_are_written_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "words.tsv"
    counts = ({"order": 2, "deliver": 1}, 3)
    path.write_text(format_counts(counts, "Counted for a test.\n\nSecond line."))
    text = path.read_text()
    assert text.startswith("# Counted for a test.\n#\n# Second line.\n(messages)\t3\n")
    assert load_counts(path) == counts


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("(messages)\t3\norder 2\n", "expected 'term<TAB>count'"),
        ("(messages)\t3\norder\ttwo\n", "expected 'term<TAB>count'"),
        ("(messages)\t3\norder\t\u00b2\n", "expected 'term<TAB>count'"),
        ("(messages)\t3\norder\t2\norder\t1\n", "'order' is given twice"),
        ("(messages)\t3\n(messages)\t4\n", "'\\(messages\\)' is given twice"),
        ("order\t2\n", "no '\\(messages\\)<TAB>count' line"),
        ("(messages)\t1\norder\t2\n", "'order' is in 2 of 1 messages"),
    ],
)
def test_a_damaged_counts_file_is_a_clear_error(
    tmp_path: Path, text: str, error: str
) -> None:
    path = tmp_path / "words.tsv"
    path.write_text(text)
    with pytest.raises(ValueError, match=error):
        load_counts(path)


def test_the_shipped_counts_are_read() -> None:
    counts, messages = load_counts(DEFAULT_COUNTS_FILE)
    assert messages > 2500
    # Customers write "order" far more often than "warranty".
    assert counts["order"] > 10 * counts["warranty"] > 0


def test_words_customers_use_often_weigh_less_and_unknown_words_most() -> None:
    rarity = TermRarity(_background(often=300, messages=3000), ({"deliver": 1}, 17))
    # "order" is in half the messages, "deliver" in a tenth, "zzz" nowhere.
    assert rarity("order") < rarity("deliver") < rarity("zzz")
    assert rarity("zzz") == pytest.approx(rarity("yyy"))


def test_coverage_with_rarity_hardly_changes_as_articles_are_added() -> None:
    """Why the background: among 200 articles "deliver" is rare to BM25's own IDF.

    It then covers nearly as much of the question as an unknown word would.
    """
    question = "how long does it take to deliver"  # "long" is in no article

    def delivery_coverage(count: int, with_rarity: bool) -> float:
        index = Bm25Index(_articles(count))
        rarity = (
            TermRarity(_background(300, 3000), index.document_frequencies)
            if with_rarity
            else None
        )
        [match] = [m for m in index.rank(question, rarity) if m.index == 0]
        return match.coverage

    idf_change = delivery_coverage(200, False) - delivery_coverage(17, False)
    rarity_change = delivery_coverage(200, True) - delivery_coverage(17, True)
    # BM25's IDF alone: the same question looks better covered (0.11 -> 0.18).
    assert idf_change > 0.05
    assert abs(rarity_change) < idf_change / 10
    assert delivery_coverage(200, True) < delivery_coverage(200, False)


def test_rarity_changes_the_coverage_not_the_score() -> None:
    index = Bm25Index(_articles(17))
    rarity = TermRarity(_background(300, 3000), index.document_frequencies)
    plain = {m.index: m for m in index.rank("deliver my tent")}
    weighed = {m.index: m for m in index.rank("deliver my tent", rarity)}
    assert plain.keys() == weighed.keys()
    assert [m.score for m in plain.values()] == [m.score for m in weighed.values()]
    assert plain[0].coverage != weighed[0].coverage


def test_document_frequencies_count_articles() -> None:
    counts, articles = Bm25Index(_articles(10)).document_frequencies
    assert articles == 10
    assert counts["tent"] == 4 and counts["deliver"] == 6


QUESTION = "do gift cards expire on holidays"


def test_the_hybrid_weighs_words_by_the_rarity_it_is_given(
    two_articles: list[Article],
) -> None:
    # "holiday" is in no article; written in nearly every message, it hardly
    # counts against the gift-card article's coverage.
    common = TermRarity(
        ({"holiday": 999}, 1000), Bm25Index(two_articles).document_frequencies
    )
    [default] = KnowledgeBase(two_articles).rank(QUESTION, limit=1)
    [weighed] = KnowledgeBase(two_articles, rarity=common).rank(QUESTION, limit=1)
    assert default.article.slug == weighed.article.slug == "gifts"
    assert weighed.coverage > default.coverage + 0.2


def test_bm25_alone_keeps_its_own_idf_and_never_reads_the_counts(
    two_articles: list[Article], monkeypatch: pytest.MonkeyPatch
) -> None:
    hybrid = KnowledgeBase(two_articles)

    def unread(*_args: object) -> TermRarity:
        raise AssertionError("BM25 alone read the counts file")

    monkeypatch.setattr(TermRarity, "from_file", unread)
    fresh = KnowledgeBase(two_articles, method="bm25")
    copied = hybrid.with_method("bm25")
    figures = [
        [(m.article.slug, m.score, m.coverage) for m in kb.rank(QUESTION)]
        for kb in (fresh, copied)
    ]
    assert figures[0] == figures[1]
    [plain, *_] = Bm25Index(two_articles).rank(QUESTION)
    assert figures[0][0][2] == pytest.approx(plain.coverage)


def test_a_byte_order_mark_from_an_editor_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "words.tsv"
    path.write_text("\ufeff(messages)\t3\norder\t2\n", encoding="utf-8")
    assert load_counts(path) == ({"order": 2}, 3)
