"""How customers type, mapped to the words the model learnt: txt-speak and typos.

Customers write "chnge size plz", "ordr statsu", "wen do i get my money bak". The
word features (and, less so, the pretrained encoder's word pieces) see unknown words
there. :class:`SpellingCorrector` maps each word to what it most likely stands for:

* a short list of txt-speak and chat forms (:data:`TXT_SPEAK`: "u" -> "you",
  "pls" -> "please", "wanna" -> "want to");
* an unknown word (in neither the training data nor the encoder's English word
  list) to the training data's word at the smallest edit distance (insert, delete,
  replace or swap two neighbouring letters): one edit for words of 4-7 letters, two
  for longer ones, never changing the length by more than one; ties go to the word
  seen most often in the training data. No candidate, or a word that looks like a
  name, a number or an address, stays as written.

Only the features see the corrections; the customer's text, entity values and
transcripts keep what was written. Pure and deterministic; the Rasa component is
:mod:`bot.nlu.spelling_component`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Chat forms with one reading in a shop's support chat. Words with several
# ("y": yes or why, "k": okay or thousand) are left to the model.
TXT_SPEAK: Mapping[str, str] = {
    "u": "you",
    "ya": "you",
    "yu": "you",
    "ur": "your",
    "urs": "yours",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "plse": "please",
    "pleas": "please",
    "thx": "thanks",
    "thnx": "thanks",
    "thanx": "thanks",
    "tnx": "thanks",
    "im": "i'm",
    "ive": "i've",
    "dont": "don't",
    "cant": "can't",
    "wont": "won't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "isnt": "isn't",
    "hasnt": "hasn't",
    "havent": "haven't",
    "wasnt": "wasn't",
    "wanna": "want to",
    "gonna": "going to",
    "gotta": "got to",
    "wat": "what",
    "wot": "what",
    "wht": "what",
    "whr": "where",
    "wher": "where",
    "wen": "when",
    "hw": "how",
    "hv": "have",
    "cuz": "because",
    "coz": "because",
    "bc": "because",
    "abt": "about",
    "acct": "account",
    "pwd": "password",
    "pw": "password",
    "msg": "message",
    "txt": "text",
    "b4": "before",
    "2day": "today",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tho": "though",
    "bak": "back",
    "nd": "and",
    "n": "and",
    "wid": "with",
    "w/": "with",
    "sth": "something",
    "smth": "something",
    "ppl": "people",
    "idk": "i don't know",
    "rly": "really",
    "pkg": "package",
    "pkge": "package",
    "addr": "address",
    "info": "information",
}

WRITTEN = "written"  # a rewritten token's data key: the word as it was written
MIN_LENGTH = 4  # shorter unknown words are too ambiguous to correct
TWO_EDITS_FROM = 8  # words this long may be two edits away
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class Correction:
    """What a word of the message stands for, if it differs from what was written."""

    written: str
    meant: str


class SpellingCorrector:
    """Maps words to the training data's vocabulary (see the module docstring)."""

    def __init__(self, vocabulary: Mapping[str, int], known: Iterable[str]) -> None:
        """Indexes the vocabulary for lookups within two edits.

        Args:
            vocabulary: The training data's words (lower case) and how often each
                occurs: what a word may be corrected to.
            known: Other correct words (the encoder's English word list): never
                corrected, never a correction.
        """
        self.vocabulary = dict(vocabulary)
        self._known = frozenset(known) | frozenset(self.vocabulary)
        self._by_deletion: dict[str, list[str]] = {}
        for word in self.vocabulary:
            if len(word) >= MIN_LENGTH - 1 and _WORD.fullmatch(word):
                for variant in _deletions(word, 2):
                    self._by_deletion.setdefault(variant, []).append(word)

    def correct(self, word: str) -> str | None:
        """What `word` (as written) stands for, or None when it stays as it is."""
        lower = word.lower()
        if lower in TXT_SPEAK:
            return TXT_SPEAK[lower]
        if (
            len(lower) < MIN_LENGTH
            or lower in self._known
            or not _WORD.fullmatch(lower)
        ):
            return None
        limit = 2 if len(lower) >= TWO_EDITS_FROM else 1
        best: tuple[int, int, str] | None = None
        for variant in _deletions(lower, limit):
            for candidate in self._by_deletion.get(variant, ()):
                if abs(len(candidate) - len(lower)) > 1:
                    continue
                distance = edit_distance(lower, candidate)
                if distance > limit:
                    continue
                rank = (distance, -self.vocabulary[candidate], candidate)
                if best is None or rank < best:
                    best = rank
        return best[2] if best else None

    def corrections(self, words: list[str]) -> list[Correction | None]:
        """One correction (or None) per word of a message, names left alone.

        A capitalised word after the first is taken for a name ("my name is
        Ngozi") unless the whole message is in capitals.
        """
        shouting = all(w.upper() == w for w in words)
        found: list[Correction | None] = []
        for index, word in enumerate(words):
            if index > 0 and not shouting and word[:1].isupper():
                found.append(None)
                continue
            meant = self.correct(word)
            found.append(Correction(word, meant) if meant else None)
        return found


def _deletions(word: str, depth: int) -> set[str]:
    """`word` and every string made from it by deleting up to `depth` letters."""
    variants = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        variants |= frontier
    return variants


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: inserts, deletes, replaces, adjacent swaps."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def rewrite(
    text: str, spans: list[tuple[int, int]], meant: list[str | None]
) -> tuple[str, list[tuple[int, int]]]:
    """`text` with the words at `spans` replaced where `meant` says, and new spans.

    Args:
        text: The message as written.
        spans: Each word's (start, end) in `text`, in order, not overlapping.
        meant: Per word, what it stands for, or None to keep it.

    Returns:
        The rewritten text and each word's (start, end) in it.
    """
    pieces: list[str] = []
    new_spans: list[tuple[int, int]] = []
    cursor = 0
    length = 0
    for (start, end), replacement in zip(spans, meant, strict=True):
        pieces.append(text[cursor:start])
        length += start - cursor
        word = text[start:end] if replacement is None else replacement
        pieces.append(word)
        new_spans.append((length, length + len(word)))
        length += len(word)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces), new_spans
