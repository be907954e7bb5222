"""Server-Sent Events: new chat messages pushed to the widget as they are stored.

Each open stream holds one of the web app's threads, so they are rationed
(StreamSlots): a few per session, per signed-in customer and per client address,
fewer still for requests without a session cookie, and a total well below the thread
count, so the shop and the chat API always have threads left and one client cannot
take every slot. With several web processes (REDIS_URL set) the slots are counted
in Redis (`SharedStreamSlots`), and a stream wakes as soon as any process stores a
message of its conversation (bot/chat_push.py) instead of polling the database
every second.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.chat_push import Watch
from bot.shared_state import Full, SharedState, SharedStateDown
from bot.web import chat_store

logger = logging.getLogger(__name__)

RETRY_MS = 2000
KEEPALIVE_SECONDS = 15.0
# A shared slot outlives its stream by this much if its process dies with it open.
SLOT_GRACE_SECONDS = 10.0


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


class SharedStreamSlots:
    """`StreamSlots` for several web processes: the quotas counted in Redis.

    The per-session and per-client quotas are shared by every web process; the
    total, which keeps this process's threads free, is counted here. A shared slot
    lapses `lease` seconds after it was taken (a stream's length plus a grace), so
    a process that dies with streams open frees them. Raises SharedStateDown
    when Redis cannot count.
    """

    def __init__(self, state: SharedState, total: int, lease: float) -> None:
        self.state = state
        self.here = StreamSlots(total)
        self.lease = lease

    def open_count(self, key: str | None = None) -> int:
        if key is None:
            return self.here.open_count()
        return self.state.oldest(f"streams:{key}", time.time())[0]

    def acquire(self, quotas: Sequence[Quota]) -> Callable[[], None]:
        """Take a slot under every quota at once (see `StreamSlots.acquire`)."""
        release_here = self.here.acquire([])
        keys = [f"streams:{quota.key}" for quota in quotas]
        now = time.time()
        try:
            taken = self.state.admit(
                keys,
                [quota.limit for quota in quotas],
                score=now + self.lease,
                cutoff=now,
                ttl=self.lease,
            )
        except BaseException:
            release_here()
            raise
        if isinstance(taken, Full):
            release_here()
            raise TooManyStreams(quotas[taken.index].scope)
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            release_here()
            try:
                self.state.remove(keys, taken.member)
            except SharedStateDown as exc:  # the slot lapses by itself
                logger.error("could not free a chat stream slot in Redis: %s", exc)

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
    watch: Watch | None = None,
) -> Iterator[str]:
    """Read the database for `duration` seconds and yield each new message once.

    It reads every `interval` seconds, or, with a `watch`, when the watch says a
    message of the conversation was stored (and every `interval` in any case). The
    stream then ends and the browser reconnects, so a worker thread is never held
    for long by a tab that was closed; it ends sooner once `gone()` says the
    browser went away (the server's disconnect check), freeing its slot at once.
    """
    yield f"retry: {RETRY_MS}\n\n"
    deadline = time.monotonic() + duration
    last_write = time.monotonic()
    while True:
        if watch is not None:
            watch.clear()  # a message stored from now on wakes the next wait
        # A fresh session per read: a long transaction would not see new rows.
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
        pause = min(interval, max(deadline - now, 0.0))
        if watch is not None:
            watch.wait(pause)
        else:
            time.sleep(pause)
