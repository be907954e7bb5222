"""The Insights tables: shared by the page, its CSV exports and the terminal."""

from __future__ import annotations

import datetime as dt

from bot.insights import tables
from bot.insights.tables import Table
from bot.services import insights

DAY = dt.date(2026, 11, 20)


def test_cells_for_people() -> None:
    assert tables.show(None) == "—"
    assert tables.show(0.4567, is_rate=True) == "46%"
    assert tables.show(3.714) == "3.71"
    assert tables.show(12) == "12"


def test_a_table_in_the_terminal() -> None:
    table = Table("x", "Fallbacks", ("channel", "rate"), [("sms", 0.25), ("web", None)],
                  frozenset({1}))  # fmt: skip
    assert tables.as_text(table) == (
        "Fallbacks\n---------\nchannel  rate\nsms      25%\nweb      —"
    )
    empty = Table("y", "Nothing", ("a",), [])
    assert tables.as_text(empty).endswith("(nothing in this range)")


def test_every_day_of_the_range_has_a_row() -> None:
    report = insights.Report(
        filters=insights.Filters(DAY - dt.timedelta(days=2), DAY),
        generated_at=dt.datetime(2026, 11, 20, 17, tzinfo=dt.timezone.utc),
        totals=insights.Totals(0, {}, 0, 0, 0, 0, 0, 0),
        days=[insights.DayRow(DAY, "sms", {"contained": 2, "handed_off": 1})],
        intents=[], funnels=[], handoff_reasons={}, channels=[], unanswered=[],
        csat=insights.Csat(0, 0, None, 0), segments=[],
    )  # fmt: skip
    per_day = tables.per_day(report)
    assert per_day.columns == ("day", "sms", "total")
    assert per_day.rows == [
        ("2026-11-18", 0, 0),
        ("2026-11-19", 0, 0),
        ("2026-11-20", 3, 3),
    ]
    rates = tables.rates_per_day(report)
    assert rates.rows[0] == ("2026-11-18", 0, 0, 0, None, None)
    assert rates.rows[2][4:] == (2 / 3, 1 / 3)
    data = tables.as_json(report, [per_day])
    assert data["from"] == "2026-11-18" and data["channel"] is None
    assert data["tables"]["conversations"]["rows"][2] == {
        "day": "2026-11-20", "sms": 3, "total": 3,
    }  # fmt: skip
