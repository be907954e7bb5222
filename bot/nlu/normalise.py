"""Deterministic extraction of Switchboard's structured entities.

Customers type (web chat, SMS) or speak (Twilio voice transcripts, no punctuation,
numbers often spelled out) order numbers, ticket references, phone numbers and
email addresses. This module finds them with plain rules and returns them in one
canonical form each:

* ``email``: ``jane.doe@example.com`` (lower-cased), from written addresses and
  spoken ones such as ``jane dot doe at example dot com``.
* ``phone``: E.164, e.g. ``+14155550134``, via the ``phonenumbers`` library.
* ``order_number``: exactly six digits, e.g. ``104257``.
* ``ticket_reference``: ``T-`` plus six random letters and digits, e.g.
  ``T-7K4M9Q`` (new tickets), or six zero-padded digits, e.g. ``T-000123`` (old ones).

Written shapes are matched with regular expressions on the raw text (and
``phonenumbers.PhoneNumberMatcher`` for phones). Spoken shapes are matched with a
rule-based spaCy ``Matcher`` over the tokens of a blank English pipeline: runs of
digit words ("one oh four two five seven", "double five"), ticket cue words
followed by such a run, the ``at <domain>`` part of a spoken address and
tokens that spaCy itself recognises as email addresses.

No two returned entities overlap. When candidates collide the one of the stronger
type wins (email > ticket_reference > phone > order_number), then the longer span.

Nothing is built at import time: the spaCy pipeline and its matcher are created on
first use and cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import phonenumbers
import spacy
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span, Token

__all__ = [
    "EMAIL",
    "ORDER_NUMBER",
    "PHONE",
    "TICKET_REFERENCE",
    "FoundEntity",
    "extract",
]

EMAIL = "email"
PHONE = "phone"
ORDER_NUMBER = "order_number"
TICKET_REFERENCE = "ticket_reference"

# Lower number = stronger claim on a stretch of text.
_PRIORITY = {EMAIL: 0, TICKET_REFERENCE: 1, PHONE: 2, ORDER_NUMBER: 3}

ORDER_DIGITS = 6
TICKET_DIGITS = 6

# --- vocabulary -------------------------------------------------------------------

_DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_MULTIPLIERS = {"double": 2, "triple": 3}
# Words that may begin a run but are more likely an interjection ("oh, ...").
_INTERJECTION_ZEROS = {"oh", "o"}

_TICKET_CUES = {"ticket", "case", "reference", "ref"}
# Words allowed between a ticket cue and its number: "ticket number is 45".
_TICKET_FILLERS = {"number", "no", "num", "nr", "id", "is", "was", "#", ":"}
# A cue preceded by one of these words is not about a ticket:
# "order reference 104257" is an order, "in case 2 ..." is not a case number.
_CUE_BLOCKERS = {"order": _TICKET_CUES, "in": {"case"}}

# A number followed by one of these words is a quantity, not an identifier.
_UNIT_WORDS = frozenset(
    (
        "% percent item items piece pieces pcs unit units time times people second "
        "seconds minute minutes min mins hour hours day days week weeks month months "
        "year years dollar dollars usd buck bucks cent cents euro euros pound pounds "
        "kg lb lbs"
    ).split()
)

# Spoken email vocabulary.
_AT_WORDS = {"at", "@"}
_LOCAL_CONNECTORS = {
    "dot": ".",
    "period": ".",
    "point": ".",
    ".": ".",
    "underscore": "_",
    "_": "_",
    "dash": "-",
    "hyphen": "-",
    "minus": "-",
    "-": "-",
    "plus": "+",
    "+": "+",
}
_DOMAIN_CONNECTORS = {
    "dot": ".",
    "period": ".",
    "point": ".",
    ".": ".",
    "dash": "-",
    "hyphen": "-",
    "-": "-",
}
# Words that make a nearby "x at y dot com" an email address.
_EMAIL_CUES = {"email", "e-mail", "emails", "mail", "address"}
# Words that may stand before a bare spoken address that is the whole message.
_EMAIL_LEAD_INS = {"it", "'s", "its", "it's", "is", "yes", "yeah", "sure", "ok", "okay"}
# Mailbox providers: "sam at gmail dot com" needs no further cue.
_MAIL_PROVIDERS = frozenset(
    (
        "gmail googlemail yahoo hotmail outlook live msn icloud me mac aol protonmail "
        "proton pm gmx zoho yandex mail comcast verizon att sbcglobal"
    ).split()
)

_LOCAL_PIECE_RE = re.compile(r"[a-z0-9][a-z0-9._%+-]*")
_DOMAIN_PIECE_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*")
_EMAIL_SHAPE_RE = re.compile(
    r"[a-z0-9](?:[a-z0-9._%+-]*[a-z0-9_])?"
    r"@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
    r"\.[a-z]{2,}"
)

# --- written shapes ---------------------------------------------------------------

# A maximal run of digit groups joined by single spaces or hyphens ("104 257",
# "415-555-0134", "104257 108842"). It may not touch letters, currency signs,
# slashes (dates), decimal/thousand separators or time colons on either side.
_NUMBER_CHUNK_RE = re.compile(
    r"(?<![\w$€£¥/+])(?<!\w-)(?<!\d[.,: -])"
    r"\d+(?:[ -]\d+)*"
    r"(?![\w/%$€£¥]|[.,:]\d|[ -]\d|-\w)"
)
_DIGIT_GROUP_RE = re.compile(r"\d+")

# "T-000123", "t000123", "t-123" (without the hyphen at least three digits, so that
# "t2" in chat shorthand is not a ticket).
_TICKET_CODE_RE = re.compile(
    r"(?<![\w-])[Tt](?:-(?P<short>\d{1,6})|(?P<long>\d{3,6}))" r"(?![\w/%]|[.,:-]\d)"
)
# New, random references: "T-7K4M9Q", "t7k4m9q", always letters and digits (the
# alphabet of bot.services.tickets.REFERENCE_ALPHABET: no 0/O, 1/I/L, U).
_TICKET_CODE_CHARS = "2-9A-HJKMNP-TV-Za-hjkmnp-tv-z"
_NEW_TICKET_CODE = (
    rf"(?=[{_TICKET_CODE_CHARS}]*\d)(?=[{_TICKET_CODE_CHARS}]*[A-Za-z])"
    rf"[{_TICKET_CODE_CHARS}]{{6}}(?![\w/%-])"
)
_NEW_TICKET_CODE_RE = re.compile(rf"(?<![\w-])[Tt]-?(?P<code>{_NEW_TICKET_CODE})")
# "ticket 7K4M9Q", "my reference is t-7k4m9q".
_TICKET_CUE_CODE_RE = re.compile(
    r"\b(?P<cue>ticket|case|reference|ref)s?\b\.?"
    r"(?:\s*(?:number|no\.?|num|nr|id|is|was)\b\.?)*"
    rf"\s*[:#]?\s*#?\s*(?:[Tt]-?)?(?P<code>{_NEW_TICKET_CODE})",
    re.IGNORECASE,
)
# "ticket 123", "ticket number 45", "case #12", "reference: 104257", "ref. 99".
_TICKET_CUE_RE = re.compile(
    r"\b(?P<cue>ticket|case|reference|ref)s?\b\.?"
    r"(?:\s*(?:number|no\.?|num|nr|id|is|was)\b\.?)*"
    r"\s*[:#]?\s*#?\s*"
    r"(?=\d)",
    re.IGNORECASE,
)
_WORD_BEFORE_RE = re.compile(r"([A-Za-z]+)\W*$")
_WORD_AFTER_RE = re.compile(r"\s*([A-Za-z%]+)")


@dataclass(frozen=True)
class FoundEntity:
    """One entity found in a message.

    Attributes:
        entity: Entity name: ``email``, ``phone``, ``order_number`` or
            ``ticket_reference``.
        value: The canonical value, e.g. ``+14155550134`` or ``T-000123``.
        start: Offset of the first character of the mention in the original text.
        end: Offset just past the last character of the mention.
        text: The mention as written, ``original_text[start:end]``.
    """

    entity: str
    value: str
    start: int
    end: int
    text: str


def extract(text: str, default_region: str = "US") -> list[FoundEntity]:
    """Finds emails, phones, order numbers and ticket references in a message.

    Args:
        text: The user's message, typed or transcribed from speech.
        default_region: ISO 3166 region used to read phone numbers written
            without a country code, e.g. ``"US"``.

    Returns:
        Non-overlapping entities ordered by their start offset.

    Raises:
        ValueError: If ``default_region`` is not a region ``phonenumbers`` knows.
    """
    region = default_region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"Unknown phone region: {default_region!r}")
    if not text or not text.strip():
        return []

    nlp, matcher = _pipeline()
    doc = nlp(text)
    matches = _matches_by_label(doc, matcher)

    candidates: list[FoundEntity] = []
    candidates.extend(_written_emails(doc, matches["WRITTEN_EMAIL"]))
    candidates.extend(_spoken_emails(doc, matches["SPOKEN_EMAIL_AT"]))
    candidates.extend(_written_tickets(text))
    candidates.extend(_written_phones(text, region))
    candidates.extend(_written_orders(text))
    ticket_cue_ends = {span.end for span in matches["TICKET_CUE"]}
    for run in matches["DIGIT_RUN"]:
        candidates.extend(_spoken_number(doc, run, ticket_cue_ends, region))
    return _without_overlaps(candidates)


# --- spaCy pipeline ---------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _pipeline() -> tuple[Language, Matcher]:
    """Builds the blank English tokenizer and the rule matcher (once).

    Returns:
        The spaCy pipeline and a ``Matcher`` with the labels ``DIGIT_RUN``,
        ``TICKET_CUE``, ``SPOKEN_EMAIL_AT`` and ``WRITTEN_EMAIL``.
    """
    nlp = spacy.blank("en")
    matcher = Matcher(nlp.vocab)
    spoken_digit = {"LOWER": {"IN": sorted(_DIGIT_WORDS.keys() | _MULTIPLIERS.keys())}}
    matcher.add("DIGIT_RUN", [[{**spoken_digit, "OP": "+"}]], greedy="LONGEST")
    matcher.add(
        "TICKET_CUE",
        [
            [
                {"LOWER": {"IN": sorted(_TICKET_CUES)}},
                {"LOWER": {"IN": sorted(_TICKET_FILLERS)}, "OP": "*"},
            ]
        ],
        greedy="LONGEST",
    )
    matcher.add(
        "SPOKEN_EMAIL_AT",
        [
            [
                {"LOWER": {"IN": sorted(_AT_WORDS)}},
                {"LOWER": {"REGEX": rf"^{_DOMAIN_PIECE_RE.pattern}$"}},
            ]
        ],
    )
    matcher.add("WRITTEN_EMAIL", [[{"LIKE_EMAIL": True}]])
    return nlp, matcher


def _matches_by_label(doc: Doc, matcher: Matcher) -> dict[str, list[Span]]:
    """Runs the matcher and groups its spans by label, left to right.

    Args:
        doc: The tokenised message.
        matcher: The matcher built by ``_pipeline``.

    Returns:
        A mapping from every matcher label to its (possibly empty) span list.
    """
    grouped: dict[str, list[Span]] = {
        "DIGIT_RUN": [],
        "TICKET_CUE": [],
        "SPOKEN_EMAIL_AT": [],
        "WRITTEN_EMAIL": [],
    }
    for span in matcher(doc, as_spans=True):
        grouped[span.label_].append(span)
    for spans in grouped.values():
        spans.sort(key=lambda span: span.start)
    return grouped


# --- emails -----------------------------------------------------------------------


def _written_emails(doc: Doc, spans: Iterable[Span]) -> Iterable[FoundEntity]:
    """Yields addresses spaCy tokenised as single email-like tokens.

    Args:
        doc: The tokenised message.
        spans: ``WRITTEN_EMAIL`` matches (one token each).

    Yields:
        ``email`` entities with lower-cased values.
    """
    for span in spans:
        value = span.text.lower().rstrip(".")
        if _EMAIL_SHAPE_RE.fullmatch(value):
            start = span.start_char
            yield _found(doc.text, EMAIL, value, start, start + len(value))


def _spoken_emails(doc: Doc, at_spans: Iterable[Span]) -> Iterable[FoundEntity]:
    """Yields spoken addresses such as ``jane dot doe at example dot com``.

    Each ``at <domain-piece>`` match is extended to the right over ``dot``/``dash``
    joined domain pieces and to the left over the local part: the word before
    ``at`` plus words joined to it by ``dot``/``underscore``/``dash`` and spelled
    single letters (``j o h n``).

    Args:
        doc: The tokenised message.
        at_spans: ``SPOKEN_EMAIL_AT`` matches.

    Yields:
        ``email`` entities whose value has an email's shape.
    """
    for at_span in at_spans:
        at_index = at_span.start
        domain = _spoken_domain(doc, at_index + 1)
        local = _spoken_local_part(doc, at_index - 1)
        if domain is None or local is None:
            continue
        domain_text, domain_end = domain
        local_text, local_start = local
        if not _plausible_spoken_email(doc, local_start, at_index, domain_text):
            continue
        value = f"{local_text}@{domain_text}"
        if _EMAIL_SHAPE_RE.fullmatch(value):
            start = doc[local_start].idx
            end = doc[domain_end - 1].idx + len(doc[domain_end - 1])
            yield _found(doc.text, EMAIL, value, start, end)


def _spoken_domain(doc: Doc, first: int) -> tuple[str, int] | None:
    """Reads ``example dot co dot uk`` starting at token ``first``.

    Args:
        doc: The tokenised message.
        first: Index of the first domain token.

    Returns:
        The written domain and the index just past its last token, or ``None`` if
        the tokens do not spell a domain with a dot and an alphabetic TLD.
    """
    pieces = [doc[first].lower_]
    end = first + 1
    while end + 1 < len(doc):
        connector = _DOMAIN_CONNECTORS.get(doc[end].lower_)
        piece = doc[end + 1].lower_
        if connector is None or not _DOMAIN_PIECE_RE.fullmatch(piece):
            break
        pieces.extend((connector, piece))
        end += 2
    domain = "".join(pieces)
    tld = domain.rsplit(".", 1)[-1]
    if "." not in domain or not (tld.isalpha() and len(tld) >= 2):
        return None
    return domain, end


def _spoken_local_part(doc: Doc, last: int) -> tuple[str, int] | None:
    """Reads the local part of a spoken address backwards from token ``last``.

    Args:
        doc: The tokenised message.
        last: Index of the token just before ``at``.

    Returns:
        The written local part and the index of its first token, or ``None``.
    """
    if last < 0 or not _is_local_piece(doc[last]):
        return None
    pieces = [doc[last].lower_]
    first = last
    while first > 0:
        before = doc[first - 1]
        connector = _LOCAL_CONNECTORS.get(before.lower_)
        if connector is not None and first > 1 and _is_local_piece(doc[first - 2]):
            pieces[:0] = [doc[first - 2].lower_, connector]
            first -= 2
        elif _is_spelled_char(doc[first]) and _is_spelled_char(before):
            pieces.insert(0, before.lower_)
            first -= 1
        else:
            break
    return "".join(pieces), first


def _is_local_piece(token: Token) -> bool:
    """Tells whether a token can be a word of an email's local part."""
    lower = token.lower_
    return (
        bool(_LOCAL_PIECE_RE.fullmatch(lower))
        and lower not in _AT_WORDS
        and lower not in _LOCAL_CONNECTORS
    )


def _is_spelled_char(token: Token) -> bool:
    """Tells whether a token is one spelled-out letter or digit (``j``, ``7``)."""
    return len(token) == 1 and token.text.isalnum()


def _plausible_spoken_email(
    doc: Doc, local_start: int, at_index: int, domain: str
) -> bool:
    """Guards against sentences like "I bought it at walmart dot com".

    A spelled or joined local part (``jane dot doe``, ``j o h n``) is always an
    address. A one-word local part counts only if it is not a stop word, the word
    before it is not another content word (``jane doe at ...`` is ambiguous), and
    the domain is a mailbox provider, an email cue word comes shortly before, or
    the address is (nearly) the whole message.

    Args:
        doc: The tokenised message.
        local_start: Index of the first token of the local part.
        at_index: Index of the ``at`` token.
        domain: The written domain.

    Returns:
        Whether the candidate should be reported as an email.
    """
    if at_index - local_start > 1:
        return True
    if doc[local_start].is_stop:
        return False
    if local_start > 0:
        before = doc[local_start - 1]
        if not (
            before.is_stop
            or before.is_punct
            or before.lower_ in _EMAIL_CUES
            or before.lower_ in _EMAIL_LEAD_INS
        ):
            # "jane doe at gmail dot com": which words form the address is unclear.
            return False
    if domain.split(".", 1)[0] in _MAIL_PROVIDERS:
        return True
    window = doc[max(0, local_start - 6) : local_start]
    if any(token.lower_ in _EMAIL_CUES for token in window):
        return True
    lead_in = doc[:local_start]
    return all(token.is_punct or token.lower_ in _EMAIL_LEAD_INS for token in lead_in)


# --- tickets ----------------------------------------------------------------------


def _ticket_value(digits: str) -> str:
    """Formats ticket digits as ``T-`` plus six zero-padded digits."""
    return f"T-{int(digits):0{TICKET_DIGITS}d}"


def _written_tickets(text: str) -> Iterable[FoundEntity]:
    """Yields ``T-7K4M9Q`` and ``T-000123`` codes and ``ticket 123``-style mentions.

    Args:
        text: The original message.

    Yields:
        ``ticket_reference`` entities; the span covers the code or the number.
    """
    for match in _TICKET_CODE_RE.finditer(text):
        digits = match.group("short") or match.group("long")
        yield _found(text, TICKET_REFERENCE, _ticket_value(digits), *match.span())
    for match in _NEW_TICKET_CODE_RE.finditer(text):
        code = match.group("code").upper()
        yield _found(text, TICKET_REFERENCE, f"T-{code}", *match.span())
    for match in _TICKET_CUE_CODE_RE.finditer(text):
        if not _cue_is_blocked(match.group("cue"), _word_before(text, match.start())):
            code = match.group("code").upper()
            yield _found(text, TICKET_REFERENCE, f"T-{code}", *match.span("code"))
    for match in _TICKET_CUE_RE.finditer(text):
        if _cue_is_blocked(match.group("cue"), _word_before(text, match.start())):
            continue
        chunk = _NUMBER_CHUNK_RE.match(text, match.end())
        if chunk is None or _followed_by_unit(text, chunk.end()):
            continue
        digits = re.sub(r"\D", "", chunk.group())
        if len(digits) <= TICKET_DIGITS:
            yield _found(text, TICKET_REFERENCE, _ticket_value(digits), *chunk.span())


def _cue_is_blocked(cue: str, word_before: str) -> bool:
    """Tells whether a ticket cue word is negated by the word before it.

    Args:
        cue: ``ticket``, ``case``, ``reference`` or ``ref`` (any case).
        word_before: The lower-cased word before the cue, or ``""``.

    Returns:
        ``True`` for e.g. "order reference" or "in case".
    """
    return cue.lower() in _CUE_BLOCKERS.get(word_before, set())


# --- phones -----------------------------------------------------------------------


def _acceptable_phone(number: phonenumbers.PhoneNumber) -> bool:
    """Keeps valid numbers and full-length possible ones (not local-only)."""
    if phonenumbers.is_valid_number(number):
        return True
    reason = phonenumbers.is_possible_number_with_reason(number)
    return bool(reason == phonenumbers.ValidationResult.IS_POSSIBLE)


def _e164(number: phonenumbers.PhoneNumber) -> str:
    """Formats a parsed number as E.164."""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _written_phones(text: str, region: str) -> Iterable[FoundEntity]:
    """Yields phone numbers written with digits, found by ``phonenumbers``.

    Args:
        text: The original message.
        region: Region for numbers without a country code.

    Yields:
        ``phone`` entities with E.164 values.
    """
    matches = phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.POSSIBLE
    )
    for match in matches:
        if _acceptable_phone(match.number):
            yield _found(text, PHONE, _e164(match.number), match.start, match.end)


def _parse_phone(digits: str, region: str) -> str | None:
    """Parses a digit string (optionally ``+``-prefixed) into E.164.

    Args:
        digits: E.g. ``"4155550134"`` or ``"+442079460958"``.
        region: Region for numbers without a country code.

    Returns:
        The E.164 number, or ``None`` if it is not an acceptable phone number.
    """
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    return _e164(number) if _acceptable_phone(number) else None


# --- order numbers ----------------------------------------------------------------


def _written_orders(text: str) -> Iterable[FoundEntity]:
    """Yields six-digit order numbers written with digits.

    A number chunk is either one ``104 257``/``104-257`` pair (the whole chunk) or
    a list of groups of which the six-digit ones are orders (``104257 108842``).
    Groups of other lengths (phones, dates, prices, counts) yield nothing.

    Args:
        text: The original message.

    Yields:
        ``order_number`` entities.
    """
    for chunk in _NUMBER_CHUNK_RE.finditer(text):
        if _followed_by_unit(text, chunk.end()):
            continue
        groups = list(_DIGIT_GROUP_RE.finditer(chunk.group()))
        offset = chunk.start()
        if [len(group.group()) for group in groups] == [3, 3]:
            value = groups[0].group() + groups[1].group()
            yield _found(text, ORDER_NUMBER, value, *chunk.span())
            continue
        for group in groups:
            if len(group.group()) == ORDER_DIGITS:
                start, end = offset + group.start(), offset + group.end()
                yield _found(text, ORDER_NUMBER, group.group(), start, end)


# --- spoken digit runs ------------------------------------------------------------


def _spoken_number(
    doc: Doc, run: Span, ticket_cue_ends: set[int], region: str
) -> list[FoundEntity]:
    """Classifies one maximal run of spoken digit words.

    After a ticket cue ("ticket number one two three") a run of up to six digits
    is a ticket; otherwise six digits are an order number and longer runs are
    tried as a phone number (with a ``+`` if the word ``plus`` comes first).

    Args:
        doc: The tokenised message.
        run: A ``DIGIT_RUN`` match.
        ticket_cue_ends: Token indices right after a ticket cue match.
        region: Region for phone numbers without a country code.

    Returns:
        At most one entity per well-formed part of the run.
    """
    found = []
    for start, end, digits in _split_digit_run(doc[run.start : run.end]):
        entity = _classify_spoken_digits(
            doc, start, end, digits, ticket_cue_ends, region
        )
        if entity is None and doc[start].lower_ in _INTERJECTION_ZEROS:
            # "oh one oh four two five seven": the first "oh" was an interjection.
            entity = _classify_spoken_digits(
                doc, start + 1, end, digits[1:], ticket_cue_ends, region
            )
        if entity is not None:
            found.append(entity)
    return found


def _split_digit_run(tokens: Span) -> list[tuple[int, int, str]]:
    """Turns digit words into digits, splitting at dangling multipliers.

    ``double five`` becomes ``55`` and ``triple oh`` ``000``; a ``double`` that is
    not followed by a digit word ends the current part.

    Args:
        tokens: Consecutive tokens that are digit words or multipliers.

    Returns:
        ``(first_token, end_token, digits)`` for every non-empty part, with
        document token indices.
    """
    parts: list[tuple[int, int, str]] = []
    digits: list[str] = []
    part_start = tokens.start
    index = tokens.start
    doc = tokens.doc

    def close(end: int) -> None:
        if digits:
            parts.append((part_start, end, "".join(digits)))
        digits.clear()

    while index < tokens.end:
        word = doc[index].lower_
        if word in _MULTIPLIERS:
            following = doc[index + 1].lower_ if index + 1 < tokens.end else ""
            if following in _DIGIT_WORDS:
                if not digits:
                    part_start = index
                digits.append(_DIGIT_WORDS[following] * _MULTIPLIERS[word])
                index += 2
                continue
            close(index)
            part_start = index + 1
        else:
            if not digits:
                part_start = index
            digits.append(_DIGIT_WORDS[word])
        index += 1
    close(tokens.end)
    return parts


def _classify_spoken_digits(
    doc: Doc,
    start: int,
    end: int,
    digits: str,
    ticket_cue_ends: set[int],
    region: str,
) -> FoundEntity | None:
    """Decides what a run of spoken digits is.

    Args:
        doc: The tokenised message.
        start: Index of the run's first token.
        end: Index just past the run's last token.
        digits: The digits the run spells.
        ticket_cue_ends: Token indices right after a ticket cue match.
        region: Region for phone numbers without a country code.

    Returns:
        The entity, or ``None`` if the run is too short, a quantity or unknown.
    """
    if not digits or start >= end:
        return None
    text = doc.text
    span_start = doc[start].idx
    span_end = doc[end - 1].idx + len(doc[end - 1])
    is_quantity = _followed_by_unit(text, span_end)
    if start in ticket_cue_ends and not is_quantity:
        cue_word = _ticket_cue_word(doc, start)
        word_before = doc[cue_word - 1].lower_ if cue_word > 0 else ""
        if len(digits) <= TICKET_DIGITS and not _cue_is_blocked(
            doc[cue_word].lower_, word_before
        ):
            value = _ticket_value(digits)
            return _found(text, TICKET_REFERENCE, value, span_start, span_end)
    if len(digits) == ORDER_DIGITS and not is_quantity:
        return _found(text, ORDER_NUMBER, digits, span_start, span_end)
    if len(digits) >= 7:
        plus = start > 0 and doc[start - 1].lower_ == "plus"
        phone = _parse_phone(("+" if plus else "") + digits, region)
        if phone is not None:
            if plus:
                span_start = doc[start - 1].idx
            return _found(text, PHONE, phone, span_start, span_end)
    return None


def _ticket_cue_word(doc: Doc, number_start: int) -> int:
    """Finds the cue word of a ticket mention by skipping fillers backwards."""
    index = number_start - 1
    while index > 0 and doc[index].lower_ in _TICKET_FILLERS:
        index -= 1
    return index


# --- helpers ----------------------------------------------------------------------


def _word_before(text: str, position: int) -> str:
    """Returns the lower-cased word ending before ``position``, or ``""``."""
    match = _WORD_BEFORE_RE.search(text, 0, position)
    return match.group(1).lower() if match else ""


def _followed_by_unit(text: str, position: int) -> bool:
    """Tells whether the word after ``position`` is a unit ("2 items", "5%")."""
    match = _WORD_AFTER_RE.match(text, position)
    return match is not None and match.group(1).lower() in _UNIT_WORDS


def _found(text: str, entity: str, value: str, start: int, end: int) -> FoundEntity:
    """Builds a ``FoundEntity`` whose ``text`` is the original mention."""
    return FoundEntity(entity, value, start, end, text[start:end])


def _without_overlaps(candidates: Sequence[FoundEntity]) -> list[FoundEntity]:
    """Keeps the strongest candidates so that no two entities overlap.

    Args:
        candidates: Possibly overlapping or duplicate candidates.

    Returns:
        The kept entities, ordered by start offset.
    """
    ranked = sorted(
        candidates,
        key=lambda c: (_PRIORITY[c.entity], -(c.end - c.start), c.start),
    )
    kept: list[FoundEntity] = []
    for candidate in ranked:
        if all(candidate.end <= k.start or k.end <= candidate.start for k in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda c: c.start)
