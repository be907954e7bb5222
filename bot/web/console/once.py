"""One-time form keys: a reply form is sent once, however often it is submitted.

Each render of the reply form carries a fresh random key. The first request with a
key takes it under a lock, so a double click's second request (which may arrive
while the first is still sending) finds it taken; a request that fails gives its
key back, so the agent can correct the form and send it again. In memory
(`OnceKeys`, bounded: the oldest keys are forgotten first) when the web app runs as
one process; in Redis (`SharedOnceKeys`, kept a day) when REDIS_URL is set, so a
double click's two requests may reach two web processes.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Hashable

from bot.shared_state import SharedState

FIELD = "reply_key"
NAMESPACE = "reply-keys"
# A reply form left open longer than this can be sent twice.
SHARED_TTL = 24 * 3600.0
_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_key() -> str:
    return secrets.token_urlsafe(16)


def well_formed(key: str) -> bool:
    return _SHAPE.fullmatch(key) is not None


class OnceKeys:
    """Keys already used, oldest forgotten first past `max_keys`."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._used: OrderedDict[Hashable, None] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> bool:
        """True the first time `key` is taken (until it is given back)."""
        with self._lock:
            if key in self._used:
                self._used.move_to_end(key)
                return False
            self._used[key] = None
            while len(self._used) > self.max_keys:
                self._used.popitem(last=False)
            return True

    def give_back(self, key: Hashable) -> None:
        with self._lock:
            self._used.pop(key, None)


class SharedOnceKeys:
    """`OnceKeys` kept in Redis for every web process (raises SharedStateDown)."""

    def __init__(self, state: SharedState, ttl: float = SHARED_TTL) -> None:
        self.state = state
        self.ttl = ttl

    def take(self, key: Hashable) -> bool:
        """True the first time `key` is taken (until it is given back)."""
        return self.state.take(NAMESPACE, _name(key), self.ttl)

    def give_back(self, key: Hashable) -> None:
        self.state.give_back(NAMESPACE, _name(key))


def _name(key: Hashable) -> str:
    parts = key if isinstance(key, tuple) else (key,)
    return ":".join(str(part) for part in parts)
