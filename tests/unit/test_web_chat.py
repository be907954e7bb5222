"""The website chat API and demo sign-in, with a fake Rasa web chat channel."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import migrate
from bot.db import make_engine
from bot.models import ChatMessage, Customer, Sender
from bot.seed import seed_demo_data
from bot.signing import sign_body
from bot.web import create_app
from bot.web.chat import CONVERSATION_KEY, UNAVAILABLE
from tests.fakes.rasa_webchat import FakeRasaWebChat

ORIGIN = {"Origin": "http://localhost"}
MESSAGES = "/chat/api/messages"


@pytest.fixture
def rasa() -> Iterator[FakeRasaWebChat]:
    fake = FakeRasaWebChat(replies=[{"recipient_id": "x", "text": "Hello there!"}])
    yield fake.start()
    fake.stop()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        seed_demo_data(session)
    engine.dispose()
    return url


def make_app(database_url: str, rasa_url: str, **config: Any) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "RASA_URL": rasa_url,
            "RASA_TIMEOUT": 2.0,
            "CHAT_STREAM_SECONDS": 0.0,
            **config,
        }
    )


@pytest.fixture
def app(database_url: str, rasa: FakeRasaWebChat) -> Flask:
    return make_app(database_url, rasa.url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def say(client: FlaskClient, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        MESSAGES, json=body, headers=ORIGIN if headers is None else headers
    )


def stored(app: Flask) -> list[ChatMessage]:
    with app.extensions["session_factory"]() as session:
        return list(session.scalars(select(ChatMessage).order_by(ChatMessage.id)))


def login(client: FlaskClient, email: str, password: str) -> Any:
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return client.post(
        "/shop/login",
        data={"email": email, "password": password, "csrf_token": token[1]},
    )


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_conversation_id_is_issued_and_kept(
    client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    say(client, {"text": "hi"})
    say(client, {"text": "where is my order 104257"})
    senders = {forwarded.json["sender"] for forwarded in rasa.received}
    assert len(senders) == 1
    (sender,) = senders
    assert re.fullmatch(r"web-[\w-]{22}", sender)
    with client.session_transaction() as session:
        assert session[CONVERSATION_KEY] == sender
    # Another browser gets another conversation.
    other = client.application.test_client()
    say(other, {"text": "hi"})
    assert rasa.received[-1].json["sender"] != sender


def test_messages_are_signed_and_stored(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    rasa.replies = [
        {"recipient_id": "x", "text": "Your order 104257 has shipped."},
        {
            "recipient_id": "x",
            "text": "Anything else?",
            "buttons": [{"title": "No thanks", "payload": "/deny"}],
        },
    ]
    response = say(client, {"text": "  where is my order 104257  "})
    assert response.status_code == 200
    messages = response.get_json()["messages"]
    assert [(m["sender"], m["text"]) for m in messages] == [
        ("customer", "where is my order 104257"),
        ("bot", "Your order 104257 has shipped."),
        ("bot", "Anything else?"),
    ]
    assert messages[2]["buttons"] == [{"title": "No thanks", "payload": "/deny"}]
    forwarded = rasa.received[0]
    assert forwarded.signature == sign_body(forwarded.body, app.config["SECRET_KEY"])
    assert forwarded.json["message"] == "where is my order 104257"
    assert forwarded.json["customer_id"] is None
    rows = stored(app)
    assert [row.sender for row in rows] == [Sender.CUSTOMER, Sender.BOT, Sender.BOT]
    assert [row.id for row in rows] == [m["id"] for m in messages]
    assert json.loads(rows[2].payload or "") == {
        "buttons": [{"title": "No thanks", "payload": "/deny"}]
    }
    assert {row.conversation_id for row in rows} == {forwarded.json["sender"]}


def test_a_button_shows_its_title_and_sends_its_payload(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    response = say(client, {"text": "No thanks", "payload": "/deny"})
    assert response.status_code == 200
    assert rasa.received[0].json["message"] == "/deny"
    assert stored(app)[0].text == "No thanks"


def test_history_returns_rows_after_an_id(client: FlaskClient) -> None:
    first = say(client, {"text": "hi"}).get_json()["messages"]
    second = say(client, {"text": "hello again"}).get_json()["messages"]
    everything = client.get(MESSAGES).get_json()["messages"]
    assert everything == first + second
    after = client.get(f"{MESSAGES}?after={first[-1]['id']}").get_json()["messages"]
    assert after == second
    assert client.application.test_client().get(MESSAGES).get_json() == {"messages": []}
    assert client.get(f"{MESSAGES}?after=abc").status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": ""}, "Type a message before sending."),
        ({"text": "   "}, "Type a message before sending."),
        ({}, "Type a message before sending."),
        ({"text": "x" * 2001}, "Messages can be at most 2000 characters."),
        ({"text": 42}, "'text' must be a string."),
        (["hi"], 'Send a JSON object like {"text": "hi"}.'),
    ],
)
def test_invalid_messages_are_refused(
    app: Flask,
    client: FlaskClient,
    rasa: FakeRasaWebChat,
    body: Any,
    message: str,
) -> None:
    response = say(client, body)
    assert response.status_code == 400
    assert response.get_json()["message"] == message
    assert stored(app) == [] and rasa.received == []


def test_longest_message_is_accepted(client: FlaskClient) -> None:
    assert say(client, {"text": "x" * 2000}).status_code == 200


def test_malformed_json_is_refused(client: FlaskClient) -> None:
    response = client.post(
        MESSAGES, data="{not json", content_type="application/json", headers=ORIGIN
    )
    assert response.status_code == 400


@pytest.mark.parametrize("timeout", [False, True])
def test_rasa_down_keeps_the_message(
    database_url: str, rasa: FakeRasaWebChat, timeout: bool
) -> None:
    if timeout:
        rasa.delay = 1.5
        app = make_app(database_url, rasa.url, RASA_TIMEOUT=0.5)
    else:
        app = make_app(database_url, closed_port_url())
    response = say(app.test_client(), {"text": "where is my order 104257"})
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "assistant_unavailable"
    assert body["message"] == UNAVAILABLE
    assert [m["text"] for m in body["messages"]] == ["where is my order 104257"]
    assert [(row.sender, row.text) for row in stored(app)] == [
        (Sender.CUSTOMER, "where is my order 104257")
    ]


def test_rasa_error_is_unavailable(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    rasa.status = 500
    assert say(client, {"text": "hi"}).status_code == 503
    assert len(stored(app)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Origin": "http://localhost.evil.example"},
    ],
)
def test_cross_origin_requests_are_refused(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat, headers: dict[str, str]
) -> None:
    response = say(client, {"text": "hi"}, headers=headers)
    assert response.status_code == 403
    assert stored(app) == [] and rasa.received == []


def test_same_origin_referer_is_enough(client: FlaskClient) -> None:
    headers = {"Referer": "http://localhost/"}
    assert say(client, {"text": "hi"}, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded"]
)
def test_non_json_posts_are_refused(
    app: Flask, client: FlaskClient, content_type: str
) -> None:
    response = client.post(
        MESSAGES, data='{"text": "hi"}', content_type=content_type, headers=ORIGIN
    )
    assert response.status_code == 415
    assert stored(app) == []


def test_stream_pushes_rows_stored_later(app: Flask, client: FlaskClient) -> None:
    messages = say(client, {"text": "can I talk to a human"}).get_json()["messages"]
    with client.session_transaction() as session:
        conversation = session[CONVERSATION_KEY]
    with app.extensions["session_factory"].begin() as db:
        db.add(
            ChatMessage(
                conversation_id=conversation,
                sender=Sender.AGENT,
                text="Hi, I'm Maria. Let me look into it.",
                payload=json.dumps({"agent_name": "Maria"}),
            )
        )
    response = client.get(f"/chat/api/stream?after={messages[-1]['id']}")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = [
        json.loads(line[len("data: ") :])
        for line in response.get_data(as_text=True).splitlines()
        if line.startswith("data: ")
    ]
    assert [(e["sender"], e["text"], e["agent_name"]) for e in events] == [
        ("agent", "Hi, I'm Maria. Let me look into it.", "Maria")
    ]
    # A reconnecting browser resumes after the last event it saw.
    resumed = client.get(
        "/chat/api/stream?after=0", headers={"Last-Event-ID": str(events[0]["id"])}
    )
    assert "data: " not in resumed.get_data(as_text=True)


def test_signed_in_customer_is_vouched_for(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    response = login(client, "Jane.Doe@example.com ", "demo")
    assert response.status_code == 302
    assert "Signed in as <strong>Jane Doe</strong>" in client.get("/").get_data(
        as_text=True
    )
    say(client, {"text": "where is my order 104257"})
    with app.extensions["session_factory"]() as db:
        jane = db.scalars(
            select(Customer).where(Customer.email == "jane.doe@example.com")
        ).one()
    assert rasa.received[0].json["customer_id"] == jane.id


def test_the_browser_cannot_claim_a_customer(
    client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    say(client, {"text": "hi", "customer_id": 1})
    assert rasa.received[0].json["customer_id"] is None


def test_wrong_password_is_refused(client: FlaskClient) -> None:
    response = login(client, "jane.doe@example.com", "letmein")
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "customer_id" not in session


def test_unknown_email_is_refused(client: FlaskClient) -> None:
    assert login(client, "nobody@example.com", "demo").status_code == 401


def test_login_without_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post(
        "/shop/login", data={"email": "jane.doe@example.com", "password": "demo"}
    )
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert "customer_id" not in session


def test_sign_out_forgets_customer_and_conversation(
    client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    login(client, "jane.doe@example.com", "demo")
    say(client, {"text": "hi"})
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    assert client.post("/shop/logout", data={"csrf_token": token[1]}).status_code == 302
    assert client.get(MESSAGES).get_json() == {"messages": []}
    say(client, {"text": "hi"})
    assert rasa.received[1].json["customer_id"] is None
    assert rasa.received[1].json["sender"] != rasa.received[0].json["sender"]


def test_shop_page_has_products_widget_and_cookie_flags(client: FlaskClient) -> None:
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert "Brass desk lamp" in page and "widget.js" in page
    assert 'name="csrf_token"' in page
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert client.get("/static/widget.js").status_code == 200


def test_registration_landing_page(client: FlaskClient) -> None:
    response = client.get("/register")
    assert response.status_code == 200
    assert "Create your account" in response.get_data(as_text=True)
