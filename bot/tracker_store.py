"""Rasa's SQL tracker store, reading each conversation once instead of every turn.

Rasa 3.6's `SQLTrackerStore` reads every event of a conversation's session on each
turn as ORM objects and deserialises them all, then counts them again to save, so
a turn cost more the longer the conversation went on: at turn 150 reading the
tracker was half of the Rasa server's CPU (py-spy, `make benchmark-load`). This
store writes the same rows to the same `events` table, and keeps the deserialised
events of the conversations it served last (`CACHE_SIZE`) with the id of the last
row it read: a turn reads only the rows written since. Rows another Rasa instance
wrote are seen the same way; the lock store lets one instance at a time write a
conversation, so its rows arrive in id order.

On SQLite the database runs in WAL mode with synchronous=NORMAL: a commit no
longer waits for the disk (a power cut may lose the last turns, never corrupt the
file), and connections are pooled instead of opened per query.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import Event, SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

# Conversations whose events stay in memory (least recently served dropped first).
CACHE_SIZE = 1000


@dataclass
class SessionEvents:
    """The events of a conversation's latest session, as far as they were read."""

    last_id: int  # the last row read (0: none)
    session_start: float | None  # timestamp of its SessionStarted (None: none yet)
    events: list[Event]

    def add(self, rows: list[Any]) -> None:
        """Append `rows` (id, type_name, timestamp, data) read after `last_id`."""
        # The same rows Rasa's query takes: those not older than the session start.
        kept = [
            json.loads(row.data)
            for row in rows
            if self.session_start is None
            or (row.timestamp is not None and row.timestamp >= self.session_start)
        ]
        self.events.extend(deserialise_events(kept))
        if rows:
            self.last_id = rows[-1].id


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class CachedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that reads only a conversation's new rows each turn.

    Configured in endpoints.yml as `type: bot.tracker_store.CachedSQLTrackerStore`
    with the SQL store's own settings (`dialect`, `db`, `url`, ...).
    """

    def __init__(self, *args: Any, cache_size: int = CACHE_SIZE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        engine: Engine = self.engine  # type: ignore[has-type]  # set by Rasa
        if engine.dialect.name == "sqlite":
            engine.dispose()
            self.engine = sa.create_engine(
                engine.url,
                poolclass=QueuePool,
                connect_args={"check_same_thread": False, "timeout": 30},
            )
            sa.event.listen(self.engine, "connect", _tune_sqlite)
        else:
            # Connections cut while the database was away are found and replaced
            # before use, so the first turn after it is back does not fail.
            engine.dispose()
            self.engine = sa.create_engine(
                engine.url, pool_pre_ping=True, **create_engine_kwargs(engine.url)
            )
        self.sessionmaker = sessionmaker(bind=self.engine)
        self._cache: OrderedDict[str, SessionEvents] = OrderedDict()
        self._cache_size = cache_size

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the conversation's latest session (None: no events)."""
        with self.session_scope() as session:
            events = self._session_events(session, sender_id)
        if not events:
            return None
        return DialogueStateTracker.from_events(sender_id, events, self.domain.slots)

    def _additional_events(
        self, session: Session, tracker: DialogueStateTracker
    ) -> Iterator[Event]:
        """The tracker's events that are not stored yet (what `save` writes)."""
        stored = len(self._session_events(session, tracker.sender_id))
        return itertools.islice(tracker.events, stored, len(tracker.events))

    def _session_events(self, session: Session, sender_id: str) -> list[Event]:
        """The latest session's events, read from the rows after the cached ones."""
        cached = self._cache.get(sender_id)
        if cached is not None:
            rows = self._rows(session, sender_id, after=cached.last_id)
            if any(row.type_name == SessionStarted.type_name for row in rows):
                cached = None  # a new session: read it whole, as Rasa does
            else:
                cached.add(rows)
        if cached is None:
            cached = self._read_session(session, sender_id)
        self._cache[sender_id] = cached
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return list(cached.events)

    def _rows(self, session: Session, sender_id: str, after: int) -> list[Any]:
        table = self.SQLEvent
        query = (
            sa.select(table.id, table.type_name, table.timestamp, table.data)
            .where(table.sender_id == sender_id, table.id > after)
            .order_by(table.id)
        )
        return list(session.execute(query).all())

    def _read_session(self, session: Session, sender_id: str) -> SessionEvents:
        """Rasa's own query for the latest session, without building ORM objects."""
        table = self.SQLEvent
        rows = (
            self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
            .with_entities(table.id, table.type_name, table.timestamp, table.data)
            .all()
        )
        starts = [
            row.timestamp
            for row in rows
            if row.type_name == SessionStarted.type_name and row.timestamp is not None
        ]
        events = SessionEvents(0, None, [])
        events.add(rows)
        # Only after adding: the session's own rows were chosen by Rasa's query.
        events.session_start = max(starts, default=None)
        return events
