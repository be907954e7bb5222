"""Sign-in attempts limited per email and per client address.

In memory (`LoginThrottle`) when the web app runs as one process; in Redis
(`SharedLoginThrottle`) when REDIS_URL is set, so that several web processes count
together (and one cannot be tried after another).

An attempt is counted before its password is checked, under the lock, so guesses
sent in parallel cannot all slip past the limit while the first ones are still
hashing. A successful sign-in takes its attempt back and clears the email's
failures, but not the address's earlier ones: signing in to one's own account must
not reset the count of someone guessing other accounts from the same address.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from bot.shared_state import Full, SharedState

EMAIL = "email"
CLIENT = "client"


@dataclass(frozen=True)
class Attempt:
    """A counted sign-in attempt: give it back with `LoginThrottle.succeeded`."""

    email: str
    client: str
    at: float
    token: str = ""  # SharedLoginThrottle's name for it in Redis


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


class SharedLoginThrottle:
    """`LoginThrottle` in Redis, for every web process (raises SharedStateDown).

    Emails and addresses are hashed into the keys: no personal data in Redis.
    """

    def __init__(
        self, state: SharedState, per_email: int, per_client: int, window: float
    ) -> None:
        self.state = state
        self.limits = {EMAIL: per_email, CLIENT: per_client}
        self.window = window

    @staticmethod
    def _key(kind: str, value: str) -> str:
        return f"sign-in:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"

    def attempt(
        self, email: str, client: str, now: float | None = None
    ) -> Attempt | Refused:
        """Count an attempt for both keys, or refuse it (and count nothing)."""
        now = time.time() if now is None else now
        kinds = (CLIENT, EMAIL)
        counted = self.state.admit(
            [self._key(CLIENT, client), self._key(EMAIL, email)],
            [self.limits[kind] for kind in kinds],
            score=now,
            cutoff=now - self.window,
            ttl=self.window,
        )
        if isinstance(counted, Full):
            wait = max(self.window - (now - counted.oldest), 0.0)
            return Refused(kinds[counted.index], wait)
        return Attempt(email, client, now, counted.member)

    def succeeded(self, attempt: Attempt) -> None:
        """The attempt signed in: it is not a failure, and the email starts afresh."""
        self.state.forget(self._key(EMAIL, attempt.email))
        self.state.remove([self._key(CLIENT, attempt.client)], attempt.token)

    def wait(self, kind: str, value: str, now: float | None = None) -> float:
        """Seconds before `value` (an email or a client address) may try again."""
        now = time.time() if now is None else now
        count, oldest = self.state.oldest(self._key(kind, value), now - self.window)
        if count < self.limits[kind] or oldest is None:
            return 0.0
        return max(self.window - (now - oldest), 0.0)
