import pytest

from channels.common import plain_text
from channels.sms import (
    SEGMENT_LIMIT,
    _build_messaging_response,
    sms_conversation_id,
    sms_limit,
    sms_texts,
    split_for_sms,
)


def test_short_text_is_one_message() -> None:
    assert split_for_sms("Your order shipped.") == ["Your order shipped."]


def test_long_text_splits_at_sentence_ends() -> None:
    sentence = "This sentence is about forty characters. "
    chunks = split_for_sms(sentence * 20)
    assert len(chunks) > 1
    assert all(len(c) <= SEGMENT_LIMIT for c in chunks)
    assert all(c.endswith(".") for c in chunks)
    assert " ".join(chunks) == (sentence * 20).strip()


def test_paragraphs_stay_separate_and_huge_words_are_cut() -> None:
    assert split_for_sms("First.\n\nSecond.") == ["First.", "Second."]
    chunks = split_for_sms("x" * 700)
    assert [len(c) for c in chunks] == [306, 306, 88]


@pytest.mark.parametrize(
    ("text", "limit"),
    [("plain ascii text", 306), ("with {braces}", 304), ("Zoë’s order", 134)],
)
def test_two_segments_depend_on_the_encoding(text: str, limit: int) -> None:
    assert sms_limit(text) == limit


def test_unicode_text_is_split_into_ucs2_sized_parts() -> None:
    chunks = split_for_sms("Zoë’s parcel is on its way. " * 10)
    assert all(len(c) <= 134 for c in chunks)


def test_sms_conversation_ids_are_keyed() -> None:
    first = sms_conversation_id("+14155550134", "secret-a")
    assert first == sms_conversation_id("+14155550134", "secret-a")
    assert first != sms_conversation_id("+14155550134", "secret-b")
    assert "4155550134" not in first and first.startswith("sms-")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("**Returns** are free 😀", "Returns are free"),
     ("Track it [here](https://ups.com/t?1)", "Track it here: https://ups.com/t?1"),
     ("use _any_ card ✅", "use any card"),
     # TwiML is XML 1.0: a name typed with a control character must not break it.
     ("Thanks, Ann\x1b\x00!\tBye\r\n", "Thanks, Ann! Bye")],
)  # fmt: skip
def test_plain_text_for_sms(text: str, expected: str) -> None:
    assert plain_text(text) == expected


def test_buttons_become_numbered_choices() -> None:
    messages = [
        {"recipient_id": "x", "text": "Shall I cancel it?",
         "buttons": [{"title": "Yes, cancel it", "payload": "/affirm"},
                     {"title": "No, keep it", "payload": "/deny"}]},
    ]  # fmt: skip
    assert sms_texts(messages) == [
        "Shall I cancel it?",
        "Reply 1 for Yes, cancel it; 2 for No, keep it.",
    ]


def test_twiml_has_one_message_per_body() -> None:
    assert _build_messaging_response(["a & b", "c"]) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        "<Message>a &amp; b</Message><Message>c</Message></Response>"
    )
    assert _build_messaging_response([]) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response />'
    )
