"""Durations in words."""

from __future__ import annotations

import datetime as dt

from bot.durations import describe_duration

H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)


def test_describe_duration() -> None:
    assert [
        describe_duration(d)
        for d in (30 * dt.timedelta(seconds=1), 45 * MIN, 2 * H, 2 * H + 5 * MIN,
                  dt.timedelta(days=3, hours=4), dt.timedelta(days=2))
    ] == ["0 min", "45 min", "2 h", "2 h 5 min", "3 d 4 h", "2 d"]  # fmt: skip
