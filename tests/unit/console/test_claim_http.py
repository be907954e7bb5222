"""Real concurrent claims and replies over HTTP.

Eight signed-in agents click Claim at once; and one agent's reply form is sent
several times at once (a double click).

The console runs in a threaded Werkzeug server against the `engine` fixture's
database (a SQLite file, and PostgreSQL); each agent has its own HTTP session and
connection. Run with `pytest -s` to see the timing figures.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from flask import Flask
from sqlalchemy.engine import Engine
from werkzeug.serving import make_server

from bot.models import Sender, TicketEventKind, TicketStatus
from tests.unit.console.helpers import (
    PASSWORD,
    FakeSms,
    add_agent,
    chat_messages,
    dispose,
    event_kinds,
    load,
    make_console_app,
    new_ticket,
    rows_removed_after,
    transcript,
)

AGENTS = 8
ROUNDS = 10
TIMEOUT = 60
TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
REPLY_KEY = re.compile(r'name="reply_key" value="([^"]+)"')
CLICKS = 6


@dataclass
class Console:
    app: Flask
    url: str


@dataclass
class SignedIn:
    agent_id: int
    http: requests.Session
    token: str


@pytest.fixture
def console(engine: Engine) -> Iterator[Console]:
    with rows_removed_after(engine):
        app = make_console_app(engine, FakeSms())
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Console(app, f"http://127.0.0.1:{server.server_port}")
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
            dispose(app)


def token_of(response: requests.Response) -> str:
    match = TOKEN.search(response.text)
    assert match is not None, response.text[:500]
    return match[1]


def sign_in(console: Console, email: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{console.url}/console/login", timeout=TIMEOUT)
    response = http.post(
        f"{console.url}/console/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token_of(page)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 303, response.text[:500]
    return http


def agents(console: Console) -> list[SignedIn]:
    team = []
    for n in range(AGENTS):
        email = f"racer{n}@support.example.com"
        agent_id = add_agent(console.app, email, name=f"Racer {n}")
        http = sign_in(console, email)
        queue = http.get(f"{console.url}/console/", timeout=TIMEOUT)
        assert queue.status_code == 200
        team.append(SignedIn(agent_id, http, token_of(queue)))
    return team


@dataclass
class Attempt:
    agent_id: int
    status: int
    seconds: float


def race(console: Console, team: list[SignedIn], reference: str) -> list[Attempt]:
    """Every agent POSTs Claim for `reference`, released by one barrier."""
    barrier = threading.Barrier(len(team))
    attempts: list[Attempt] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def claim(member: SignedIn) -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            started = time.perf_counter()
            response = member.http.post(
                f"{console.url}/console/tickets/{reference}/claim",
                data={"csrf_token": member.token},
                allow_redirects=False,
                timeout=TIMEOUT,
            )
            elapsed = time.perf_counter() - started
            with lock:
                attempts.append(Attempt(member.agent_id, response.status_code, elapsed))
        except BaseException as exc:  # reported by the test
            with lock:
                errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=claim, args=(m,)) for m in team]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a claim request hung"
    assert not errors, errors
    return attempts


def test_exactly_one_agent_wins_each_claim_over_http(
    console: Console, engine: Engine
) -> None:
    team = agents(console)
    seconds: list[float] = []
    for _ in range(ROUNDS):
        reference = new_ticket(console.app, conversation_id=None)
        attempts = race(console, team, reference)
        statuses = sorted(a.status for a in attempts)
        assert statuses == [303] + [409] * (AGENTS - 1), statuses
        (winner,) = (a for a in attempts if a.status == 303)
        ticket = load(console.app, reference)
        assert ticket.status == TicketStatus.CLAIMED
        assert ticket.assigned_agent_id == winner.agent_id
        assert event_kinds(console.app, reference).count(TicketEventKind.CLAIMED) == 1
        seconds.extend(a.seconds for a in attempts)
    for member in team:
        member.http.close()

    print(
        f"\nHTTP claim race on {engine.dialect.name}: {ROUNDS} rounds x {AGENTS} "
        f"agents, one 303 and {AGENTS - 1} 409 each round; request time mean "
        f"{statistics.mean(seconds) * 1000:.1f} ms, median "
        f"{statistics.median(seconds) * 1000:.1f} ms, max "
        f"{max(seconds) * 1000:.1f} ms"
    )


def test_a_reply_sent_several_times_at_once_is_stored_once(console: Console) -> None:
    add_agent(console.app, "ada@support.example.com", name="Ada Agent")
    signed_in = sign_in(console, "ada@support.example.com")
    reference = new_ticket(console.app, conversation_id="web-double-click")
    page = signed_in.get(f"{console.url}/console/tickets/{reference}", timeout=TIMEOUT)
    key = REPLY_KEY.search(page.text)
    assert key is not None
    form = {"csrf_token": token_of(page), "reply_key": key[1], "text": "Just once"}
    # The same browser (its cookies) sends the same form on several connections.
    browsers = []
    for _ in range(CLICKS):
        http = requests.Session()
        http.cookies.update(signed_in.cookies)
        browsers.append(http)
    barrier = threading.Barrier(CLICKS)
    statuses: list[int] = []
    lock = threading.Lock()

    def click(http: requests.Session) -> None:
        barrier.wait(timeout=TIMEOUT)
        response = http.post(
            f"{console.url}/console/tickets/{reference}/reply",
            data=form,
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=click, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    for http in (signed_in, *browsers):
        http.close()
    assert statuses == [303] * CLICKS
    lines = transcript(console.app, reference)
    assert [(m.sender, m.text) for m in lines] == [(Sender.AGENT, "Just once")]
    assert [m.text for m in chat_messages(console.app, "web-double-click")] == [
        "Just once"
    ]
