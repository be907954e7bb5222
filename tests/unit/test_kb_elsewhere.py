"""Tests for spotting questions about another business (knowledge_base.elsewhere)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from knowledge_base import CALIBRATION, KnowledgeBase
from knowledge_base.analysis import analyze
from knowledge_base.elsewhere import (
    KnownBusinesses,
    OtherBusiness,
    article_words,
    load_businesses,
)

ARTICLE_TEXT = (
    "Returns and refunds. You can return an item within 30 days for a refund. "
    "Pay by card or with a gift card. Contact our customer service team. "
    "We price match other retailers."
)


@pytest.fixture(scope="module")
def rule() -> OtherBusiness:
    return OtherBusiness(
        analyze(ARTICLE_TEXT),
        article_words([ARTICLE_TEXT]),
        "how can i the a an return pay with my account amazon firm is price".split(),
    )


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("what is zalando's refund policy", "zalando"),
        ("what's shein's return window", "shein"),
        ("can i return my jumper to primark", "primark"),
        ("can i pay with satispay", "satispay"),
        ("how do i reach boohoo customer service", "boohoo"),
        ("does lidl price match", "lidl"),
        ("WHAT IS ZALANDO\u2019S REFUND POLICY", "zalando"),
    ],
)
def test_a_named_business_that_is_not_ours_fires(
    rule: OtherBusiness, question: str, name: str
) -> None:
    assert rule.names(question) == name


@pytest.mark.parametrize(
    "question",
    [
        "how do i return an item",
        "it's broken, can i get a refund",
        "what's today's cutoff",
        "can i pay with a gift card",
        "can i pay with card",
        # A typo of one of our words is not a name.
        "can i pay with a gfit card",
        "how do i reach your customer service",
        # An unknown word in no named place is left to the threshold.
        "can i return a zorbulator",
    ],
)
def test_our_own_questions_do_not_fire(rule: OtherBusiness, question: str) -> None:
    assert rule.names(question) is None


def test_a_common_word_is_left_to_the_threshold(rule: OtherBusiness) -> None:
    assert rule.names("can i pay with amazon") is None
    assert rule.names("what is amazon's policy") is None
    assert rule.names("what is my firm's policy") is None


@pytest.fixture(scope="module")
def kb(help_centre: KnowledgeBase) -> KnowledgeBase:
    return help_centre


def test_the_hybrid_refuses_a_question_about_another_shop(kb: KnowledgeBase) -> None:
    question = "what is zalando's refund policy"
    assert kb.other_business(question) == "zalando"
    gated = kb.with_method("hybrid", replace(CALIBRATION, refuse_other_business=True))
    assert gated.search(question) is None
    assert gated.search("how do i get a refund") is not None


def test_without_the_rule_the_threshold_alone_decides(kb: KnowledgeBase) -> None:
    question = "what is zalando's refund policy"
    plain = kb.with_method(
        "hybrid",
        replace(CALIBRATION, refuse_other_business=False, refuse_known_business=False),
    )
    [best] = plain.rank(question, limit=1)
    assert (plain.search(question) is not None) == (best.score >= CALIBRATION.threshold)


KNOWN = KnownBusinesses(
    anywhere=("netflix", "uber", "uber eats", "h&m", "best buy", "amazon", "ups"),
    in_a_name_place=("target", "gap"),
)


@pytest.fixture(scope="module")
def listed() -> OtherBusiness:
    return OtherBusiness(
        analyze(ARTICLE_TEXT),
        article_words([ARTICLE_TEXT]),
        [],
        KNOWN,
        (ARTICLE_TEXT + " we match amazon").lower(),
    )


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("my netflix account was hacked", "netflix"),
        ("NETFLIX\u2019S refund policy", "netflix"),
        ("how long do uber eats refunds take", "uber eats"),  # the longer name
        ("is h&m cheaper", "h&m"),
        ("what is best buy's price match policy", "best buy"),
        ("what is best buys price match policy", "best buy"),  # no apostrophe
        ("what are target's opening hours", "target"),
        ("is it cheaper from target", "target"),
        ("does gap price match", "gap"),
    ],
)
def test_a_listed_business_fires(
    listed: OtherBusiness, question: str, name: str
) -> None:
    assert listed.listed(question) == name


@pytest.mark.parametrize(
    "question",
    [
        "what is amazon's delivery time",  # a name our articles use
        "target has it for less, will you match it",  # an everyday word elsewhere
        "mind the gap",
        "is my order on target to arrive",  # "on" is no name's place for it
        "i had to go to target",
        "how do i send follow-ups",  # part of a word
        "upside down",
        "my order",
    ],
)
def test_what_is_not_a_listed_business_does_not_fire(
    listed: OtherBusiness, question: str
) -> None:
    assert listed.listed(question) is None


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("what is best buy's price match policy", "best buy"),
        ("does h&m price match", "h&m"),
        ("what are target's opening hours", "target"),
        ("netflix customer service", "netflix"),
        ("found it cheaper at best buy, then saw netflix support", "netflix"),
    ],
)
def test_the_business_whose_service_is_asked_about(
    listed: OtherBusiness, question: str, name: str
) -> None:
    assert listed.asked_about(question) == name


def test_a_business_named_in_passing_is_not_asked_about(listed: OtherBusiness) -> None:
    assert (
        listed.asked_about("found it cheaper at best buy, can i get the difference")
        is None
    )
    assert listed.asked_about("h&m has it for less") is None


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("what is amazon's return policy", "amazon"),
        ("amazons refund policy", "amazon"),  # no apostrophe
        ("how long is apple's warranty", "apple"),
        ("walmart opening hours on sunday", "walmart"),
        ("how do i reach paypal customer service", "paypal"),
        ("what is the refund policy at amazon", "amazon"),
        ("amazon's delivery times", "amazon"),
        ("ups customer service phone number", "ups"),
    ],
)
def test_a_name_we_use_counts_when_its_own_policy_is_asked_about(
    kb: KnowledgeBase, question: str, name: str
) -> None:
    assert kb.their_policy(question) == name
    assert kb.search(question) is None


@pytest.mark.parametrize(
    ("question", "slug"),
    [
        ("will you match amazon's price", "price-match"),
        ("can you match amazon's delivery price", "price-match"),
        ("can i pay with my paypal account", "payment-methods"),
        ("found it cheaper on amazon, can i get the difference", "price-match"),
        ("what's your return policy", "returns"),
        ("what is the return policy for apple products", "returns"),
        ("what is your refund policy for visa payments", "refund-policy"),
        ("is there support for apple pay", "payment-methods"),
    ],
)
def test_a_name_we_use_in_passing_is_still_answered(
    kb: KnowledgeBase, question: str, slug: str
) -> None:
    assert kb.their_policy(question) is None
    match = kb.search(question)
    assert match is not None and match.article.slug == slug


def test_the_shipped_list_loads_and_leaves_out_our_own_names(kb: KnowledgeBase) -> None:
    shipped = load_businesses()
    assert "netflix" in shipped.anywhere and "target" in shipped.in_a_name_place
    assert kb.known_business("my netflix account was hacked") == "netflix"
    assert kb.known_business("will you match walmart's price") is None  # ours


@pytest.mark.parametrize(
    "question",
    [
        # Names customers use when asking about us are not listed.
        "any top ups for gift cards",
        "i had to chase my refund",
        "the promo code from your instagram post does not work",
        "when do i get my ups tracking number",
        "my capital one card was declined",
        "do you take klarna",
        "is the warranty on a samsung tv 2 years",
    ],
)
def test_the_shipped_list_spares_questions_about_us(
    kb: KnowledgeBase, question: str
) -> None:
    assert kb.known_business(question) is None


def test_a_listed_business_is_refused_unless_the_article_is_about_others(
    kb: KnowledgeBase,
) -> None:
    refused = "how do i cancel my netflix subscription"
    assert kb.known_business(refused) == "netflix"
    assert kb.search(refused) is None
    match = kb.search("found it cheaper at best buy, will you refund the difference")
    assert match is not None and match.article.slug == "price-match"
    assert match.article.other_businesses
    # Price match is about other businesses, but not about their own policies.
    theirs = "what is best buy's price match policy"
    [best] = kb.rank(theirs, limit=1)
    assert best.article.slug == "price-match" and kb.refuses(theirs, best.article)
    assert kb.search(theirs) is None


def test_a_listed_name_the_encoder_does_not_know_is_judged_as_listed(
    kb: KnowledgeBase,
) -> None:
    # "costco" is an unknown word in a name's place and a listed name: the listed
    # rule decides, so Price match may answer a question naming it in passing.
    passing = "can you match costco's price for the exact same model"
    assert kb.other_business(passing) == kb.known_business(passing) == "costco"
    match = kb.search(passing)
    assert match is not None and match.article.slug == "price-match"
    assert kb.search("what is costco's price match policy") is None
    unlisted = "found it cheaper at brandlio, can you match"  # unknown, not listed
    assert kb.other_business(unlisted) == "brandlio" and kb.search(unlisted) is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("anywhere: netflix\n", "'anywhere' must be a list of names"),
        ("names: [netflix]\n", "expected 'anywhere', 'in_a_name_place' and"),
        (
            "anywhere: [netflix]\nasked_about_only: [netflix]\n",
            r"\['netflix'\] in more than one list",
        ),
        ("in_a_name_place: [target, '']\n", "'in_a_name_place' must be a list"),
    ],
)
def test_a_malformed_list_is_refused(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "businesses.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=error):
        load_businesses(path)
