"""The cached SQL tracker store returns what Rasa's own SQL store reads, turn by turn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import launch
from bot.tracker_store import CachedSQLTrackerStore
from tests.conftest import _postgres_database

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, inform]
slots:
  order_number:
    type: text
    mappings: [{type: custom}]
"""
)


def turn(text: str, t: float, order: str | None = None) -> list[Event]:
    """One customer message and the assistant's answer, at time `t`."""
    events: list[Event] = [
        UserUttered(text, {"name": "inform", "confidence": 0.9}, timestamp=t),
        ActionExecuted("utter_answer", timestamp=t + 0.1),
        BotUttered(f"you said {text}", timestamp=t + 0.2),
    ]
    if order:
        events.append(SlotSet("order_number", order, timestamp=t + 0.3))
    return [*events, ActionExecuted("action_listen", timestamp=t + 0.4)]


def session_start(t: float) -> list[Event]:
    return [
        ActionExecuted("action_session_start", timestamp=t),
        SessionStarted(timestamp=t + 0.01),
        ActionExecuted("action_listen", timestamp=t + 0.02),
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """The store's settings, as bot/launch.py writes them, for a new database."""
    if request.param == "sqlite":
        yield launch.tracker_store_config(f"sqlite:///{tmp_path / 'tracker.db'}")
        return
    with _postgres_database() as url:
        yield launch.tracker_store_config(url)


def stores(
    database: dict[str, Any], size: int = 1000
) -> tuple[CachedSQLTrackerStore, SQLTrackerStore]:
    """Ours, and Rasa's own store on the same database to compare with."""
    settings = {k: v for k, v in database.items() if k != "type"}
    host = settings.pop("url", None)
    ours = CachedSQLTrackerStore(domain=DOMAIN, host=host, cache_size=size, **settings)
    return ours, SQLTrackerStore(domain=DOMAIN, host=host, **settings)


async def add(store: SQLTrackerStore, sender: str, events: list[Event]) -> None:
    """Append `events` to the conversation the way Rasa's processor does."""
    tracker = await store.retrieve(sender) or DialogueStateTracker(sender, DOMAIN.slots)
    for event in events:
        tracker.update(event)
    await store.save(tracker)


async def same(ours: SQLTrackerStore, rasa: SQLTrackerStore, sender: str) -> list:
    """Both stores' trackers have the same events and slots; those events."""
    mine, theirs = await ours.retrieve(sender), await rasa.retrieve(sender)
    assert mine is not None and theirs is not None
    assert list(mine.events) == list(theirs.events)
    assert mine.current_slot_values() == theirs.current_slot_values()
    return list(mine.events)


async def test_turn_by_turn_the_same_tracker_as_rasa(database: dict[str, Any]) -> None:
    ours, rasa = stores(database)
    assert await ours.retrieve("c1") is None
    await add(ours, "c1", session_start(100.0))
    for i in range(1, 6):
        await add(ours, "c1", turn(f"message {i}", 100.0 + i, order=f"10{i}"))
        events = await same(ours, rasa, "c1")
    # As in Rasa: the session's events from SessionStarted on (action_session_start,
    # logged just before it, is not among them).
    assert isinstance(events[0], SessionStarted) and len(events) == 2 + 5 * 5
    assert (await ours.retrieve("c1")).get_slot("order_number") == "105"  # type: ignore[union-attr]


async def test_each_event_is_stored_once(database: dict[str, Any]) -> None:
    ours, _ = stores(database)
    await add(ours, "c1", session_start(100.0))
    await add(ours, "c1", turn("hello", 101.0))
    tracker = await ours.retrieve("c1")
    assert tracker is not None
    await ours.save(tracker)  # nothing new: nothing written
    with ours.engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM events").scalar()
    assert count == 3 + 4


async def test_a_new_session_starts_a_new_tracker(database: dict[str, Any]) -> None:
    ours, rasa = stores(database)
    await add(ours, "c1", session_start(100.0))
    await add(ours, "c1", turn("first session", 101.0, order="111"))
    await same(ours, rasa, "c1")
    await add(ours, "c1", session_start(5000.0))
    await add(ours, "c1", turn("second session", 5001.0))
    events = await same(ours, rasa, "c1")
    assert isinstance(events[0], SessionStarted) and len(events) == 2 + 4
    assert "first session" not in [getattr(e, "text", None) for e in events]


async def test_rows_another_instance_wrote_are_read(database: dict[str, Any]) -> None:
    """Two Rasa instances on one database: each sees what the other saved."""
    first, rasa = stores(database)
    second, _ = stores(database)
    await add(first, "c1", session_start(100.0))
    await add(first, "c1", turn("to the first", 101.0))
    await first.retrieve("c1")  # cached by the first
    await add(second, "c1", turn("to the second", 102.0, order="222"))
    await add(first, "c1", turn("to the first again", 103.0))
    events = await same(first, rasa, "c1")
    assert await same(second, rasa, "c1") == events
    assert [e.text for e in events if isinstance(e, UserUttered)] == [
        "to the first",
        "to the second",
        "to the first again",
    ]


async def test_conversations_are_kept_apart_and_the_cache_bounded(
    database: dict[str, Any],
) -> None:
    ours, rasa = stores(database, size=2)
    for sender in ("a", "b", "c"):
        await add(ours, sender, session_start(100.0))
        await add(ours, sender, turn(f"I am {sender}", 101.0))
    assert len(ours._cache) == 2 and "a" not in ours._cache
    for sender in ("a", "b", "c"):
        events = await same(ours, rasa, sender)
        assert [e.text for e in events if isinstance(e, UserUttered)] == [
            f"I am {sender}"
        ]


@pytest.mark.parametrize("late", [True, False])
async def test_rows_older_than_the_session_are_left_out_as_rasa_does(
    database: dict[str, Any], late: bool
) -> None:
    """A row stamped before the session started (a client's clock) is not in it."""
    ours, rasa = stores(database)
    await add(ours, "c1", session_start(100.0))
    await ours.retrieve("c1")
    stamp = 50.0 if late else 200.0
    await add(rasa, "c1", [SlotSet("order_number", "333", timestamp=stamp)])
    events = await same(ours, rasa, "c1")
    assert (SlotSet("order_number", "333") in events) is not late


def test_sqlite_commits_do_not_wait_for_the_disk(tmp_path: Path) -> None:
    ours, _ = stores(launch.tracker_store_config(f"sqlite:///{tmp_path / 't.db'}"))
    with ours.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        # 1 is NORMAL: synced at checkpoints, not at every commit.
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
