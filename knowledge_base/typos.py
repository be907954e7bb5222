"""The question as the help centre's rankers read it: typos and chat forms mended.

Customers ask "where do i downlaod my invoce" and "customer servise phone number".
The sentence encoder cuts a misspelt word into word pieces that mean little, and
BM25 finds no article containing it, so a question an article answers gets "I don't
know". :class:`QuestionReader` mends such words before either ranker sees them,
with the NLU's :class:`bot.nlu.spelling.SpellingCorrector` over the articles' own
words:

* chat forms with one reading ("u" -> "you", "pls" -> "please", "wanna");
* a word neither in the articles nor in the encoder's English word list, one edit
  from an article's word (two for words of 8 letters or more) that starts with the
  same letter (typists rarely miss the first one; "chipped" is not "shipped"),
  becomes that word; ties go to the word the articles use most. In a word of under
  6 letters the edit must add, drop or swap letters, not replace one ("abort" is
  not "about", "flask" not "flash").

Left as written: words with an apostrophe or a digit ("you're", "sum1"), an
inflection of a known word ("tees", "iphones", "reimbursed", "chipped", "bedding":
the encoder's list has few inflected forms, so "shiping" stays a typo left alone),
names of businesses (``businesses.yml``: "asos", "lyft"), a capitalised word after
the first (a name), and words of under 4 letters. A correctly spelt word the
encoder's list lacks can still be taken for a typo ("decode" read as "decide"); these
rules and the articles' small vocabulary keep that rare. Only the
rankers see the correction; the rule that refuses questions about another business
(:mod:`knowledge_base.elsewhere`) reads the question as written. Pure and
deterministic.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from bot.nlu.spelling import TXT_SPEAK, SpellingCorrector

# A word, with an apostrophe or digits inside it when it has them ("you're", "sum1").
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z0-9]+)*")
_LETTERS = re.compile(r"[A-Za-z]+")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Endings of inflected words the encoder's word list lacks ("reimbursed", "tees").
_ENDINGS = ("s", "es", "d", "ed", "ing", "er", "ers", "ly")
# Under this length a word is mended only by a letter added, dropped or swapped with
# its neighbour ("mach" -> "match"), not replaced ("abort" is not "about").
SHORT = 6
# Endings after which a stem's last consonant may be doubled ("chipped", "bedding").
_DOUBLING = ("ed", "ing", "er", "ers")


class QuestionReader:
    """Mends typos of the articles' words and chat forms in a question.

    Args:
        texts: The articles' texts (titles, bodies, keywords, example questions):
            what a word may be corrected to, and how often each word occurs.
        english: Correct words never changed (the encoder's whole English words).
        names: Names never changed (businesses; a name of several words counts
            word by word).
    """

    def __init__(
        self, texts: Iterable[str], english: Iterable[str], names: Iterable[str] = ()
    ) -> None:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(_WORD.findall(text.lower()))
        name_words = {word for name in names for word in _WORD.findall(name.lower())}
        self._known = frozenset(english) | frozenset(name_words) | frozenset(counts)
        self._corrector = SpellingCorrector(dict(counts), self._known)

    def read(self, question: str) -> str:
        """The question with its misspelt words and chat forms replaced.

        Args:
            question: The customer's question, as typed or transcribed.

        Returns:
            The text the rankers read (the question itself if nothing needs mending).
        """
        tokens = list(_TOKEN.finditer(question))
        corrections = self._corrector.corrections([token.group() for token in tokens])
        pieces: list[str] = []
        cursor = 0
        for token, correction in zip(tokens, corrections, strict=True):
            if correction is None or not self._mends(token.group(), correction.meant):
                continue
            pieces += [question[cursor : token.start()], correction.meant]
            cursor = token.end()
        if not pieces:
            return question
        return "".join(pieces) + question[cursor:]

    def _mends(self, word: str, meant: str) -> bool:
        """Whether the corrector's ``meant`` may replace ``word`` (the module's rules)."""
        lower = word.lower()
        if lower in TXT_SPEAK:
            return True
        if not _LETTERS.fullmatch(word) or meant[:1] != lower[:1]:
            return False
        if (
            len(lower) < SHORT
            and len(meant) == len(lower)
            and (sorted(meant) != sorted(lower))
        ):
            return False  # one letter for another in a short word: "abort", "flask"
        return not self._inflection(lower)

    def _inflection(self, lower: str) -> bool:
        """Whether the word is a known word with an ending ("tees", "chipped")."""
        for ending in _ENDINGS:
            if not lower.endswith(ending):
                continue
            stem = lower[: -len(ending)]
            if stem in self._known or stem + "e" in self._known:
                return True
            doubled = len(stem) > 2 and stem[-1] == stem[-2]
            if ending in _DOUBLING and doubled and stem[:-1] in self._known:
                return True
        return False
