"""Live push across web processes (bot/chat_push.py) and their shared stream quotas.

Two apps on one database and one Redis prefix stand for two web processes: a
message committed through one wakes a stream held by the other at once, although
that stream reads the database by itself only every 30 s here.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from bot import migrate
from bot.chat_push import announce_on_commit
from bot.db import make_engine, make_session_factory
from bot.models import ChatMessage, Sender
from bot.settings import Settings
from bot.shared_state import SharedState
from bot.web import create_app
from bot.web.chat import CONVERSATION_KEY
from bot.web.stream import Quota, SharedStreamSlots, TooManyStreams
from tests.unit.conftest import REDIS_URL

STREAM = "/chat/api/stream"


@pytest.fixture
def apps(tmp_path: Path, shared_state: SharedState) -> Iterator[tuple[Flask, Flask]]:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    migrate.upgrade(url)
    settings = dataclasses.replace(
        Settings.from_env(), redis_url=REDIS_URL, redis_key_prefix=shared_state.prefix
    )
    config = {
        "TESTING": True,
        "DATABASE_URL": url,
        "SETTINGS": settings,
        "RASA_URL": "http://127.0.0.1:9",
        "CHAT_STREAM_SECONDS": 4.0,
        "CHAT_SIGNALLED_POLL_SECONDS": 30.0,  # only a signal is in time
    }
    made = (create_app(config), create_app(config))
    yield made
    for app in made:
        app.extensions["session_factory"].kw["bind"].dispose()


def add_message(app: Flask, conversation: str, text: str) -> None:
    with app.extensions["session_factory"].begin() as db:
        db.add(
            ChatMessage(conversation_id=conversation, sender=Sender.AGENT, text=text)
        )


def test_a_message_stored_in_one_process_wakes_a_stream_in_another(
    apps: tuple[Flask, Flask],
) -> None:
    one, two = apps
    browser = two.test_client()
    response = browser.get(STREAM, buffered=False)
    assert response.status_code == 200
    with browser.session_transaction() as session:
        conversation = session[CONVERSATION_KEY]
    chunks = iter(response.response)
    assert next(chunks).startswith(b"retry:")  # the stream is watching now
    received: list[tuple[float, dict[str, Any]]] = []

    def read() -> None:
        for chunk in chunks:
            for line in chunk.decode().splitlines():
                if line.startswith("data: "):
                    received.append((time.monotonic(), json.loads(line[6:])))
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(1.0)  # the stream has read the database and waits
    stored_at = time.monotonic()
    add_message(one, conversation, "Hi, I'm Maria.")
    reader.join(timeout=10)
    response.close()
    assert [event["text"] for _, event in received] == ["Hi, I'm Maria."]
    assert received[0][0] - stored_at < 2.0


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'push.db'}"
    migrate.upgrade(url)
    made = make_session_factory(make_engine(url))
    yield made
    made.kw["bind"].dispose()


def test_only_committed_chat_messages_are_announced(
    factory: sessionmaker[Session], shared_state: SharedState
) -> None:
    announce_on_commit(factory, shared_state)
    subscription = shared_state.subscribe("chat")
    try:
        shared_state.signalled(subscription, 0.5)  # the subscription's confirmation
        with factory() as db:
            db.add(
                ChatMessage(conversation_id="web-rolled", sender=Sender.BOT, text="x")
            )
            db.flush()
            db.rollback()
        with factory.begin() as db:
            db.add(ChatMessage(conversation_id="web-kept", sender=Sender.BOT, text="y"))
        heard = [shared_state.signalled(subscription, 0.5) for _ in range(3)]
    finally:
        subscription.close()
    assert [name for name in heard if name] == ["web-kept"]


def test_a_commit_does_not_fail_when_redis_is_down(
    factory: sessionmaker[Session], redis_down: SharedState
) -> None:
    announce_on_commit(factory, redis_down)
    with factory.begin() as db:
        db.add(ChatMessage(conversation_id="web-c", sender=Sender.BOT, text="kept"))
    with factory() as db:
        assert db.query(ChatMessage).count() == 1


def test_stream_quotas_are_shared_and_the_total_is_per_process(
    shared_state: SharedState,
) -> None:
    one = SharedStreamSlots(shared_state, total=2, lease=30)
    two = SharedStreamSlots(shared_state, total=2, lease=30)
    session = Quota("session", "session:a", 2)
    first = one.acquire([session])
    second = two.acquire([session])
    with pytest.raises(TooManyStreams, match="session"):  # 2 in all, not per process
        one.acquire([session])
    assert one.open_count("session:a") == 2 and one.open_count() == 1
    one.acquire([Quota("session", "session:b", 2)])
    with pytest.raises(TooManyStreams, match="total"):  # this process's threads
        one.acquire([Quota("session", "session:c", 2)])
    first()
    first()  # a second close changes nothing
    second()
    assert two.open_count("session:a") == 0


def test_a_process_that_died_frees_its_slots_after_the_lease(
    shared_state: SharedState,
) -> None:
    dead = SharedStreamSlots(shared_state, total=5, lease=0.5)
    session = Quota("session", "session:z", 1)
    dead.acquire([session])  # never released
    alive = SharedStreamSlots(shared_state, total=5, lease=0.5)
    with pytest.raises(TooManyStreams):
        alive.acquire([session])
    time.sleep(0.6)
    alive.acquire([session])
