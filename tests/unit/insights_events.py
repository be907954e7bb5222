"""The insights tests' events: `Script` (benchmarks/insights_traffic.py) at START.

Conversations start at noon in New York on the suite's day, and channels vouch
for customers with the suite's SECRET_KEY.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from benchmarks import insights_traffic
from bot.insights.events import Context

SECRET = "test-secret"
CONTEXT = Context(secret=SECRET, timezone=ZoneInfo("America/New_York"))
START = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.timezone.utc)  # noon in New York


@dataclass
class Script(insights_traffic.Script):
    """A conversation starting at START, its identities signed with SECRET."""

    at: dt.datetime = START
    secret: str = SECRET
