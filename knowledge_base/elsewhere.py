"""Questions about another business: "what is ikea's return policy", "pay with klarna".

The sentence encoder cannot tell whose policy a question asks about, so a question
about another shop's returns looks like one about ours. This rule spots a
business's name: a word in neither the articles' vocabulary (their search terms,
:func:`knowledge_base.analysis.analyze`) nor the English word list (the sentence
encoder's whole words), and not a typo of an article's word (one edit for words of
4-7 letters, two for longer ones), in a place where a name goes:

* a possessive: "ikea's";
* after "at", "from", "with", "to", "on", "via" or "by": "return it to walmart";
* before a service noun ("account", "customer service", "price match", ...):
  "does costco price match".

A name we use ourselves (a retailer we price match, a way to pay) is in the
articles' vocabulary and never fires; nor does a well-known word ("amazon" is in
the encoder's list), which the threshold is left to judge. Pure and deterministic;
the hybrid refuses when it fires (:meth:`knowledge_base.retrieval.KnowledgeBase.search`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.nlu.spelling import edit_distance
from knowledge_base.analysis import analyze

_WORD = re.compile(r"[a-z]+")
# Where a name goes; group 1 is the name.
_NAME_PLACES = (
    re.compile(r"\b([a-z]+)'s\b"),
    re.compile(r"\b(?:at|from|with|to|on|via|by)\s+(?:the\s+)?([a-z]+)\b"),
    re.compile(
        r"\b([a-z]+)\s+(?:accounts?|memberships?|subscriptions?|customer service|"
        r"customer support|support|gift ?cards?|price match(?:ing)?|app|store|stores)\b"
    ),
)


class OtherBusiness:
    """Tells whether a question names a business other than ours.

    Args:
        terms: The articles' search terms (the BM25 index's vocabulary).
        words: The articles' raw words, lower case (for typos of them).
        english: Common English words (the sentence encoder's whole words).
    """

    def __init__(
        self, terms: Iterable[str], words: Iterable[str], english: Iterable[str]
    ) -> None:
        self._terms = frozenset(terms)
        self._words = frozenset(words)
        self._english = frozenset(english)

    def names(self, question: str) -> str | None:
        """The other business the question names, or None.

        Args:
            question: The customer's question, as typed or transcribed.

        Returns:
            The word taken for the business's name, or None if there is none.
        """
        text = question.lower().replace("\u2019", "'")
        for pattern in _NAME_PLACES:
            for match in pattern.finditer(text):
                if self._unknown(word := match.group(1)):
                    return word
        return None

    def _ours(self, word: str) -> bool:
        """Whether every search term of the word is one the articles use."""
        return all(term in self._terms for term in analyze(word))

    def _unknown(self, word: str) -> bool:
        """Neither ours, nor a common English word, nor a typo of one of ours."""
        if self._ours(word) or word in self._english or len(word) < 3:
            return False
        return not any(_typo(word, known) for known in self._words)


def article_words(texts: Iterable[str]) -> frozenset[str]:
    """The lower-case words of the articles' texts."""
    return frozenset(word for text in texts for word in _WORD.findall(text.lower()))


def _typo(word: str, known: str) -> bool:
    """Whether ``word`` is one edit (two if longer than 7 letters) from ``known``."""
    if len(word) < 4 or abs(len(word) - len(known)) > 1:
        return False
    return edit_distance(word, known) <= (1 if len(word) <= 7 else 2)
