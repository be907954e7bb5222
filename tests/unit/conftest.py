"""Fixtures shared by the unit tests (the database ones are in tests/conftest.py).

Also the Hypothesis profile of the property-based tests (``test_bad_input_*.py``):
the same bounded set of examples on every run, so a failure is reproducible and
`make unit` stays fast on two cores; no per-example deadline (a shared machine and
PostgreSQL make timings noisy). ``HYPOTHESIS_PROFILE=explore`` tries many more,
random examples when hunting for bugs.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from hypothesis import HealthCheck, settings
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.orm import Session

from bot.settings import LOCAL_REDIS_URL
from bot.shared_state import SharedState, SharedStateDown
from knowledge_base import Article, KnowledgeBase
from tests.fakes.rasa_webchat import FakeRasaWebChat
from tests.unit.queue_setup import Team, make_team

settings.register_profile(
    "switchboard",
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    # An app and its database are built once per test, not once per example: each
    # property holds whatever the examples before it left behind.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
settings.register_profile(
    "explore", parent=settings.get_profile("switchboard"), max_examples=1000,
    derandomize=False,
)  # fmt: skip
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "switchboard"))


@pytest.fixture
def rasa() -> Iterator[FakeRasaWebChat]:
    """Rasa's web chat channel on loopback, answering "Hello there!"."""
    fake = FakeRasaWebChat(replies=[{"recipient_id": "x", "text": "Hello there!"}])
    yield fake.start()
    fake.stop()


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


@dataclass
class ActionServer:
    """An action server on loopback that runs no action and answers "no events".

    `asked` lists the actions called, in order; while `answering` is clear, calls
    wait for it (a slow action server).
    """

    url: str
    asked: list[str] = field(default_factory=list)
    answering: threading.Event = field(default_factory=threading.Event)

    @property
    def endpoint(self) -> EndpointConfig:
        return EndpointConfig(self.url)


@pytest.fixture
def action_server() -> Iterator[ActionServer]:
    """An action server answering every call at once (clear `answering` to hold)."""
    server = ActionServer("")
    server.answering.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            server.asked.append(json.loads(body)["next_action"])
            server.answering.wait(30)
            answer = json.dumps({"events": [], "responses": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            return

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{http.server_port}/webhook"
    yield server
    server.answering.set()
    http.shutdown()
    http.server_close()


@pytest.fixture(scope="session")
def two_articles() -> list[Article]:
    """A gift-card and a shipping article, each with a question and two passages."""
    return [
        Article("gifts", "Gift cards", "Gift cards never expire. They have no fees.",
                ("gift card",), ("do gift cards expire",)),
        Article("ships", "Shipping", "Standard shipping costs 5 dollars. Express is faster.",
                (), ("how much is shipping",)),
    ]  # fmt: skip


@pytest.fixture(scope="session")
def help_centre() -> KnowledgeBase:
    """The shipped articles as the action server serves them, built once per run.

    Building one embeds every article text (~2.5 s); the knowledge base modules'
    tests only read it.
    """
    return KnowledgeBase.from_directory()
