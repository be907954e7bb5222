import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.services.hours import OpeningHours, describe_opening

NY = ZoneInfo("America/New_York")
HOURS = OpeningHours.parse("mon-fri 08:00-20:00; sat 09:00-17:00", "America/New_York")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in New York in the week of Monday 2026-11-16."""
    return dt.datetime(2026, 11, 16 + day, hour, minute, tzinfo=NY)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [(at(0, 8), True), (at(0, 7, 59), False), (at(4, 19, 59), True), (at(4, 20), False),
     (at(5, 10), True), (at(6, 12), False)],
)  # fmt: skip
def test_is_open(moment: dt.datetime, is_open: bool) -> None:
    assert HOURS.is_open(moment) is is_open


def test_is_open_in_another_time_zone() -> None:
    assert HOURS.is_open(dt.datetime(2026, 11, 16, 13, 30, tzinfo=dt.timezone.utc))
    assert not HOURS.is_open(dt.datetime(2026, 11, 16, 12, 30, tzinfo=dt.timezone.utc))


@pytest.mark.parametrize(
    ("moment", "expected", "words"),
    [(at(0, 6), at(0, 8), "today at 8 am"),
     (at(4, 21), at(5, 9), "tomorrow at 9 am"),
     (at(5, 18), at(7, 8), "on Monday at 8 am")],
)  # fmt: skip
def test_next_opening(moment: dt.datetime, expected: dt.datetime, words: str) -> None:
    opening = HOURS.next_opening(moment)
    assert opening == expected
    assert describe_opening(opening, moment) == words


def test_open_now_is_now() -> None:
    assert HOURS.next_opening(at(1, 12)) == at(1, 12)


def test_half_hours() -> None:
    hours = OpeningHours.parse("sun 09:30-12:00", "America/New_York")
    opening = hours.next_opening(at(5, 12))
    assert (
        opening is not None
        and describe_opening(opening, at(5, 12)) == "tomorrow at 9:30 am"
    )


@pytest.mark.parametrize(
    "text", ["mon-fri 8-20", "funday 08:00-10:00", "mon 10:00-09:00"]
)
def test_unreadable_hours_are_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="opening hours"):
        OpeningHours.parse(text, "America/New_York")
