"""Opening hours of the support team: open now? back when?

Written like `mon-fri 08:00-20:00; sat 09:00-17:00` (the help-centre article's hours),
in the shop's time zone (`SWITCHBOARD_TIMEZONE`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.settings import Settings

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<open>\d{1,2}:\d{2})-(?P<close>\d{1,2}:\d{2})$"
)


@dataclass(frozen=True)
class OpeningHours:
    """Weekly opening hours: for each weekday (0 = Monday), (opens, closes) or None."""

    week: tuple[tuple[dt.time, dt.time] | None, ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, timezone: str) -> OpeningHours:
        """Parse `mon-fri 08:00-20:00; sat 09:00-17:00`; ValueError names the bad part."""
        week: list[tuple[dt.time, dt.time] | None] = [None] * 7
        for part in filter(None, (p.strip().lower() for p in text.split(";"))):
            match = _RULE.match(part)
            if (
                not match
                or match["first"] not in DAYS
                or (match["last"] and match["last"] not in DAYS)
            ):
                raise ValueError(f"opening hours: cannot read {part!r}")
            opens = dt.time.fromisoformat(match["open"].zfill(5))
            closes = dt.time.fromisoformat(match["close"].zfill(5))
            if closes <= opens:
                raise ValueError(f"opening hours: {part!r} closes before it opens")
            first = DAYS.index(match["first"])
            last = DAYS.index(match["last"] or match["first"])
            for day in range(first, last + 1):
                week[day] = (opens, closes)
        return cls(week=tuple(week), zone=ZoneInfo(timezone))

    @classmethod
    def from_settings(cls, settings: Settings) -> OpeningHours:
        """The team's hours; a ValueError naming OPENING_HOURS if they can't be read."""
        try:
            return cls.parse(settings.opening_hours, settings.timezone)
        except ValueError as exc:
            raise ValueError(f"OPENING_HOURS: {exc}") from exc
        except LookupError as exc:  # ZoneInfoNotFoundError
            raise ValueError(
                f"SWITCHBOARD_TIMEZONE {settings.timezone!r} is not a time zone"
            ) from exc

    def is_open(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.zone)
        hours = self.week[local.weekday()]
        return hours is not None and hours[0] <= local.time() < hours[1]

    def next_opening(self, now: dt.datetime) -> dt.datetime | None:
        """When the team is next available (now, if open); None if never open."""
        if self.is_open(now):
            return now
        local = now.astimezone(self.zone)
        for offset in range(8):
            day = local.date() + dt.timedelta(days=offset)
            hours = self.week[day.weekday()]
            if hours is None:
                continue
            opening = dt.datetime.combine(day, hours[0], tzinfo=self.zone)
            if opening > local:
                return opening
        return None


def describe_opening(opening: dt.datetime, now: dt.datetime) -> str:
    """When it opens, in words: "today at 8 am", "on Monday at 8 am"."""
    local_now = now.astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    day = "today" if days == 0 else "tomorrow" if days == 1 else f"on {opening:%A}"
    hour = opening.strftime("%I").lstrip("0")
    minutes = "" if opening.minute == 0 else f":{opening:%M}"
    return f"{day} at {hour}{minutes} {opening:%p}".replace("AM", "am").replace(
        "PM", "pm"
    )
