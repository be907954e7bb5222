"""Bad input at the website chat API and the demo sign-in (bot/web/chat.py, shop.py).

The Flask app runs on SQLite and PostgreSQL with a fake Rasa web chat channel on
loopback. Whatever a browser or a script sends, the answer is a clear 4xx or the
assistant's reply, never a 500; a refused message is neither stored nor forwarded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from bot.services.assistant_request import asks_for_the_assistant
from bot.services.back_to_bot import ALREADY_NOTICE
from bot.services.customer_text import MAX_MESSAGE_LENGTH
from tests.fakes.rasa_webchat import FakeRasaWebChat
from tests.unit.bad_input import (
    app_engine,
    form_texts,
    json_bytes,
    json_objects,
    json_values,
    raw_bytes,
    stored_nothing,
    texts,
)
from tests.unit.console.helpers import (
    FakeSms,
    app_on,
    snapshot,
)

MESSAGES, STREAM = "/chat/api/messages", "/chat/api/stream"
ORIGIN = {"Origin": "http://localhost"}
CONTENT_TYPES = (
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
)
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(engine: Engine, rasa: FakeRasaWebChat) -> Iterator[Flask]:
    config = {"RASA_URL": rasa.url, "RASA_TIMEOUT": 2.0, "CHAT_STREAM_SECONDS": 0.0}
    with app_on(engine, FakeSms(), **config) as made:
        yield made


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@given(
    body=raw_bytes(),
    content_type=st.sampled_from(CONTENT_TYPES),
    origin=st.sampled_from(
        (ORIGIN, {}, {"Origin": "null"}, {"Referer": "http://evil"})
    ),
)
def test_bodies_that_are_not_a_message_are_refused(
    app: Flask,
    client: FlaskClient,
    rasa: FakeRasaWebChat,
    body: bytes,
    content_type: str,
    origin: dict[str, str],
) -> None:
    before, forwarded = snapshot(app_engine(app)), len(rasa.received)
    response = client.post(
        MESSAGES, data=body, content_type=content_type, headers=origin
    )
    event(f"status {response.status_code}")
    assert response.status_code in (400, 403, 415), response.get_data(as_text=True)
    assert response.get_json()["message"]  # a sentence saying what to do
    assert len(rasa.received) == forwarded
    assert stored_nothing(app_engine(app), before)


@given(body=raw_bytes())
def test_any_body_sent_as_json_is_refused_with_400(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat, body: bytes
) -> None:
    before, forwarded = snapshot(app_engine(app)), len(rasa.received)
    response = client.post(
        MESSAGES, data=body, content_type="application/json", headers=ORIGIN
    )
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    assert response.get_json()["error"] == "bad_request"
    assert len(rasa.received) == forwarded
    assert stored_nothing(app_engine(app), before)


@given(
    body=st.one_of(
        json_values(),
        json_objects(
            {"text": st.one_of(texts(), json_values()), "payload": json_values()}
        ),
    )
)
def test_json_messages_are_answered_or_refused_with_400(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat, body: Any
) -> None:
    before, forwarded = snapshot(app_engine(app)), len(rasa.received)
    response = client.post(
        MESSAGES, data=json_bytes(body), content_type="application/json", headers=ORIGIN
    )
    event(f"status {response.status_code}")
    answer = response.get_json()
    text = body.get("text") if isinstance(body, dict) else None
    if response.status_code == 200:
        assert isinstance(text, str) and 0 < len(text.strip()) <= MAX_MESSAGE_LENGTH
        assert answer["messages"][0]["text"] == text.strip()
        return
    assert response.status_code == 400, answer
    assert answer["error"] in ("bad_request", "invalid_message") and answer["message"]
    assert len(rasa.received) == forwarded
    assert stored_nothing(app_engine(app), before)


@given(text=texts())
def test_any_text_is_stored_as_typed_or_refused(
    app: Flask, client: FlaskClient, text: str
) -> None:
    """Emoji, injections and 100 kB messages: stored verbatim, or a 400."""
    before = snapshot(app_engine(app))
    response = client.post(MESSAGES, json={"text": text}, headers=ORIGIN)
    if response.status_code == 400:
        assert stored_nothing(app_engine(app), before)
        return
    assert response.status_code == 200, response.get_data(as_text=True)
    history = client.get(MESSAGES).get_json()["messages"]
    answer = ALREADY_NOTICE if asks_for_the_assistant(text) else "Hello there!"
    assert [m["text"] for m in history[-2:]] == [text.strip(), answer]


AFTER = st.one_of(
    st.integers(0, 10**6).map(str),
    st.integers().map(str),
    st.sampled_from(("9" * 30, "9" * 5000, "-5", "1_000", " 7 ", "٣", "0x10", "1e3")),
    form_texts(max_size=40, long=300),
)


# An HTTP header cannot carry a line break (no client can send one).
HEADER_VALUES = AFTER.filter(lambda value: "\r" not in value and "\n" not in value)


@given(after=AFTER, last_event=st.one_of(st.none(), HEADER_VALUES))
def test_history_and_stream_take_any_after(
    client: FlaskClient, after: str, last_event: str | None
) -> None:
    headers = {} if last_event is None else {"Last-Event-ID": last_event}
    for path in (MESSAGES, STREAM):
        response = client.get(path, query_string={"after": after}, headers=headers)
        body = response.get_data(as_text=True)  # runs the stream to its end
        response.close()  # as the server does: the stream's slot is given back
        event(f"{path} {response.status_code}")
        assert response.status_code in (200, 400), body
        if response.status_code == 400:
            assert response.get_json()["error"] == "invalid_after"


def form_token(client: FlaskClient) -> str:
    match = FORM_TOKEN.search(client.get("/").get_data(as_text=True))
    assert match is not None
    return match[1]


@given(
    email=st.one_of(form_texts(), st.just("jane.doe@example.com")),
    password=st.one_of(form_texts(), st.just("demo")),
    token=st.sampled_from(("page", "none", "wrong")),
)
def test_demo_sign_in_takes_any_form(
    app: Flask, client: FlaskClient, email: str, password: str, token: str
) -> None:
    before = snapshot(app_engine(app))
    data = {"email": email, "password": password}
    if token != "none":
        data["csrf_token"] = form_token(client) if token == "page" else "x" * 43
    response = client.post("/shop/login", data=data)
    event(f"status {response.status_code}")
    assert response.status_code in (303, 302, 400, 401), response.status_code
    # Signing in stores only where the customer's web updates go (the conversation).
    after = snapshot(app_engine(app))
    after["web_chat_sessions"] = before["web_chat_sessions"]
    assert after == before
    client.post("/shop/logout", data={"csrf_token": form_token(client)})
