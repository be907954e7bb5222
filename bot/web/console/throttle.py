"""Failed sign-ins counted per email, in memory (one web worker: bot/launch.py)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque


class LoginThrottle:
    """Failed sign-ins per email in a sliding window (per process, no database)."""

    def __init__(self, max_failures: int, window: float, max_emails: int = 10_000):
        self.max_failures = max_failures
        self.window = window
        self.max_emails = max_emails
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, email: str, now: float) -> deque[float]:
        times = self._failures.get(email, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def wait(self, email: str, now: float | None = None) -> float:
        """Seconds before `email` may try again (0 when it may now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(email, now)
            if len(times) < self.max_failures:
                return 0.0
            return max(self.window - (now - times[0]), 0.0)

    def failed(self, email: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(email, now)
            times.append(now)
            self._failures[email] = times
            self._failures.move_to_end(email)
            while len(self._failures) > self.max_emails:
                self._failures.popitem(last=False)

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._failures.pop(email, None)
