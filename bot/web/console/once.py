"""One-time form keys: a reply form is sent once, however often it is submitted.

Each render of the reply form carries a fresh random key. The first request with a
key takes it under a lock, so a double click's second request (which may arrive
while the first is still sending) finds it taken; a request that fails gives its
key back, so the agent can correct the form and send it again. Per process, like
the sign-in throttle (one web worker: bot/launch.py), and bounded: the oldest keys
are forgotten first.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Hashable

FIELD = "reply_key"
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
