"""Sign-in attempts limited per email and per client address, in memory.

In memory is enough: the web app runs as one worker (bot/launch.py).

An attempt is counted before its password is checked, under the lock, so guesses
sent in parallel cannot all slip past the limit while the first ones are still
hashing. A successful sign-in takes its attempt back and clears the email's
failures, but not the address's earlier ones: signing in to one's own account must
not reset the count of someone guessing other accounts from the same address.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

EMAIL = "email"
CLIENT = "client"


@dataclass(frozen=True)
class Attempt:
    """A counted sign-in attempt: give it back with `LoginThrottle.succeeded`."""

    email: str
    client: str
    at: float


@dataclass(frozen=True)
class Refused:
    """Too many failures for `kind` (EMAIL or CLIENT): wait `wait` seconds."""

    kind: str
    wait: float


class LoginThrottle:
    """Sign-in attempts per email and per client address in a sliding window."""

    def __init__(
        self, per_email: int, per_client: int, window: float, max_keys: int = 10_000
    ) -> None:
        self.limits = {EMAIL: per_email, CLIENT: per_client}
        self.window = window
        self.max_keys = max_keys
        self._times: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._times.get(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def _wait(self, key: tuple[str, str], now: float) -> float:
        times = self._recent(key, now)
        if len(times) < self.limits[key[0]]:
            return 0.0
        return max(self.window - (now - times[0]), 0.0)

    def attempt(
        self, email: str, client: str, now: float | None = None
    ) -> Attempt | Refused:
        """Count an attempt for both keys, or refuse it (and count nothing)."""
        now = time.monotonic() if now is None else now
        keys = ((CLIENT, client), (EMAIL, email))
        with self._lock:
            for key in keys:
                wait = self._wait(key, now)
                if wait > 0:
                    return Refused(key[0], wait)
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                self._times[key] = times
                self._times.move_to_end(key)
            while len(self._times) > self.max_keys:
                self._times.popitem(last=False)
        return Attempt(email, client, now)

    def succeeded(self, attempt: Attempt) -> None:
        """The attempt signed in: it is not a failure, and the email starts afresh."""
        with self._lock:
            self._times.pop((EMAIL, attempt.email), None)
            times = self._times.get((CLIENT, attempt.client))
            if times is not None and attempt.at in times:
                times.remove(attempt.at)

    def wait(self, kind: str, value: str, now: float | None = None) -> float:
        """Seconds before `value` (an email or a client address) may try again."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._wait((kind, value), now)
