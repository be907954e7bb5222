"""Live push of web chat messages between processes, through Redis (REDIS_URL).

A chat message may be stored by any web process (the chat API, an agent's reply
sent from the console) or by the delivery worker, while the customer's stream is
open in another web process. Whoever commits a chat message signals its
conversation on Redis (`announce_on_commit`: events of that process's
sessionmaker, so no caller can forget). Each web process listens once (`Listener`)
and wakes the streams watching that conversation, which then read the new rows.

The database stays the source of truth: a stream still reads it every few seconds
in case a signal was lost (Redis restarting), so a lost signal delays a message,
never loses it, and a failed signal never fails the commit it follows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from bot.models import ChatMessage
from bot.shared_state import SharedState, SharedStateDown

logger = logging.getLogger(__name__)

NAMESPACE = "chat"
_PENDING = "switchboard_chat_conversations"
RETRY_SECONDS = 5.0


def announce_on_commit(factory: sessionmaker[Session], state: SharedState) -> None:
    """Signal each conversation that got chat messages, once their commit is done."""

    def collect(session: Session, _context: Any) -> None:
        # after_flush still sees the flushed objects as new.
        conversations = {
            row.conversation_id for row in session.new if isinstance(row, ChatMessage)
        }
        if conversations:
            session.info.setdefault(_PENDING, set()).update(conversations)

    def announce(session: Session) -> None:
        for conversation in session.info.pop(_PENDING, ()):
            try:
                state.publish(NAMESPACE, conversation)
            except SharedStateDown as exc:
                logger.error(
                    "live push: Redis unreachable (%s); chat streams see the new "
                    "message at their next database read",
                    exc,
                )

    def forget(session: Session) -> None:
        session.info.pop(_PENDING, None)

    event.listen(factory, "after_flush", collect)
    event.listen(factory, "after_commit", announce)
    event.listen(factory, "after_rollback", forget)


class Watch:
    """A stream's interest in one conversation: `wait` returns when signalled."""

    def __init__(self) -> None:
        self._signal = threading.Event()

    def clear(self) -> None:
        self._signal.clear()

    def set(self) -> None:
        self._signal.set()

    def wait(self, timeout: float) -> bool:
        """True when a message was stored since the last `clear`."""
        return self._signal.wait(timeout)


class Listener:
    """This process's one subscription to chat signals, dispatched to watches."""

    def __init__(self, state: SharedState) -> None:
        self.state = state
        self._watches: dict[str, set[Watch]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, conversation: str) -> Iterator[Watch]:
        """A watch on `conversation` while the block runs."""
        self._start()
        watch = Watch()
        with self._lock:
            self._watches.setdefault(conversation, set()).add(watch)
        try:
            yield watch
        finally:
            with self._lock:
                watches = self._watches.get(conversation, set())
                watches.discard(watch)
                if not watches:
                    self._watches.pop(conversation, None)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen, name="chat-push", daemon=True
                )
                self._thread.start()

    def _wake(self, conversation: str) -> None:
        with self._lock:
            for watch in self._watches.get(conversation, ()):
                watch.set()

    def _listen(self) -> None:
        while True:
            try:
                subscription = self.state.subscribe(NAMESPACE)
                try:
                    while True:
                        conversation = self.state.signalled(subscription, 1.0)
                        if conversation is not None:
                            self._wake(conversation)
                finally:
                    subscription.close()
            except SharedStateDown as exc:
                logger.error(
                    "live push: Redis unreachable (%s); chat streams read the "
                    "database every few seconds meanwhile",
                    exc,
                )
                threading.Event().wait(RETRY_SECONDS)
