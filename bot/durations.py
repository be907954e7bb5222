"""Durations in the words the team reads: "45 min", "2 h 5 min", "3 d 4 h".

Shared by the priority reasons stored with tickets (bot/services/priority.py) and the
console's `duration` filter (bot/web/console), so both say a wait the same way.
"""

from __future__ import annotations

import datetime as dt


def describe_duration(delta: dt.timedelta) -> str:
    """The duration in words: "45 min", "2 h 5 min", "3 d 4 h" (never negative)."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"
