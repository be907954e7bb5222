"""The console in several web processes: sign-in throttle and reply keys in Redis.

Two apps on one database and one Redis prefix stand for two web processes behind
the load balancer (throttle.py's SharedLoginThrottle, once.py's SharedOnceKeys).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from bot.settings import Settings
from bot.shared_state import SharedState
from bot.web.console.once import SharedOnceKeys
from bot.web.console.throttle import (
    CLIENT,
    EMAIL,
    Attempt,
    Refused,
    SharedLoginThrottle,
)
from tests.unit.conftest import REDIS_URL
from tests.unit.console.helpers import (
    FakeSms,
    add_agent,
    dispose,
    make_console_app,
    new_ticket,
    post,
    reply_key,
    rows_removed_after,
    sign_in,
    transcript,
)

ADA = "ada@support.example.com"


def with_redis(url: str, prefix: str) -> Settings:
    return dataclasses.replace(
        Settings.from_env(), redis_url=url, redis_key_prefix=prefix
    )


@pytest.fixture
def apps(
    engine: Engine, sms: FakeSms, shared_state: SharedState
) -> Iterator[tuple[Flask, Flask]]:
    settings = with_redis(REDIS_URL, shared_state.prefix)
    with rows_removed_after(engine):
        one = make_console_app(engine, sms, SETTINGS=settings)
        two = make_console_app(engine, sms, SETTINGS=settings)
        try:
            yield one, two
        finally:
            dispose(one)
            dispose(two)


def test_failed_sign_ins_count_in_every_process(apps: tuple[Flask, Flask]) -> None:
    one, two = apps
    add_agent(one, ADA)
    limit = one.config["CONSOLE_LOGIN_MAX_FAILURES"]
    browsers = [one.test_client(), two.test_client()]
    for n in range(limit):
        assert sign_in(browsers[n % 2], ADA, "wrong password").status_code == 401
    for browser in browsers:  # the next guess is refused wherever it goes
        assert sign_in(browser, ADA).status_code == 429


def test_a_reply_reaching_two_processes_is_sent_once(
    apps: tuple[Flask, Flask],
) -> None:
    one, two = apps
    add_agent(one, ADA)
    browsers: list[FlaskClient] = [one.test_client(), two.test_client()]
    for browser in browsers:  # the same agent's session works in both
        assert sign_in(browser, ADA).status_code == 303
    reference = new_ticket(one, conversation_id="web-two-processes")
    key = reply_key(browsers[0], reference)
    url = f"/console/tickets/{reference}/reply"
    for browser in browsers:  # a double click, each request to another process
        assert post(browser, url, text="Just once.", reply_key=key).status_code == 303
    assert [line.text for line in transcript(one, reference)] == ["Just once."]


def test_without_redis_nobody_signs_in_and_no_reply_goes_unchecked(
    apps: tuple[Flask, Flask], engine: Engine, sms: FakeSms, closed_port: int
) -> None:
    up, _ = apps
    add_agent(up, ADA)
    signed_in = up.test_client()
    assert sign_in(signed_in, ADA).status_code == 303
    reference = new_ticket(up, conversation_id="web-redis-down")
    key = reply_key(signed_in, reference)
    down = make_console_app(
        engine, sms, SETTINGS=with_redis(f"redis://127.0.0.1:{closed_port}/0", "x")
    )
    try:
        browser = down.test_client()
        refused = sign_in(browser, ADA)
        assert refused.status_code == 503
        assert "Signing in is unavailable" in refused.get_data(as_text=True)
        cookie = signed_in.get_cookie("session")
        assert cookie is not None
        browser.set_cookie("session", cookie.value)  # signed in elsewhere
        url = f"/console/tickets/{reference}/reply"
        reply = post(browser, url, text="Unchecked?", reply_key=key)
        assert reply.status_code == 503
        assert transcript(up, reference) == []
    finally:
        dispose(down)


def test_the_shared_throttle_keeps_the_same_window(shared_state: SharedState) -> None:
    throttle = SharedLoginThrottle(shared_state, per_email=3, per_client=3, window=60)
    for second in (0, 1, 2):
        assert isinstance(throttle.attempt("a", "ip", now=second), Attempt)
    assert throttle.attempt("a", "ip", now=10) == Refused(CLIENT, 50)
    assert throttle.wait(EMAIL, "a", now=10) == 50
    assert throttle.wait(EMAIL, "b", now=10) == 0
    late = throttle.attempt("a", "other", now=60.5)  # the first has expired
    assert isinstance(late, Attempt)
    throttle.succeeded(late)  # the email starts afresh, the address keeps its own
    assert throttle.wait(EMAIL, "a", now=61) == 0
    assert throttle.wait(CLIENT, "other", now=61) == 0
    keys = [
        key.decode()
        for key in shared_state.client.scan_iter(f"{shared_state.prefix}:*")
    ]
    assert keys and not any("ip" in key.split(":")[-1] for key in keys)  # hashed


def test_shared_reply_keys(shared_state: SharedState) -> None:
    keys = SharedOnceKeys(shared_state)
    assert keys.take(("reply", 3, "T-ABC", "k" * 22))
    assert not SharedOnceKeys(shared_state).take(("reply", 3, "T-ABC", "k" * 22))
    keys.give_back(("reply", 3, "T-ABC", "k" * 22))
    assert keys.take(("reply", 3, "T-ABC", "k" * 22))
