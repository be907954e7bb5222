"""The help centre as the first rung of the fallback ladder.

When the NLU is unsure of a message (its ``nlu_fallback``: no intent reached the
FallbackClassifier's threshold, as opposed to a confident ``out_of_scope``), the
assistant would ask the customer to say it another way. If the message is a
question and the help centre answers it with confidence, the article is the better
reply: :func:`answer_when_unsure` returns it, and the ladder (rephrase, then a
person) runs unchanged otherwise.

Two guards, because a message the NLU could not place is more often off-topic or
too vague than a help-centre question:

* the message must read as a question (:func:`is_question`): a question mark, a
  question word or auxiliary at the start, after greetings and fillers ("hi, so how
  long do refunds take"), "which" or "how long" among the last words ("refund goes
  back to which card"), or a phrase such as "I want to know" / "wondering";
* the knowledge base's confidence must reach ``Calibration.fallback_threshold``,
  which is chosen on the validation sets by ``python -m benchmarks.kb_pipeline
  --calibrate`` (never on a test set) and can be stricter than the ``faq`` path's.
"""

from __future__ import annotations

import re

from knowledge_base.retrieval import KnowledgeBase, Match

#: Words that open a question, as customers type them (no apostrophes, some slang).
QUESTION_OPENERS = frozenset({
    "what", "whats", "wat", "wot", "how", "hows", "when", "whens", "where", "wheres",
    "why", "who", "whos", "whom", "whose", "which", "can", "cant", "cn", "could",
    "couldnt", "do", "does", "doesnt", "dont", "did", "didnt", "is", "isnt", "are",
    "arent", "r", "was", "were", "will", "wont", "would", "wouldnt", "should",
    "shouldnt", "shall", "may", "might", "must", "have", "has", "any", "anyway",
})  # fmt: skip

#: Words skipped before the opener: greetings, fillers, politeness.
LEAD_INS = frozenset({
    "hi", "hello", "hey", "hiya", "yo", "ok", "okay", "so", "um", "umm", "uh", "uhh",
    "er", "and", "but", "also", "please", "pls", "plz", "just", "sorry", "excuse",
    "me", "quick", "question", "btw", "there", "again", "then", "oh", "well",
})  # fmt: skip

#: Phrases that ask wherever they stand ("i'd like to know if you ship abroad").
_ASKING = re.compile(
    r"\b(?:(?:want|like|need|wanted|trying) to (?:know|find out|ask|check)"
    r"|wonder(?:ing|ed)?|tell me|explain|any idea|is it possible|do you know"
    r"|curious)\b"
)
#: "which" or "how long/much/many" near the end asks too ("refund goes back to which
#: card"); "what" and "when" there rarely do ("not sure what happened").
_ASKED_LAST = re.compile(
    r"\b(?:which|how (?:long|much|many|often|soon))(?:\W+\w+){0,2}\W*$"
)
_WORD = re.compile(r"[a-z0-9]+")


def is_question(text: str) -> bool:
    """Whether a message reads as a question (typed, or transcribed without a "?")."""
    lowered = text.strip().lower()
    if not lowered:
        return False
    if lowered.rstrip(" .!").endswith("?"):
        return True
    if _ASKING.search(lowered) or _ASKED_LAST.search(lowered):
        return True
    # Apostrophes dropped first, so "what's" and "whats" are the same word.
    words = _WORD.findall(lowered.replace("'", "").replace("\u2019", ""))
    for word in words:
        if word in LEAD_INS:
            continue
        return word in QUESTION_OPENERS
    return False


def answer_when_unsure(
    kb: KnowledgeBase, text: str, threshold: float | None = None
) -> Match | None:
    """The article for a message the NLU could not place, or None to go on as before.

    Args:
        kb: The served knowledge base.
        text: The customer's message.
        threshold: Minimum confidence; ``kb.calibration.fallback_threshold`` if None.
    """
    if not is_question(text):
        return None
    if threshold is None:
        threshold = kb.calibration.fallback_threshold
    return kb.search(text, threshold=threshold)
