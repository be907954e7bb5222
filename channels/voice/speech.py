"""Text for the ear and input from the phone: the IVR's pure helpers.

Bot output becomes something a text-to-speech voice can say: no markdown, emoji or
URLs, lists shortened, long answers cut to their first sentences, identifiers read
digit by digit. Caller input (keypad digits, Twilio's speech transcripts) is read
for menu keys, yes/no answers and numbers that deserve a read-back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.nlu.normalise import ORDER_NUMBER, PHONE, TICKET_REFERENCE, extract
from channels.common import plain_text

MAX_SPOKEN_CHARS = 300
MAX_LIST_ITEMS = 3
MAX_CHOICES = 9  # one key each
MAX_FILLER_WORDS = 4  # "my order number is ..." still counts as a number

# A URL, without the sentence punctuation or bracket that may follow it.
_URL = re.compile(r"(?:https?://|www\.)[^\s()<>]*[^\s()<>.,;:!?'\"]", re.IGNORECASE)
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")
_DANGLING_COLON = re.compile(r"\s*:\s*(?=[.!?,;]|$)")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.!?,;:])")
_DOUBLED_STOP = re.compile(r"([.!?])[.]+")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+", re.ASCII)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_TERMINAL = (".", "!", "?", ":", ";")
# Six digits on their own: not part of a price, decimal, longer number or word.
# Digits are ASCII only (re.ASCII): "²" or "٣" are not digits to read or key.
_ORDER_NUMBER = re.compile(r"(?<![\w+$€£.,-])\d{6}(?![\w-]|[.,]\d)", re.ASCII)
# Old (T-000123) and new (T-7K4M9Q) references, read character by character.
_TICKET_REFERENCE = re.compile(r"\bT-([0-9A-Z]{6})\b", re.ASCII)
_E164 = re.compile(r"\+\d{8,15}\b", re.ASCII)
_NON_WORD = re.compile(r"[^\w' ]+")
# Transcripts sometimes space out keyed-like numbers: "1 0 4 2 5 7".
_SPACED_DIGITS = re.compile(r"(?<![\d-])\d(?: \d){3,}(?![\d-])", re.ASCII)

# A key said on its own. Only real digit words: "oh" (and "o") are zeros only inside a
# longer number (read by `heard_number`), and "to", "too", "for" never are digits.
_KEY_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
REPEAT_KEY = "*"
_CHOICE_FILLERS = {"option", "number", "press", "pressing", "choice", "the", "i"}
_YES_WORDS = {"yes", "yeah", "yep", "yup", "correct", "right", "sure", "ok", "okay"}
_NO_WORDS = {"no", "nope", "nah", "wrong", "incorrect"}
_REPEAT_PHRASES = {
    "repeat", "repeat that", "repeat please", "please repeat", "say that again",
    "say it again", "can you repeat that", "could you repeat that", "pardon",
    "come again", "what did you say", "sorry what",
}  # fmt: skip


# --- bot output -> speech -----------------------------------------------------------


def speakable(text: str, limit: int = MAX_SPOKEN_CHARS) -> str:
    """One bot message as plain sentences for <Say>, about `limit` characters at most."""
    text = plain_text(text, keep_urls=False)
    text = _URL.sub("", text)
    text = _EMPTY_BRACKETS.sub("", text)
    text = " ".join(_lines_as_sentences(text.splitlines()))
    text = _DANGLING_COLON.sub("", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
    text = _DOUBLED_STOP.sub(r"\1", text)
    text = re.sub(r"\s{2,}", " ", text).strip()
    return spell_identifiers(shorten(text, limit))


def _lines_as_sentences(lines: list[str]) -> list[str]:
    """Lines joined into sentences; a bulleted or numbered list read as one short one."""
    out: list[str] = []
    items: list[str] = []
    for raw in [*lines, ""]:
        line = raw.strip()
        if _LIST_ITEM.match(line):
            items.append(_LIST_ITEM.sub("", line).rstrip(".;,"))
            continue
        if items:
            out.append(_spoken_list(items))
            items = []
        if line:
            out.append(line if line.endswith(_TERMINAL) else f"{line}.")
    return out


def _spoken_list(items: list[str]) -> str:
    shown = items[:MAX_LIST_ITEMS]
    hidden = len(items) - len(shown)
    if hidden:
        return f"{', '.join(shown)}, and {hidden} more."
    if len(shown) > 1:
        return f"{', '.join(shown[:-1])} and {shown[-1]}."
    return f"{shown[0]}."


def shorten(text: str, limit: int = MAX_SPOKEN_CHARS) -> str:
    """The first sentences that fit in `limit`, plus the closing question if any."""
    if len(text) <= limit:
        return text
    sentences = [s for s in _SENTENCE_BREAK.split(text) if s]
    question = sentences[-1] if sentences[-1].endswith("?") else None
    budget = limit - (len(question) + 1 if question else 0)
    kept: list[str] = []
    for sentence in sentences[:-1] if question else sentences:
        if len(" ".join([*kept, sentence])) > budget:
            break
        kept.append(sentence)
    if not kept and not question:
        kept = [_cut_at_word(sentences[0], limit)]
    return " ".join([*kept, question] if question else kept)


def _cut_at_word(sentence: str, limit: int) -> str:
    cut = sentence.rfind(" ", 0, limit)
    return sentence[: cut if cut > 0 else limit].rstrip(" ,;:-") + "."


def is_ascii_digits(text: str) -> bool:
    """Only 0-9: "²".isdigit() is True, but int("²") fails and nobody can key it."""
    return text.isascii() and text.isdigit()


def spell_digits(digits: str) -> str:
    """Digits as a voice should read them back: "1 0 4 2 5 7", "4 1 5, 5 5 5, ..."."""
    digits = "".join(ch for ch in digits if is_ascii_digits(ch))
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]  # North American country code: nobody says it
    if len(digits) == 10:
        groups = [digits[:3], digits[3:6], digits[6:]]
        return ", ".join(" ".join(group) for group in groups)
    return " ".join(digits)


def spell_identifiers(text: str) -> str:
    """Order numbers, ticket references and phone numbers read digit by digit."""
    text = _TICKET_REFERENCE.sub(lambda m: "T " + " ".join(m[1]), text)
    text = _E164.sub(lambda m: spell_digits(m[0]), text)
    return _ORDER_NUMBER.sub(lambda m: " ".join(m[0]), text)


def choices_prompt(titles: list[str]) -> str:
    """Buttons as keys: "Press 1 for Yes, please. Press 2 for No, thanks."."""
    return " ".join(
        f"Press {index} for {title.strip().rstrip('.!?')}."
        for index, title in enumerate(titles[:MAX_CHOICES], start=1)
    )


def closing_question(speech: str) -> str | None:
    """The last question of a prompt, to ask again after silence."""
    questions = [s for s in _SENTENCE_BREAK.split(speech) if s.endswith("?")]
    return questions[-1] if questions else None


# --- caller input ---------------------------------------------------------------------


def _words(speech: str) -> list[str]:
    return _NON_WORD.sub(" ", speech.lower()).split()


def clean_digits(raw: str) -> str:
    """Twilio's Digits as keyed input: the digits 0-9, or "*" alone (repeat).

    A "*" inside a number is dropped ("1042*57" -> "104257"); an empty result (only
    "#", "**", anything else) is no input at all, a no-match.
    """
    keys = "".join(ch for ch in raw if is_ascii_digits(ch) or ch == REPEAT_KEY)
    return keys if keys == REPEAT_KEY else keys.replace(REPEAT_KEY, "")


def spoken_key(speech: str) -> str | None:
    """A single key said out loud: "one", "option 2", "press three" -> "1", "2", "3"."""
    words = [w for w in _words(speech) if w not in _CHOICE_FILLERS]
    if len(words) != 1:
        return None
    word = words[0]
    if len(word) == 1 and is_ascii_digits(word):
        return word
    return _KEY_WORDS.get(word)


def confirmation(speech: str) -> bool | None:
    """True for "yes"/"that's right", False for "no"/"wrong", None otherwise."""
    words = _words(speech)
    if not words:
        return None
    if words[0] in _YES_WORDS or " ".join(words[:2]) in {"that's right", "thats right"}:
        return True
    if words[0] in _NO_WORDS:
        return False
    return None


def wants_repeat(speech: str) -> bool:
    return " ".join(_words(speech)) in _REPEAT_PHRASES


@dataclass(frozen=True)
class HeardNumber:
    text: str  # the utterance with the number in canonical form, for the assistant
    spoken: str  # "1 0 4 2 5 7"


def heard_number(speech: str, region: str = "US") -> HeardNumber | None:
    """The order number, phone or ticket reference an utterance is mostly about.

    "one oh four two five seven" or "my order number is 104257" qualify; a sentence
    that merely mentions a number ("my lamp from order 104257 arrived broken") does
    not, and neither does an utterance with several numbers.
    """
    speech = _SPACED_DIGITS.sub(lambda m: m[0].replace(" ", ""), speech)
    wanted = (ORDER_NUMBER, PHONE, TICKET_REFERENCE)
    found = [e for e in extract(speech, region) if e.entity in wanted]
    if len(found) != 1:
        return None
    entity = found[0]
    before, after = speech[: entity.start], speech[entity.end :]
    if len(_words(f"{before} {after}")) > MAX_FILLER_WORDS:
        return None
    if entity.entity == TICKET_REFERENCE:
        spoken = "T " + " ".join(entity.value.removeprefix("T-"))
    else:
        spoken = spell_digits(entity.value)
    text = f"{before}{entity.value}{after}".strip()
    return HeardNumber(text=text, spoken=spoken)
