"""Parsing and normalising customer contact details (email, phone)."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email


class InvalidContact(ValueError):
    """A contact detail that cannot be accepted; the message is safe to show."""


def normalise_email(raw: str) -> str:
    """Return the normalised email address or raise InvalidContact."""
    try:
        # No DNS lookups: the machines may be offline, and a typo'd domain is
        # caught by the confirmation step instead.
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidContact(str(exc)) from exc
    return result.normalized.lower()


def normalise_phone(raw: str, region: str = "US") -> str:
    """Return the phone number in E.164 form or raise InvalidContact."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidContact("That doesn't look like a phone number.") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact("That phone number isn't valid.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalise_phone(raw: str | None, region: str = "US") -> str | None:
    """Like normalise_phone, but None for missing or invalid input."""
    if not raw:
        return None
    try:
        return normalise_phone(raw, region)
    except InvalidContact:
        return None
