"""The web app as production starts it (`python -m bot run web`), attacked over HTTP.

Slow clients that never finish their headers, one client opening every chat stream,
and a session cookie saved before sign-out and replayed after it. Only the web app
runs (no Rasa): none of this needs the assistant.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy.orm import Session

from bot.models import AgentRole
from bot.services.agents import create_agent
from tests.stack import free_port, launch, seeded_database, wait_until_up

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CUSTOMER = "jane.doe@example.com"
AGENT = "replay@agents.example.com"
AGENT_PASSWORD = secrets.token_urlsafe(16)
STREAM = "/chat/api/stream"
# Generous bounds: they catch a starved server, not a slow machine.
ANSWER_WITHIN = 15.0


@dataclass
class Web:
    url: str
    port: int
    log: Path


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """The web app on a free port, started by the launcher the Procfile uses."""
    var = tmp_path_factory.mktemp("web")
    database_url, engine = seeded_database(var)
    with Session(engine) as session, session.begin():
        create_agent(session, "Replay Agent", AGENT, AGENT_PASSWORD, AgentRole.AGENT)
    engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_VAR_DIR": str(var),
        "DATABASE_URL": database_url,
        "BIND_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "SECRET_KEY": secrets.token_hex(16),
        # No assistant: chat messages are stored and answered 503.
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "RASA_TELEMETRY_ENABLED": "false",
    }
    log = var / "web.log"
    process = launch("web", env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/healthz", process, log)
        yield Web(url=url, port=port, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _token(page: str) -> str:
    found = CSRF_FIELD.search(page)
    assert found is not None, "no form token on the page"
    return found[1]


def _shop_sign_in(web: Web) -> requests.Session:
    browser = requests.Session()
    token = _token(browser.get(f"{web.url}/", timeout=ANSWER_WITHIN).text)
    response = browser.post(
        f"{web.url}/shop/login",
        data={"email": CUSTOMER, "password": "demo", "csrf_token": token},
        timeout=ANSWER_WITHIN,
    )
    assert "Signed in as" in response.text
    return browser


# --- Slow clients ---------------------------------------------------------------


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """True once the server closed `sock` (whatever it sent first) before `deadline`."""
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        try:
            if not sock.recv(4096):
                return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


def test_slow_clients_do_not_starve_the_app(web: Web) -> None:
    """40 sockets that send half a header and stall: the shop still answers.

    The server drops them after its channel timeout.
    """
    stalled = []
    try:
        for _ in range(40):
            sock = socket.create_connection(("127.0.0.1", web.port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            stalled.append(sock)
        time.sleep(1)  # let the server take them all in
        shop = requests.get(f"{web.url}/", timeout=ANSWER_WITHIN)
        assert shop.status_code == 200
        assert "Sign in" in shop.text
        assert requests.get(f"{web.url}/healthz", timeout=ANSWER_WITHIN).ok

        # Header timeout: the server closes them (30 s idle, checked every 30 s).
        deadline = time.monotonic() + 90
        assert all(_closed_by_server(sock, deadline) for sock in stalled)
    finally:
        for sock in stalled:
            sock.close()


# --- Chat streams ---------------------------------------------------------------


def _open_stream(browser: requests.Session | None, web: Web) -> requests.Response:
    get = browser.get if browser is not None else requests.get
    return get(f"{web.url}{STREAM}", stream=True, timeout=ANSWER_WITHIN)


def _close_all(responses: list[requests.Response]) -> None:
    for response in responses:
        response.close()


def test_one_client_cannot_take_every_stream(web: Web) -> None:
    """16 cookieless streams and 8 fresh sessions from one address get a few streams.

    A signed-in customer (same address) still gets one, and it works.
    """
    held: list[requests.Response] = []
    try:
        cookieless = [_open_stream(None, web) for _ in range(16)]
        held += cookieless
        statuses = [response.status_code for response in cookieless]
        assert statuses == [200] + [429] * 15
        refusal = cookieless[1].json()
        assert refusal["error"] == "too_many_streams"
        assert refusal["scope"] == "client"
        assert cookieless[1].headers["Retry-After"] == "30"

        # Sessions cost one request each, so anonymous streams are counted by
        # address too: 4 (one of them taken above by the cookieless stream).
        sessions = [requests.Session() for _ in range(8)]
        for browser in sessions:
            browser.get(f"{web.url}/", timeout=ANSWER_WITHIN)
        anonymous = [_open_stream(browser, web) for browser in sessions]
        held += anonymous
        assert [r.status_code for r in anonymous] == [200] * 3 + [429] * 5

        customer = _shop_sign_in(web)
        mine = _open_stream(customer, web)
        held.append(mine)
        assert mine.status_code == 200
        lines = mine.iter_lines(decode_unicode=True)
        assert next(lines) == "retry: 2000"
        # The stream delivers at once: the customer's message is stored even
        # though the assistant is down (503), and pushed to the open stream.
        sent = customer.post(
            f"{web.url}/chat/api/messages",
            json={"text": "is my order on its way?"},
            headers={"Origin": web.url},
            timeout=ANSWER_WITHIN,
        )
        assert sent.status_code == 503
        data = next(line for line in lines if line.startswith("data: "))
        assert "is my order on its way?" in data
    finally:
        _close_all(held)


def _cookieless_stream_within(web: Web, seconds: float) -> requests.Response:
    """A cookieless stream (one per address) as soon as its slot is free."""
    deadline = time.monotonic() + seconds
    while True:
        response = _open_stream(None, web)
        if response.status_code == 200:
            return response
        response.close()
        assert time.monotonic() < deadline, "no stream slot came free"
        time.sleep(0.3)


def test_a_closed_stream_frees_its_slot_at_once(web: Web) -> None:
    """The server notices a closed tab within a poll, so dead tabs hold no slots.

    Not at the next keep-alive (15 s) or the end of the stream (25 s).
    """
    first = _cookieless_stream_within(web, 30)
    refused = _open_stream(None, web)
    assert refused.status_code == 429
    refused.close()
    first.close()
    _cookieless_stream_within(web, 8).close()


# --- Sign-out ---------------------------------------------------------------------


def test_a_shop_cookie_saved_before_sign_out_is_signed_out(web: Web) -> None:
    browser = _shop_sign_in(web)
    saved = browser.cookies["session"]
    token = _token(browser.get(f"{web.url}/", timeout=ANSWER_WITHIN).text)
    browser.post(
        f"{web.url}/shop/logout", data={"csrf_token": token}, timeout=ANSWER_WITHIN
    )
    assert "Signed in as" not in browser.get(f"{web.url}/", timeout=30).text

    replayed = requests.get(
        f"{web.url}/", cookies={"session": saved}, timeout=ANSWER_WITHIN
    )
    assert replayed.status_code == 200
    assert "Signed in as" not in replayed.text


def test_a_console_cookie_saved_before_sign_out_is_signed_out(web: Web) -> None:
    browser = requests.Session()
    token = _token(browser.get(f"{web.url}/console/login", timeout=30).text)
    signed_in = browser.post(
        f"{web.url}/console/login",
        data={"email": AGENT, "password": AGENT_PASSWORD, "csrf_token": token},
        timeout=ANSWER_WITHIN,
    )
    assert signed_in.status_code == 200 and "Replay Agent" in signed_in.text
    saved = browser.cookies["session"]
    browser.post(
        f"{web.url}/console/logout",
        data={"csrf_token": _token(signed_in.text)},
        timeout=ANSWER_WITHIN,
    )

    replayed = requests.get(
        f"{web.url}/console/",
        cookies={"session": saved},
        allow_redirects=False,
        timeout=ANSWER_WITHIN,
    )
    assert replayed.status_code == 302
    assert "/console/login" in replayed.headers["Location"]
    api = requests.get(
        f"{web.url}/console/api/queue", cookies={"session": saved}, timeout=30
    )
    assert api.status_code == 401
