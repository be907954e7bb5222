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
the encoder's list), which the threshold is left to judge.

Well-known businesses are the encoder's words too ("netflix", "starbucks",
"target"), so they are listed (``businesses.yml``, :func:`load_businesses`): a
listed name fires wherever it stands, or, for a name that is also an everyday word
("target", "gap"), only in a possessive, after "at" or "from", or before a service
noun (:meth:`OtherBusiness.listed`). A listed name the articles use never fires. A
question naming one may still be answered by an article about other businesses
(front matter ``other_businesses: true``: Price match, "found it cheaper at best
buy, can I get the difference"), unless the name is the one whose service it asks
about, before a service noun ("best buy's price match policy", "does costco price
match": :meth:`OtherBusiness.asked_about`).

Names customers also use when asking about us (retailers we price match, carriers,
ways to pay, brands we sell, platforms) are listed apart (``asked_about_only``): such
a name counts only when the question asks about that business's own policy or
service (:meth:`OtherBusiness.their_policy`): a possessive before a policy or service
("amazon's return policy", "apple's warranty"), the name before a policy, hours or
support ("walmart opening hours", "paypal customer service"), or a policy "at" or
"of" it ("the refund policy at amazon"); never in a question that says "your"
("what are your ups delivery times"). "will you match amazon's price", "amazon's
delivery cost", "the return policy for apple products", "can i pay with my paypal
account" and "when do i get my ups tracking number" stay ours.

Pure and deterministic; the hybrid refuses when a rule fires
(:meth:`knowledge_base.retrieval.KnowledgeBase.refuses`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.nlu.spelling import edit_distance
from knowledge_base.analysis import analyze

#: The well-known businesses shipped with the package (see its header).
BUSINESSES_FILE = Path(__file__).parent / "businesses.yml"

_WORD = re.compile(r"[a-z]+")
_SERVICE_NOUNS = (
    r"(?:accounts?|memberships?|subscriptions?|customer service|customer support|"
    r"support|gift ?cards?|price match(?:ing)?|app|store|stores)"
)
# Where a name goes; group 1 is the name.
_POSSESSIVE = re.compile(r"\b([a-z]+)'s\b")
_BEFORE_SERVICE = re.compile(rf"\b([a-z]+)\s+{_SERVICE_NOUNS}\b")
_NAME_PLACES = (
    _POSSESSIVE,
    re.compile(r"\b(?:at|from|with|to|on|via|by)\s+(?:the\s+)?([a-z]+)\b"),
    _BEFORE_SERVICE,
)
# Where a listed name that is also an everyday word goes ("on target", "to wish"
# are no names): a possessive, after "at" or "from", before a service noun.
_LISTED_PLACES = (
    _POSSESSIVE,
    re.compile(r"\b(?:at|from)\s+(?:the\s+)?([a-z]+)\b"),
    _BEFORE_SERVICE,
)
# A business's own policy or service (asked_about_only names, their_policy).
_POLICY_NOUN = (
    r"(?:return|returns|refund|refunds|exchange|warranty|delivery|shipping|"
    r"cancellation)"
)
_THEIR_SERVICE = (
    rf"(?:{_POLICY_NOUN}\s+polic(?:y|ies)|customer (?:service|support)|"
    r"support (?:team|line|number|phone)|helpline|(?:opening |store )?hours|"
    r"phone number)"
)
# After such a name: a policy or service, with or without "'s" ("walmart opening
# hours", "amazons return policy"), or "'s" and a policy's noun ("apple's
# warranty", "amazon's delivery times"), but not a price ("amazon's delivery cost").
_THEIR_POLICY_AFTER = re.compile(
    rf"^(?:'?s)?\s+{_THEIR_SERVICE}\b"
    rf"|^'s?\s+(?:polic(?:y|ies)|{_POLICY_NOUN}(?:\s+(?:times?|period|window|rules))?)"
    r"\b(?!\s+(?:prices?|costs?|fees?|charges?|options?))"
)
# Before such a name: "the refund policy at amazon", "the opening hours of walmart".
_THEIR_POLICY_BEFORE = re.compile(rf"{_THEIR_SERVICE}\s+(?:at|of)\s+(?:the\s+)?$")
# A question about our policy that names another business: "your ups delivery times".
_OURS = re.compile(r"\b(?:your|yours|ur)\b")
# After a listed name, what makes it the business whose service is asked about:
# "best buy's price match policy", "does costco price match", "zara return policy".
_ITS_SERVICE = re.compile(
    rf"^(?:'?s)?\s+(?:{_SERVICE_NOUNS}|(?:return|refund|warranty|delivery|shipping)"
    r"(?:\s+policy)?|policy|policies|hours|opening hours)\b"
)


@dataclass(frozen=True)
class KnownBusinesses:
    """Names of well-known businesses, lower case.

    Attributes:
        anywhere: Names counted wherever they stand in a question.
        in_a_name_place: Names that are also everyday words, counted only in a
            name's place (a possessive, after "at" or "from", before a service noun).
        asked_about_only: Names customers also use when asking about us, counted
            only when the question asks about that business's own policy or
            service (:meth:`OtherBusiness.their_policy`), even if the articles use
            them.
    """

    anywhere: tuple[str, ...] = ()
    in_a_name_place: tuple[str, ...] = ()
    asked_about_only: tuple[str, ...] = ()


def load_businesses(path: Path = BUSINESSES_FILE) -> KnownBusinesses:
    """Read lists of well-known businesses (the fields of :class:`KnownBusinesses`).

    Raises:
        ValueError: If the file is not a mapping of those lists of names, or a
            name is in more than one list.
    """
    keys = ("anywhere", "in_a_name_place", "asked_about_only")
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict) or set(document) - set(keys):
        raise ValueError(
            f"{path}: expected 'anywhere', 'in_a_name_place' and "
            "'asked_about_only' lists"
        )
    lists = []
    for key in keys:
        names = document.get(key) or []
        if not isinstance(names, list) or not all(
            isinstance(name, str) and name.strip() for name in names
        ):
            raise ValueError(f"{path}: '{key}' must be a list of names")
        lists.append(tuple(name.strip().lower() for name in names))
    seen: set[str] = set()
    for names in lists:
        if twice := seen & set(names):
            raise ValueError(f"{path}: {sorted(twice)} in more than one list")
        seen |= set(names)
    return KnownBusinesses(*lists)


class OtherBusiness:
    """Tells whether a question names a business other than ours.

    Args:
        terms: The articles' search terms (the BM25 index's vocabulary).
        words: The articles' raw words, lower case (for typos of them).
        english: Common English words (the sentence encoder's whole words).
        known: Well-known businesses (:meth:`listed`); none by default.
        article_text: The articles' texts, lower case: a listed name in them is ours.
    """

    def __init__(
        self,
        terms: Iterable[str],
        words: Iterable[str],
        english: Iterable[str],
        known: KnownBusinesses | None = None,
        article_text: str = "",
    ) -> None:
        self._terms = frozenset(terms)
        self._words = frozenset(words)
        self._english = frozenset(english)
        known = known or KnownBusinesses()
        article_text = _normalise(article_text)
        anywhere = [name for name in known.anywhere if not _says(article_text, name)]
        self._anywhere = _names_pattern(anywhere)
        self._in_a_name_place = frozenset(
            name for name in known.in_a_name_place if not _says(article_text, name)
        )
        self._asked_about_only = _names_pattern(known.asked_about_only)

    def names(self, question: str) -> str | None:
        """The other business the question names, or None.

        Args:
            question: The customer's question, as typed or transcribed.

        Returns:
            The word taken for the business's name, or None if there is none.
        """
        text = _normalise(question)
        for pattern in _NAME_PLACES:
            for match in pattern.finditer(text):
                if self._unknown(word := match.group(1)):
                    return word
        return None

    def listed(self, question: str) -> str | None:
        """The well-known business the question names, or None.

        Args:
            question: The customer's question, as typed or transcribed.

        Returns:
            The listed name found, or None.
        """
        found = self._listed(_normalise(question))
        return found[0] if found else None

    def asked_about(self, question: str) -> str | None:
        """The listed business whose own service the question asks about, or None.

        A listed name before a service noun or a policy ("best buy's price match
        policy", "does costco price match", "target return policy"), as opposed to
        one named in passing ("found it cheaper at best buy").
        """
        text = _normalise(question)
        found = self._listed(text)
        while found is not None:
            name, end = found
            if _ITS_SERVICE.match(text[end:]):
                return name
            found = self._listed(text, end)
        return None

    def their_policy(self, question: str) -> str | None:
        """The ``asked_about_only`` business whose own policy the question asks about.

        Args:
            question: The customer's question, as typed or transcribed.

        Returns:
            The name, or None if the question names none of them that way.
        """
        text = _normalise(question)
        if self._asked_about_only is None or _OURS.search(text):
            return None
        for found in self._asked_about_only.finditer(text):
            if _THEIR_POLICY_AFTER.match(text[found.end(1) :]) or (
                _THEIR_POLICY_BEFORE.search(text[: found.start(1)])
            ):
                return found.group(1)
        return None

    def _listed(self, text: str, start: int = 0) -> tuple[str, int] | None:
        """The first listed name at or after ``start``, and where it ends."""
        candidates = []
        if self._anywhere is not None and (found := self._anywhere.search(text, start)):
            candidates.append((found.start(1), found.group(1), found.end(1)))
        for pattern in _LISTED_PLACES:
            for match in pattern.finditer(text, start):
                if match.group(1) in self._in_a_name_place:
                    candidates.append((match.start(1), match.group(1), match.end(1)))
                    break
        if not candidates:
            return None
        _, name, end = min(candidates)
        return name, end

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


def _normalise(text: str) -> str:
    """Lower case, with typographic apostrophes as plain ones."""
    return text.lower().replace("\u2019", "'")


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """Any of the names (group 1) as a whole word or phrase, or with "s" or "'s".

    Longest first, so "uber eats" is found before "uber"; a possessive may come
    without its apostrophe ("best buys price match").
    """
    ordered = sorted(set(names), key=len, reverse=True)
    if not ordered:
        return None
    alternatives = "|".join(re.escape(name) for name in ordered)
    return re.compile(rf"(?<![\w&+-])({alternatives})(?:'?s)?(?![\w&+-])")


def _says(text: str, name: str) -> bool:
    """Whether the lower-case text contains the name as a whole word or phrase."""
    return re.search(rf"(?<![\w&+-]){re.escape(name)}(?![\w&+-])", text) is not None


def _typo(word: str, known: str) -> bool:
    """Whether ``word`` is one edit (two if longer than 7 letters) from ``known``."""
    if len(word) < 4 or abs(len(word) - len(known)) > 1:
        return False
    return edit_distance(word, known) <= (1 if len(word) <= 7 else 2)
