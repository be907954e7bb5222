"""The current time, from one place, so that tests can set it.

Production code reads `now()`; a test (or a replay tool) fixes it with `use_clock`.
Services that compute with time also take an explicit `now=` argument; this is where
their callers get it from.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The machine's clock, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


_clock: Clock = system_clock


def now() -> dt.datetime:
    """The current moment (UTC) by the clock in use."""
    return _clock()


def today(timezone: str) -> dt.date:
    """Today's date in `timezone` (an IANA name) by the clock in use."""
    return now().astimezone(ZoneInfo(timezone)).date()


def use_clock(clock: Clock | None) -> None:
    """Read time from `clock` from now on; None restores the system clock."""
    global _clock
    _clock = clock or system_clock


def fixed(moment: dt.datetime) -> Clock:
    """A clock that always says `moment` (which must be timezone-aware)."""
    if moment.tzinfo is None:
        raise ValueError("a fixed clock needs a timezone-aware moment")
    return lambda: moment


def ticking_from(moment: dt.datetime) -> Clock:
    """A clock that starts at `moment` and runs at the machine's pace from there.

    Tests use it: the date is fixed, while the order of events stays that of real
    time.
    """
    if moment.tzinfo is None:
        raise ValueError("a clock needs a timezone-aware moment")
    started = time.monotonic()
    return lambda: moment + dt.timedelta(seconds=time.monotonic() - started)


@contextmanager
def frozen_at(moment: dt.datetime) -> Iterator[None]:
    """Within the block, the clock says `moment`."""
    previous = _clock
    use_clock(fixed(moment))
    try:
        yield
    finally:
        use_clock(previous)
