"""Speech on the phone: digits, numbers, yes and no (channels/voice/speech.py)."""

from __future__ import annotations

import pytest

from channels.voice.speech import (
    choices_prompt,
    clean_digits,
    confirmation,
    heard_number,
    is_ascii_digits,
    speakable,
    spell_digits,
    spell_identifiers,
    spoken_key,
    wants_repeat,
)

# --- speech --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "spoken"),
    [
        ("104257", "1 0 4 2 5 7"),
        ("4155550134", "4 1 5, 5 5 5, 0 1 3 4"),
        ("14155550134", "4 1 5, 5 5 5, 0 1 3 4"),
        ("+14155550134", "4 1 5, 5 5 5, 0 1 3 4"),
        ("42", "4 2"),
        ("4²2٣", "4 2"),  # "²".isdigit() and "٣".isdigit() are True
    ],
)
def test_readback_reads_digit_by_digit(digits: str, spoken: str) -> None:
    assert spell_digits(digits) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        (
            "**Done**: order 104257 is cancelled. 🎉",
            "Done: order 1 0 4 2 5 7 is cancelled.",
        ),
        ("[Track it](https://ups.com/t?n=1) now", "Track it now."),
        (
            "You can reset your password here: https://shop.example/reset. We'll email you.",
            "You can reset your password here. We'll email you.",
        ),
        (
            "Reset the password (https://shop.example/reset) or check your spam folder.",
            "Reset the password or check your spam folder.",
        ),
        ("Returns\nYou have 30 days.", "Returns. You have 30 days."),
        (
            "We accept:\n- Visa\n- Mastercard\n- PayPal\n- Apple Pay\n- Google Pay",
            "We accept: Visa, Mastercard, PayPal, and 2 more.",
        ),
        ("Pick one:\n1. Red\n2. Blue", "Pick one: Red and Blue."),
        (
            "Your reference is T-000012. Call +14155550134 if needed.",
            "Your reference is T 0 0 0 0 1 2. Call 4 1 5, 5 5 5, 0 1 3 4 if needed.",
        ),
    ],
)
def test_speakable(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


def test_long_answers_keep_their_first_sentences_and_closing_question() -> None:
    sentence = "This sentence is about fifty characters long, more or less."
    text = " ".join([sentence] * 10) + " Anything else?"
    spoken = speakable(text)
    assert len(spoken) <= 300
    assert spoken.startswith(sentence) and spoken.endswith(" Anything else?")
    one_long_sentence = "word " * 100
    assert len(speakable(one_long_sentence)) <= 300
    assert speakable(one_long_sentence).endswith("word.")


def test_identifiers_only_when_they_stand_alone() -> None:
    assert spell_identifiers("order 104257.") == "order 1 0 4 2 5 7."
    assert spell_identifiers("1234567, $104257 and 104257.50") == (
        "1234567, $104257 and 104257.50"
    )


def test_ticket_references_are_read_character_by_character() -> None:
    assert spell_identifiers("Your reference is T-7K4M9Q.") == (
        "Your reference is T 7 K 4 M 9 Q."
    )
    assert spell_identifiers("ticket T-000123") == "ticket T 0 0 0 1 2 3"


def test_choices_become_keys() -> None:
    assert choices_prompt(["Yes, please", "No, thanks."]) == (
        "Press 1 for Yes, please. Press 2 for No, thanks."
    )
    assert choices_prompt([f"option {i}" for i in range(12)]).count("Press") == 9


@pytest.mark.parametrize(
    ("speech", "key"),
    [("One.", "1"), ("option 2", "2"), ("press three", "3"), ("zero", "0"),
     ("7", "7"), ("Two.", "2"), ("four", "4"), ("one two", None), ("hello", None),
     ("", None),
     # Not digits on their own: an interjection, and words that merely sound alike.
     ("Oh.", None), ("o", None), ("to", None), ("too", None), ("for", None),
     ("option for", None),
     # Digits that aren't ASCII.
     ("²", None), ("٣", None), ("option ²", None)],
)  # fmt: skip
def test_spoken_key(speech: str, key: str | None) -> None:
    assert spoken_key(speech) == key


def test_oh_is_a_zero_only_inside_a_number() -> None:
    heard = heard_number("one oh four two five seven")
    assert heard is not None and heard.text == "104257"
    assert spoken_key("oh") is None


@pytest.mark.parametrize(
    ("text", "digits"), [("7", True), ("104257", True), ("²", False), ("٣", False),
                         ("1²", False), ("", False), ("*", False)],
)  # fmt: skip
def test_only_ascii_digits_are_digits(text: str, digits: bool) -> None:
    assert is_ascii_digits(text) is digits


@pytest.mark.parametrize(
    ("keyed", "digits"),
    [("104257", "104257"), ("1042*57", "104257"), ("10#42*5", "10425"),
     ("*", "*"), ("**", ""), ("*#", "*"), ("#", ""), ("", ""), ("1²3", "13")],
)  # fmt: skip
def test_keyed_digits(keyed: str, digits: str) -> None:
    """A "*" is a key of its own (repeat), never part of a number."""
    assert clean_digits(keyed) == digits


def test_confirmation_and_repeat() -> None:
    assert confirmation("Yes, that's right.") is True
    assert confirmation("That's right") is True
    assert confirmation("No.") is False
    assert confirmation("where is my order") is None
    assert wants_repeat("Can you repeat that?") and not wants_repeat("repeat my order")


@pytest.mark.parametrize(
    ("speech", "text", "spoken"),
    [
        ("one oh four two five seven", "104257", "1 0 4 2 5 7"),
        ("1 0 4 2 5 7", "104257", "1 0 4 2 5 7"),
        ("My order number is 104257.", "My order number is 104257.", "1 0 4 2 5 7"),
        ("it's 415 555 0134", "it's +14155550134", "4 1 5, 5 5 5, 0 1 3 4"),
    ],
)
def test_heard_number(speech: str, text: str, spoken: str) -> None:
    heard = heard_number(speech)
    assert heard is not None and (heard.text, heard.spoken) == (text, spoken)


@pytest.mark.parametrize(
    "speech",
    ["my lamp from order 104257 arrived broken", "yes", "104257 or 108842", ""],
)
def test_not_a_number_to_read_back(speech: str) -> None:
    assert heard_number(speech) is None
