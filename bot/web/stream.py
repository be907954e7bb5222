"""Server-Sent Events: new chat messages pushed to the widget as they are stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from sqlalchemy.orm import Session, sessionmaker

from bot.web import chat_store

RETRY_MS = 2000
KEEPALIVE_SECONDS = 15.0


def format_event(message: dict[str, object]) -> str:
    """One SSE `message` event; its id lets a reconnecting browser resume."""
    return f"id: {message['id']}\nevent: message\ndata: {json.dumps(message)}\n\n"


def message_events(
    factory: sessionmaker[Session],
    conversation_id: str,
    after: int,
    duration: float,
    interval: float,
) -> Iterator[str]:
    """Poll the database for `duration` seconds and yield each new message once.

    The stream then ends and the browser reconnects, so a worker thread is never
    held for long by a tab that was closed.
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
        if now >= deadline:
            return
        if now - last_write >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_write = now
        time.sleep(min(interval, max(deadline - now, 0.0)))
