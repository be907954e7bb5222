"""Fixtures shared by the unit tests (the database ones are in tests/conftest.py)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy.orm import Session

from bot.settings import LOCAL_REDIS_URL
from bot.shared_state import SharedState, SharedStateDown
from tests.unit.queue_setup import Team, make_team


@pytest.fixture
def team(session: Session) -> Team:
    """Alice and Bob (agents), Sue (supervisor) and a deactivated account."""
    return make_team(session)


REDIS_URL = os.environ.get("TEST_REDIS_URL", LOCAL_REDIS_URL)


@pytest.fixture
def shared_state() -> Iterator[SharedState]:
    """Redis on this machine, under a key prefix of this test's own (then deleted)."""
    prefix = "sbunit" + uuid.uuid4().hex[:10]
    state = SharedState(redis.Redis.from_url(REDIS_URL), prefix)
    try:
        state.ping()
    except SharedStateDown as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc}); set TEST_REDIS_URL"
        )
    yield state
    keys = list(state.client.scan_iter(match=f"{prefix}:*"))
    if keys:
        state.client.delete(*keys)
    state.client.close()


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: a service that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def redis_down(closed_port: int) -> SharedState:
    """Shared state whose Redis is down."""
    return SharedState.from_url(f"redis://127.0.0.1:{closed_port}/0", "sbdown")
