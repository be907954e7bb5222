"""What a customer's typed message may be, on every channel that takes typed text.

The web chat API and the REST channel refuse anything else with a message that
says why. SMS and the phone take whatever Twilio signed (Twilio's own limits apply).
"""

from __future__ import annotations

MAX_MESSAGE_LENGTH = 2000


class InvalidMessage(ValueError):
    """A message that cannot be taken; the text is safe to show the customer."""


def _has_surrogates(value: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in value)


def clean_message(text: str) -> str:
    """The message without surrounding white space, or InvalidMessage saying why.

    A NUL or a lone surrogate (JSON can carry both) cannot be stored in the
    database, so it is refused rather than dropped.
    """
    text = text.strip()
    if not text:
        raise InvalidMessage("Type a message before sending.")
    if "\x00" in text or _has_surrogates(text):
        raise InvalidMessage("The message contains characters that can't be stored.")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise InvalidMessage(
            f"Messages can be at most {MAX_MESSAGE_LENGTH} characters."
        )
    return text
