"""Quiet hours: local times when no proactive text goes out (it waits for morning).

Written `21:00-08:00` (QUIET_HOURS), read in the customer's time zone, else the
shop's. A window may cross midnight; an empty setting means no quiet hours.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def zone(name: str | None, fallback: str) -> ZoneInfo:
    """The IANA zone `name`, or `fallback` when it is unset or unknown."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def is_zone(name: str) -> bool:
    """True when `name` is a time zone this machine knows (America/New_York)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class QuietHours:
    """From `start` to `end`, local time (crossing midnight when start > end)."""

    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """`21:00-08:00`, or None for an empty setting; ValueError otherwise."""
        if not text.strip():
            return None
        match = _WINDOW.match(text.strip())
        try:
            if match is None:
                raise ValueError
            h1, m1, h2, m2 = (int(part) for part in match.groups())
            window = cls(dt.time(h1, m1), dt.time(h2, m2))
        except ValueError as exc:
            raise ValueError(
                f"QUIET_HOURS must be like 21:00-08:00 (or empty), got {text!r}"
            ) from exc
        if window.start == window.end:
            raise ValueError("QUIET_HOURS must not start and end at the same time")
        return window

    def contains(self, local: dt.time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def not_before(self, moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
        """`moment`, or the end of the quiet hours it falls in (UTC)."""
        local = moment.astimezone(tz)
        if not self.contains(local.time()):
            return moment
        day = local.date()
        if local.time() >= self.end:  # before midnight: the morning is tomorrow
            day += dt.timedelta(days=1)
        morning = dt.datetime.combine(day, self.end, tzinfo=tz)
        return morning.astimezone(dt.timezone.utc)
