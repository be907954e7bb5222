"""What a customer's typed message may be (bot/services/customer_text.py)."""

from __future__ import annotations

import pytest

from bot.services.customer_text import MAX_MESSAGE_LENGTH, InvalidMessage, clean_message


def test_a_message_is_taken_without_surrounding_space() -> None:
    assert clean_message("  where is my order 😀\n") == "where is my order 😀"
    assert clean_message("x" * MAX_MESSAGE_LENGTH) == "x" * MAX_MESSAGE_LENGTH


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (" \t\n", "Type a message"),
        ("hi\x00there", "can't be stored"),
        ("hi \ud800", "can't be stored"),
        ("x" * (MAX_MESSAGE_LENGTH + 1), f"at most {MAX_MESSAGE_LENGTH} characters"),
    ],
)
def test_what_cannot_be_taken_says_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        clean_message(text)
