"""The question as the help centre's rankers read it: typos and chat forms mended.

Customers ask "where do i downlaod my invoce" and "customer servise phone number".
The sentence encoder cuts a misspelt word into word pieces that mean little, and
BM25 finds no article containing it, so a question an article answers gets "I don't
know". :class:`QuestionReader` mends such words before either ranker sees them,
with the NLU's :class:`bot.nlu.spelling.SpellingCorrector` over the articles' own
words:

* chat forms with one reading ("u" -> "you", "pls" -> "please", "wanna");
* a word neither in the articles nor in the encoder's English word list, one edit
  from an article's word (two for words of 8 letters or more), becomes that word;
  ties go to the word the articles use most.

Left as written: words with an apostrophe or a digit ("you're", "sum1"), an
inflection of a known word ("tees", "iphones", "reimbursed": the encoder's list has
few inflected forms, and "shiping" stays a typo left alone), a capitalised word after
the first (a name), and words of under 4 letters. Only the rankers see the
correction; the rule that refuses questions about another business
(:mod:`knowledge_base.elsewhere`) reads the question as written, since a business's
name is often one edit from an everyday word. Pure and deterministic.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from bot.nlu.spelling import SpellingCorrector

# A word, with an apostrophe or digits inside it when it has them ("you're", "sum1").
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z0-9]+)*")
_LETTERS = re.compile(r"[A-Za-z]+")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Endings of inflected words the encoder's word list lacks ("reimbursed", "tees").
_ENDINGS = ("s", "es", "d", "ed", "ing", "er", "ers", "ly")


class QuestionReader:
    """Mends typos of the articles' words and chat forms in a question.

    Args:
        texts: The articles' texts (titles, bodies, keywords, example questions):
            what a word may be corrected to, and how often each word occurs.
        english: Correct words never changed (the encoder's whole English words).
    """

    def __init__(self, texts: Iterable[str], english: Iterable[str]) -> None:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(_WORD.findall(text.lower()))
        self._known = frozenset(english) | frozenset(counts)
        self._corrector = SpellingCorrector(dict(counts), self._known)

    def read(self, question: str) -> str:
        """The question with its misspelt words and chat forms replaced.

        Args:
            question: The customer's question, as typed or transcribed.

        Returns:
            The text the rankers read (the question itself if nothing needs mending).
        """
        tokens = list(_TOKEN.finditer(question))
        words = [token.group() for token in tokens]
        corrections = self._corrector.corrections(words)
        pieces: list[str] = []
        cursor = 0
        for token, correction in zip(tokens, corrections, strict=True):
            if correction is None or not self._mendable(token.group()):
                continue
            pieces += [question[cursor : token.start()], correction.meant]
            cursor = token.end()
        if not pieces:
            return question
        return "".join(pieces) + question[cursor:]

    def _mendable(self, word: str) -> bool:
        """Letters only, and no inflection of a known word ("reimbursed", "tees")."""
        if not _LETTERS.fullmatch(word):
            return False
        lower = word.lower()
        for ending in _ENDINGS:
            stem = lower[: -len(ending)]
            if lower.endswith(ending) and (
                stem in self._known or stem + "e" in self._known
            ):
                return False
        return True
