"""Server-Sent Events: new chat messages pushed to the widget as they are stored.

Each open stream holds one of the web app's threads, so they are rationed
(StreamSlots): a few per session, per signed-in customer and per client address,
fewer still for requests without a session cookie, and a total well below the thread
count, so the shop and the chat API always have threads left and one client cannot
take every slot.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.web import chat_store

RETRY_MS = 2000
KEEPALIVE_SECONDS = 15.0


class TooManyStreams(Exception):
    """No stream slot free; `scope` is "session", "client" or "total"."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"too many open streams ({scope})")
        self.scope = scope


@dataclass(frozen=True)
class Quota:
    """At most `limit` open streams share `key` ("session:..", "address:.."...)."""

    scope: str
    key: str
    limit: int


class StreamSlots:
    """Counts open streams per key and in all (this process's threads)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._open: dict[str, int] = {}
        self._in_all = 0
        self._lock = threading.Lock()

    def open_count(self, key: str | None = None) -> int:
        with self._lock:
            return self._in_all if key is None else self._open.get(key, 0)

    def acquire(self, quotas: Sequence[Quota]) -> Callable[[], None]:
        """Take a slot under every quota at once.

        Returns:
            A function that frees the slots (once).

        Raises:
            TooManyStreams: naming the first quota that is full.
        """
        keys = [quota.key for quota in quotas]
        with self._lock:
            for quota in quotas:
                if self._open.get(quota.key, 0) >= quota.limit:
                    raise TooManyStreams(quota.scope)
            if self._in_all >= self.total:
                raise TooManyStreams("total")
            for key in keys:
                self._open[key] = self._open.get(key, 0) + 1
            self._in_all += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                self._in_all -= 1
                for key in keys:
                    left = self._open.get(key, 0) - 1
                    if left > 0:
                        self._open[key] = left
                    else:
                        self._open.pop(key, None)

        return release


def format_event(message: dict[str, object]) -> str:
    """One SSE `message` event; its id lets a reconnecting browser resume."""
    return f"id: {message['id']}\nevent: message\ndata: {json.dumps(message)}\n\n"


def message_events(
    factory: sessionmaker[Session],
    conversation_id: str,
    after: int,
    duration: float,
    interval: float,
    gone: Callable[[], bool] | None = None,
) -> Iterator[str]:
    """Poll the database for `duration` seconds and yield each new message once.

    The stream then ends and the browser reconnects, so a worker thread is never
    held for long by a tab that was closed; it ends sooner once `gone()` says the
    browser went away (the server's disconnect check), freeing its slot at once.
    """
    yield f"retry: {RETRY_MS}\n\n"
    deadline = time.monotonic() + duration
    last_write = time.monotonic()
    while True:
        # A fresh session per poll: a long transaction would not see new rows.
        with factory() as session:
            rows = [
                chat_store.to_json(row)
                for row in chat_store.messages_after(session, conversation_id, after)
            ]
        for row in rows:
            after = int(row["id"])
            yield format_event(row)
            last_write = time.monotonic()
        now = time.monotonic()
        if now >= deadline or (gone is not None and gone()):
            return
        if now - last_write >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_write = now
        time.sleep(min(interval, max(deadline - now, 0.0)))
