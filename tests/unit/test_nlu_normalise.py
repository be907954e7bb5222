"""Tests for the deterministic entity rules in bot.nlu.normalise."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from bot.nlu.normalise import FoundEntity, extract


def found(text: str) -> list[tuple[str, str]]:
    """Returns (entity, value) pairs found in ``text``."""
    return [(e.entity, e.value) for e in extract(text)]


def values_of(text: str, entity: str) -> list[str]:
    """Returns the values of one entity type found in ``text``."""
    return [e.value for e in extract(text) if e.entity == entity]


# --- emails -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jane.Doe@Example.com", "jane.doe@example.com"),
        ("jane@example.com", "jane@example.com"),
        ("email me at Jane.Doe@Example.com.", "jane.doe@example.com"),
        ("send it to Sam_Lee@Gmail.com, thanks", "sam_lee@gmail.com"),
        ("my address is jane+shop@mail.example.co.uk?", "jane+shop@mail.example.co.uk"),
        ("jane dot doe at example dot com", "jane.doe@example.com"),
        ("my email is jane dot doe at example dot com", "jane.doe@example.com"),
        ("my email is sam underscore lee at gmail dot com", "sam_lee@gmail.com"),
        ("j o h n at example dot com", "john@example.com"),
        ("it is j o h n dot s at example dot com", "john.s@example.com"),
        ("jane dash doe at my dash shop dot co dot uk", "jane-doe@my-shop.co.uk"),
        ("jane-doe at my-shop dot co dot uk", "jane-doe@my-shop.co.uk"),
        ("jane.doe at example.com", "jane.doe@example.com"),
        ("it's jane at example dot com", "jane@example.com"),
        ("my email address is jane at example dot com", "jane@example.com"),
        ("you can reach me on sam at gmail dot com", "sam@gmail.com"),
        ("JANE DOT DOE AT EXAMPLE DOT COM", "jane.doe@example.com"),
        ("sam99 at yahoo dot com", "sam99@yahoo.com"),
    ],
)
def test_email_is_found_and_normalised(text: str, expected: str) -> None:
    assert found(text) == [("email", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "I bought it at walmart dot com",
        "I shop at target dot com",
        "I am at home",
        "meet me at the store",
        "email me at gmail dot com",
        "i will be there at five",
        "jane@example",
        "@example.com",
        "my email is jane doe at gmail dot com",  # ambiguous: jane? doe? janedoe?
        "you can reach sam at gmail dot com",  # "reach sam" is as ambiguous
        "jane at example dot",
        "what is your email",
    ],
)
def test_not_an_email(text: str) -> None:
    assert values_of(text, "email") == []


def test_email_offsets_cover_spoken_mention() -> None:
    text = "hi my email is jane dot doe at example dot com thanks"
    (entity,) = extract(text)
    assert entity.text == "jane dot doe at example dot com"
    assert text[entity.start : entity.end] == entity.text


def test_email_trailing_full_stop_is_not_part_of_the_span() -> None:
    text = "Write to jane@example.com."
    (entity,) = extract(text)
    assert (entity.start, entity.end) == (9, 25)
    assert entity.text == "jane@example.com"


# --- phones -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1 415 555 0134", "+14155550134"),
        ("(415) 555-0134", "+14155550134"),
        ("call me on (415) 555-0134 please", "+14155550134"),
        ("415-555-0134", "+14155550134"),
        ("415.555.0134", "+14155550134"),
        ("4155550134", "+14155550134"),
        ("my number is 1 415 555 0134", "+14155550134"),
        ("1-800-555-0199", "+18005550199"),
        ("+44 20 7946 0958", "+442079460958"),
        ("four one five five five five zero one three four", "+14155550134"),
        ("four one five double five five oh one three four", "+14155550134"),
        ("four one five triple five oh one three four", "+14155550134"),
        ("one four one five five five five oh one three four", "+14155550134"),
        ("call me at four one five five five five zero one three four", "+14155550134"),
        (
            "plus four four two oh seven nine four six oh nine five eight",
            "+442079460958",
        ),
    ],
)
def test_phone_is_found_as_e164(text: str, expected: str) -> None:
    assert found(text) == [("phone", expected)]


def test_phone_uses_default_region() -> None:
    (entity,) = extract("020 7946 0958", default_region="GB")
    assert (entity.entity, entity.value) == ("phone", "+442079460958")
    (entity,) = extract("020 7946 0958", default_region="gb")
    assert entity.value == "+442079460958"


def test_unknown_region_is_rejected() -> None:
    with pytest.raises(ValueError, match="region"):
        extract("4155550134", default_region="XX")


@pytest.mark.parametrize(
    "text",
    [
        "call 555 0134",  # local-only number
        "12/05/2024",
        "$104.25",
        "four one five five",
        "one two three four five six seven",  # 7 spoken digits: no US number
        "12345678901234567",
    ],
)
def test_not_a_phone(text: str) -> None:
    assert values_of(text, "phone") == []


def test_phone_offsets_in_sentence() -> None:
    text = "my number is (415) 555-0134 and order 104257"
    assert extract(text) == [
        FoundEntity("phone", "+14155550134", 13, 27, "(415) 555-0134"),
        FoundEntity("order_number", "104257", 38, 44, "104257"),
    ]


# --- order numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("104257", "104257"),
        ("#104257", "104257"),
        ("order 104257", "104257"),
        ("order #104257, please", "104257"),
        ("ORDER#104257", "104257"),
        ("no. 104257", "104257"),
        ("order no.104257", "104257"),
        ("order 104 257", "104257"),
        ("order 104-257 please", "104257"),
        ("order: 108842.", "108842"),
        ("one oh four two five seven", "104257"),
        ("one zero four two five seven", "104257"),
        ("ONE OH FOUR TWO FIVE SEVEN", "104257"),
        ("oh one oh four two five seven", "104257"),
        ("one double oh three one eight", "100318"),
        ("one oh eight eight four two", "108842"),
        ("my order is one oh four two five seven thanks", "104257"),
        ("double check order one oh four two five seven", "104257"),
        ("order reference 104257", "104257"),
    ],
)
def test_order_number(text: str, expected: str) -> None:
    assert found(text) == [("order_number", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "12/05/2024",
        "on 12/05/2024 I paid $104.25",
        "$104.25",
        "$104257",
        "2 items",
        "I ordered 2 items two days ago",
        "1042571",
        "12345678901234",
        "10425",
        "104,257 dollars",
        "104.257",
        "104257 dollars",
        "104257th",
        "A104257",
        "ABC-104257",
        "order 104257/108842",
        "2024-05-12 at 10:30",
        "my zip is 94107",
        "one two three",
        "one oh four two five seven eight",
        "104 2571",
    ],
)
def test_not_an_order_number(text: str) -> None:
    assert values_of(text, "order_number") == []


def test_order_inside_phone_is_not_an_order() -> None:
    assert found("+1 415 104 2570") == [("phone", "+14151042570")]
    assert values_of("4151042570", "order_number") == []


def test_several_order_numbers() -> None:
    text = "orders 104257 108842 and 100318"
    assert values_of(text, "order_number") == ["104257", "108842", "100318"]


def test_order_in_long_rambling_sentence_has_right_offsets() -> None:
    text = (
        "hi there so basically I placed an order last week for 2 items and it was "
        "supposed to arrive yesterday but it still has not come, I paid $104.25 on "
        "12/05/2024 and the order number is 104257 can you please check what is "
        "going on"
    )
    (entity,) = extract(text)
    assert entity.entity == "order_number"
    assert entity.value == "104257"
    assert entity.start == text.index("104257")
    assert entity.end == entity.start + 6
    assert text[entity.start : entity.end] == "104257"


def test_spoken_order_offsets_in_sentence() -> None:
    text = "yeah so my order is one oh four two five seven and it is late"
    (entity,) = extract(text)
    assert entity.text == "one oh four two five seven"
    assert entity.start == text.index("one oh")
    assert entity.end == text.index(" and")


def test_spaced_order_span_covers_both_groups() -> None:
    text = "order 104 257"
    (entity,) = extract(text)
    assert (entity.start, entity.end, entity.text) == (6, 13, "104 257")


# --- ticket references ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("T-000123", "T-000123"),
        ("t-000123", "T-000123"),
        ("T000123", "T-000123"),
        ("t000123", "T-000123"),
        ("t-123", "T-000123"),
        ("ticket T-000123", "T-000123"),
        ("ticket 123", "T-000123"),
        ("Ticket #123", "T-000123"),
        ("ticket:123", "T-000123"),
        ("ticket number 45", "T-000045"),
        ("my ticket number is 45", "T-000045"),
        ("case 77", "T-000077"),
        ("case no. 77", "T-000077"),
        ("ref. 99", "T-000099"),
        ("reference 104257", "T-104257"),
        ("my case reference is 123", "T-000123"),
        ("ticket one two three", "T-000123"),
        ("my ticket number is one two three", "T-000123"),
        ("case number one oh four two five seven", "T-104257"),
        ("ticket double oh seven", "T-000007"),
        ("T-7K4M9Q", "T-7K4M9Q"),
        ("t-7k4m9q", "T-7K4M9Q"),
        ("T7K4M9Q", "T-7K4M9Q"),
        ("what's the status of ticket T-7K4M9Q?", "T-7K4M9Q"),
        ("ticket 7K4M9Q", "T-7K4M9Q"),
        ("my reference is xb9q2z", "T-XB9Q2Z"),
        ("case number: 22222a", "T-22222A"),
    ],
)
def test_ticket_reference(text: str, expected: str) -> None:
    assert found(text) == [("ticket_reference", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "I opened a ticket 2 days ago",
        "in case 2 items are missing",
        "just in case 123",
        "ticket 1234567",
        "T-1234567",
        "t2",
        "t-shirt size 10",
        "order reference 104257",
        "I need a ticket",
        "T-ABCDEF",
        "T-7K4M9O",
        "T-7K4M9QX",
        "ticket abcdef",
        "order reference 7K4M9Q",
    ],
)
def test_not_a_ticket(text: str) -> None:
    assert values_of(text, "ticket_reference") == []


def test_new_reference_alphabet_is_the_tickets_one() -> None:
    from bot.services.tickets import new_reference

    references = [new_reference() for _ in range(300)]
    assert [values_of(r, "ticket_reference") for r in references] == [
        [r] for r in references
    ]


def test_ticket_number_span_is_the_number() -> None:
    text = "about ticket number 45 please"
    (entity,) = extract(text)
    assert (entity.start, entity.end, entity.text) == (20, 22, "45")


# --- mixed and overlap ------------------------------------------------------------


def test_ticket_wins_over_order_on_same_digits() -> None:
    assert found("ticket 104257") == [("ticket_reference", "T-104257")]


def test_email_wins_over_phone_inside_it() -> None:
    assert found("4155550134@txt.example.net") == [
        ("email", "4155550134@txt.example.net")
    ]


def test_all_entity_types_in_one_message() -> None:
    text = (
        "Hi, I'm Maria: order #104257, ticket T-000123, "
        "email maria.lopez@example.com, phone (415) 555-0134."
    )
    assert found(text) == [
        ("order_number", "104257"),
        ("ticket_reference", "T-000123"),
        ("email", "maria.lopez@example.com"),
        ("phone", "+14155550134"),
    ]


def test_spoken_everything() -> None:
    text = (
        "my order is one oh four two five seven my email is jane dot doe at "
        "example dot com and my number is four one five five five five zero one "
        "three four"
    )
    assert found(text) == [
        ("order_number", "104257"),
        ("email", "jane.doe@example.com"),
        ("phone", "+14155550134"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "where is my order",
        "I want one",
        "oh no",
        "double double",
        "I'd like to return 2 items that cost $49.99 each",
        "my birthday is 12/05/1990",
        "it arrived on 2024-05-12 at 10:30",
        "I was charged 3 times, 100% sure",
    ],
)
def test_nothing_found(text: str) -> None:
    assert extract(text) == []


def test_results_never_overlap_and_offsets_match_text() -> None:
    text = (
        "ticket 104257 order 108842 call 415 555 0134 or four one five five five "
        "five zero one three four mail j o h n at example dot com ref 12"
    )
    entities = extract(text)
    for first, second in itertools.pairwise(entities):
        assert first.end <= second.start
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text
    assert [e.entity for e in entities] == [
        "ticket_reference",
        "order_number",
        "phone",
        "phone",
        "email",
        "ticket_reference",
    ]


def test_found_entity_is_frozen() -> None:
    entity = FoundEntity("order_number", "104257", 0, 6, "104257")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entity.value = "000000"  # type: ignore[misc]
