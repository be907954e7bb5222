"""The website chat API and demo sign-in, with a fake Rasa web chat channel."""

from __future__ import annotations

import json
import re
import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import migrate
from bot.db import make_engine
from bot.models import (
    Channel,
    ChatMessage,
    Customer,
    Sender,
    Ticket,
    TicketCategory,
    TicketMessage,
)
from bot.proactive.schema import ContactConsent
from bot.seed import seed_demo_data
from bot.services import back_to_bot, handoff
from bot.services import tickets as ticket_service
from bot.services.customers import NewCustomer, upsert_customer
from bot.settings import Settings
from bot.signing import sign_body
from bot.web import create_app
from bot.web.auth import SIGNED_IN_AT_KEY
from bot.web.chat import CONVERSATION_KEY, NOT_TAKEN, UNAVAILABLE
from bot.web.security import TOKEN_KEY
from bot.web.stream import Quota, StreamSlots, TooManyStreams
from tests.fakes.rasa_webchat import FakeRasaWebChat

ORIGIN = {"Origin": "http://localhost"}
MESSAGES = "/chat/api/messages"


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


OFFER = {
    "recipient_id": "x",
    "text": "Would you like to talk to a person?",
    "buttons": [
        {"title": "Yes, please", "payload": "/affirm"},
        {"title": "No thanks", "payload": "/deny"},
    ],
}


def test_forwarded_body_is_timestamped_with_a_fresh_nonce(
    client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    before = time.time()
    say(client, {"text": "hi"})
    say(client, {"text": "hi"})
    first, second = (forwarded.json for forwarded in rasa.received)
    assert before - 1 <= first["timestamp"] <= time.time() + 1
    assert isinstance(first["nonce"], str) and len(first["nonce"]) >= 32
    assert first["nonce"] != second["nonce"]


def test_a_button_shows_its_title_and_sends_its_payload(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    rasa.replies = [OFFER]
    say(client, {"text": "where is my order"})
    response = say(client, {"text": "No thanks", "payload": "/deny"})
    assert response.status_code == 200
    assert rasa.received[1].json["message"] == "/deny"
    assert stored(app)[2].text == "No thanks"


def test_a_button_in_an_earlier_message_of_the_reply_counts(
    client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    rasa.replies = [OFFER, {"recipient_id": "x", "text": "Or ask me anything."}]
    say(client, {"text": "help"})
    say(client, {"text": "Yes, please", "payload": "/affirm"})
    assert rasa.received[1].json["message"] == "/affirm"


@pytest.mark.parametrize(
    "body",
    [
        # A payload no button carries (an intent with entities the customer can't see).
        {"text": "No thanks", "payload": '/inform{"order_number": "104258"}'},
        # An offered payload under another title than its button's.
        {"text": "I want a refund", "payload": "/deny"},
    ],
)
def test_a_payload_that_was_not_offered_is_ignored(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat, body: dict[str, str]
) -> None:
    rasa.replies = [OFFER]
    say(client, {"text": "hello"})
    response = say(client, body)
    assert response.status_code == 200
    assert rasa.received[1].json["message"] == body["text"]
    assert stored(app)[2].text == body["text"]


def test_without_any_buttons_a_payload_is_ignored(
    client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    say(client, {"text": "Talk to a person", "payload": "/request_human"})
    assert rasa.received[0].json["message"] == "Talk to a person"


def test_buttons_of_an_older_reply_are_no_longer_offered(
    client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    rasa.replies = [OFFER]
    say(client, {"text": "hello"})
    rasa.replies = [{"recipient_id": "x", "text": "Anything else?"}]
    say(client, {"text": "what are your opening hours"})
    say(client, {"text": "No thanks", "payload": "/deny"})
    assert rasa.received[2].json["message"] == "No thanks"


def test_buttons_stay_offered_while_the_assistant_is_down(
    client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    rasa.replies = [OFFER]
    say(client, {"text": "hello"})
    rasa.status = 500
    assert say(client, {"text": "No thanks", "payload": "/deny"}).status_code == 503
    rasa.status = 200
    say(client, {"text": "No thanks", "payload": "/deny"})
    assert [f.json["message"] for f in rasa.received] == ["hello", "/deny", "/deny"]


def test_buttons_of_another_conversation_are_not_offered(
    client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    rasa.replies = [OFFER]
    say(client, {"text": "hello"})
    other = client.application.test_client()
    say(other, {"text": "No thanks", "payload": "/deny"})
    assert rasa.received[1].json["message"] == "No thanks"


def hand_to_a_person(app: Flask, client: FlaskClient) -> int:
    """What the assistant's handoff action does: a ticket holds the conversation."""
    with client.session_transaction() as cookie:
        conversation = cookie[CONVERSATION_KEY]
    with app.extensions["session_factory"].begin() as session:
        ticket = ticket_service.open_ticket(
            session,
            ticket_service.TicketRequest(
                channel=Channel.WEB,
                category=TicketCategory.HANDOFF,
                subject="Conversation handed off to a person",
                conversation_id=conversation,
                handed_off=True,
            ),
        )
        handoff.hold(session, ticket, conversation)
        return ticket.id


def transcript_of(app: Flask, ticket_id: int) -> list[tuple[Sender, str]]:
    with app.extensions["session_factory"]() as session:
        rows = session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket_id)
            .order_by(TicketMessage.id)
        )
        return [(row.sender, row.text) for row in rows]


def test_a_held_conversation_goes_to_the_agent_not_the_assistant(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    rasa.replies = [OFFER]
    say(client, {"text": "i need help"})
    ticket_id = hand_to_a_person(app, client)
    response = say(client, {"text": "  is anyone there?  "})
    assert response.status_code == 200
    body = response.get_json()
    assert body["held"] is True
    [message] = body["messages"]
    assert (message["sender"], message["text"]) == ("customer", "is anyone there?")
    # A button of the assistant's last reply goes to the agent as its title.
    clicked = say(client, {"text": "Yes, please", "payload": "/affirm"}).get_json()
    assert clicked["held"] is True and clicked["messages"][0]["text"] == "Yes, please"
    assert [f.json["message"] for f in rasa.received] == ["i need help"]
    assert [(row.sender, row.text) for row in stored(app)][-2:] == [
        (Sender.CUSTOMER, "is anyone there?"),
        (Sender.CUSTOMER, "Yes, please"),
    ]
    assert transcript_of(app, ticket_id) == [
        (Sender.CUSTOMER, "is anyone there?"),
        (Sender.CUSTOMER, "Yes, please"),
    ]


def test_the_assistant_answers_again_once_the_conversation_is_handed_back(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    say(client, {"text": "hi"})
    ticket_id = hand_to_a_person(app, client)
    assert say(client, {"text": "hello?"}).get_json()["held"] is True
    with app.extensions["session_factory"].begin() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        handoff.release(session, ticket)
    body = say(client, {"text": "thanks"}).get_json()
    assert "held" not in body
    assert [m["sender"] for m in body["messages"]] == ["customer", "bot"]
    assert [f.json["message"] for f in rasa.received] == ["hi", "thanks"]


def test_asking_for_the_assistant_gets_it_back_with_a_notice(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    say(client, {"text": "hi"})
    ticket_id = hand_to_a_person(app, client)
    body = say(client, {"text": "talk to the assistant"}).get_json()
    assert "held" not in body
    customer, notice = body["messages"]
    assert (customer["sender"], customer["text"]) == (
        "customer",
        "talk to the assistant",
    )
    assert (
        notice["sender"] == "system"
        and "You're back with our assistant" in (notice["text"])
    )
    assert [(r.sender, r.text) for r in stored(app)][-1] == (
        Sender.SYSTEM,
        notice["text"],
    )
    assert transcript_of(app, ticket_id) == [
        (Sender.CUSTOMER, "talk to the assistant"),
        (Sender.SYSTEM, notice["text"]),
    ]
    assert [f.json["message"] for f in rasa.received] == ["hi"]
    # The assistant answers the next message.
    body = say(client, {"text": "where is my order"}).get_json()
    assert [m["sender"] for m in body["messages"]] == ["customer", "bot"]
    assert [f.json["message"] for f in rasa.received] == ["hi", "where is my order"]


def test_asking_for_the_assistant_it_has_already_is_answered_without_rasa(
    client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    body = say(client, {"text": "can I talk to the bot"}).get_json()
    assert [(m["sender"], m["text"]) for m in body["messages"]][1:] == [
        ("system", back_to_bot.ALREADY_NOTICE)
    ]
    assert rasa.received == []


def test_another_conversation_is_not_held(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    say(client, {"text": "hi"})
    hand_to_a_person(app, client)
    other = client.application.test_client()
    assert "held" not in say(other, {"text": "hi"}).get_json()
    assert len(rasa.received) == 2


def test_history_returns_rows_after_an_id(client: FlaskClient) -> None:
    first = say(client, {"text": "hi"}).get_json()["messages"]
    second = say(client, {"text": "hello again"}).get_json()["messages"]
    everything = client.get(MESSAGES).get_json()["messages"]
    assert everything == first + second
    after = client.get(f"{MESSAGES}?after={first[-1]['id']}").get_json()["messages"]
    assert after == second
    assert client.application.test_client().get(MESSAGES).get_json() == {"messages": []}
    assert client.get(f"{MESSAGES}?after=abc").status_code == 400
    # Beyond every id (SQLite cannot even bind one above 2**63): a 400, not a 500.
    assert client.get(f"{MESSAGES}?after={2**64}").status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": ""}, "Type a message before sending."),
        ({"text": "   "}, "Type a message before sending."),
        ({}, "Type a message before sending."),
        ({"text": "x" * 2001}, "Messages can be at most 2000 characters."),
        ({"text": 42}, "'text' must be a string."),
        (
            {"text": "hi\u0000there"},
            "The message contains characters that can't be stored.",
        ),
        (
            {"text": "hi \ud800"},
            "The message contains characters that can't be stored.",
        ),
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


@pytest.mark.parametrize("body", ["{not json", "[" * 100_000])  # too deep for Python
def test_malformed_json_is_refused(client: FlaskClient, body: str) -> None:
    response = client.post(
        MESSAGES, data=body, content_type="application/json", headers=ORIGIN
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
    with client.get(f"/chat/api/stream?after={messages[-1]['id']}") as response:
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
    with client.get(
        "/chat/api/stream?after=0", headers={"Last-Event-ID": str(events[0]["id"])}
    ) as resumed:
        assert "data: " not in resumed.get_data(as_text=True)


STREAM = "/chat/api/stream"


def test_open_streams_per_session_are_limited(app: Flask, client: FlaskClient) -> None:
    slots: StreamSlots = app.extensions["chat_stream_slots"]
    first, second = client.get(STREAM), client.get(STREAM)
    assert (first.status_code, second.status_code) == (200, 200)
    refused = client.get(STREAM)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert refused.get_json()["error"] == "too_many_streams"
    assert refused.get_json()["scope"] == "session"
    # Another session still gets one.
    other_client = app.test_client()
    other_client.get("/")
    with other_client.get(STREAM) as other:
        assert other.status_code == 200
    # A stream that ends (or whose browser goes away) frees its slot.
    first.close()
    with client.get(STREAM) as again:
        assert again.status_code == 200
    second.close()
    assert slots.open_count() == 0


def test_open_streams_in_all_are_limited(
    database_url: str, rasa: FakeRasaWebChat
) -> None:
    app = make_app(
        database_url, rasa.url, CHAT_MAX_STREAMS=3, CHAT_STREAM_RETRY_AFTER=7.5
    )
    held = [with_session(app).get(STREAM) for _ in range(3)]
    assert [r.status_code for r in held] == [200, 200, 200]
    refused = with_session(app).get(STREAM)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "8"
    assert refused.get_json()["scope"] == "total"
    held[0].close()
    with with_session(app).get(STREAM) as response:
        assert response.status_code == 200
    for response in held[1:]:
        response.close()


def test_finished_streams_free_their_slots(app: Flask, client: FlaskClient) -> None:
    for _ in range(5):
        with client.get(STREAM) as response:
            assert response.status_code == 200
            response.get_data()
    assert app.extensions["chat_stream_slots"].open_count() == 0


def with_session(app: Flask) -> FlaskClient:
    """A browser that loaded the shop page, so it has a conversation."""
    client = app.test_client()
    client.get("/")
    return client


def test_cookieless_streams_are_limited_strictly(app: Flask) -> None:
    """Each cookieless request is a new conversation, so it has a per-client limit.

    Without it, one client could open every stream.
    """
    first = app.test_client().get(STREAM)
    assert first.status_code == 200
    refused = [app.test_client().get(STREAM) for _ in range(15)]
    assert {r.status_code for r in refused} == {429}
    assert {r.get_json()["scope"] for r in refused} == {"client"}
    first.close()
    assert app.extensions["chat_stream_slots"].open_count() == 0


def test_anonymous_streams_are_limited_per_address(app: Flask) -> None:
    held = [with_session(app).get(STREAM) for _ in range(4)]
    assert [r.status_code for r in held] == [200] * 4
    refused = with_session(app).get(STREAM)
    assert refused.status_code == 429
    assert refused.get_json()["scope"] == "client"
    # Another address still gets one.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    other.get("/")
    with other.get(STREAM) as response:
        assert response.status_code == 200
    for response in held:
        response.close()


def test_signed_in_customers_are_counted_apart(app: Flask) -> None:
    """A customer gets a stream where the address's anonymous streams are all open.

    Their own limit is per customer.
    """
    held = [with_session(app).get(STREAM) for _ in range(4)]
    held += [app.test_client().get(STREAM)]
    customer = app.test_client()
    login(customer, "jane.doe@example.com", "demo")
    mine = [customer.get(STREAM) for _ in range(2)]
    assert [r.status_code for r in mine] == [200, 200]
    for _ in range(2):  # two more browsers signed in as the same customer
        other = app.test_client()
        login(other, "jane.doe@example.com", "demo")
        mine += [other.get(STREAM) for _ in range(2)]
    assert [r.status_code for r in mine] == [200] * 4 + [429] * 2
    assert mine[-1].get_json()["scope"] == "client"
    for response in held + mine:
        response.close()
    assert app.extensions["chat_stream_slots"].open_count() == 0


def test_stream_slots_count_every_quota_and_release_once() -> None:
    slots = StreamSlots(total=3)
    session_a = Quota("session", "session:a", 1)
    client = Quota("client", "address:x", 2)
    release = slots.acquire([session_a, client])
    with pytest.raises(TooManyStreams) as refused:
        slots.acquire([session_a, client])
    assert refused.value.scope == "session"
    other = slots.acquire([Quota("session", "session:b", 1), client])
    with pytest.raises(TooManyStreams, match="client"):
        slots.acquire([Quota("session", "session:c", 1), client])
    third = slots.acquire([Quota("session", "session:c", 1)])
    with pytest.raises(TooManyStreams, match="total"):
        slots.acquire([Quota("session", "session:d", 1)])
    release()
    release()  # a second close changes nothing
    assert slots.open_count("session:a") == 0
    assert slots.open_count("address:x") == 1 and slots.open_count() == 2
    other()
    third()
    assert slots.open_count() == 0 and slots.open_count("address:x") == 0


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


def session_of(client: FlaskClient) -> dict[str, Any]:
    with client.session_transaction() as session:
        return dict(session)


def test_sign_in_starts_a_new_session(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    client.get("/")
    say(client, {"text": "hi"})
    before = session_of(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    # Someone who copied (or planted) the cookie before sign-in...
    copied = app.test_client()
    copied.set_cookie("session", cookie.value)
    assert login(client, "jane.doe@example.com", "demo").status_code == 302
    after = session_of(client)
    assert after[CONVERSATION_KEY] != before[CONVERSATION_KEY]
    assert after[TOKEN_KEY] != before[TOKEN_KEY]
    assert client.get(MESSAGES).get_json() == {"messages": []}
    rasa.replies = [{"recipient_id": "x", "text": "Order 104257 has shipped."}]
    say(client, {"text": "where is my order 104257"})
    assert rasa.received[-1].json["sender"] == after[CONVERSATION_KEY]
    assert rasa.received[-1].json["customer_id"] is not None
    # ...never reads the signed-in customer's conversation, nor speaks for them.
    texts = [m["text"] for m in copied.get(MESSAGES).get_json()["messages"]]
    assert texts == ["hi", "Hello there!"]
    say(copied, {"text": "and my other orders?"})
    assert rasa.received[-1].json["sender"] == before[CONVERSATION_KEY]
    assert rasa.received[-1].json["customer_id"] is None


def test_the_form_token_from_before_sign_in_no_longer_works(
    client: FlaskClient,
) -> None:
    client.get("/")
    old_token = session_of(client)[TOKEN_KEY]
    login(client, "jane.doe@example.com", "demo")
    response = client.post("/shop/logout", data={"csrf_token": old_token})
    assert response.status_code == 400
    assert "customer_id" in session_of(client)


def test_sign_in_ends_after_the_session_lifetime(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    login(client, "jane.doe@example.com", "demo")
    say(client, {"text": "hi"})
    conversation = session_of(client)[CONVERSATION_KEY]
    lifetime = app.permanent_session_lifetime.total_seconds()
    with client.session_transaction() as session:
        session[SIGNED_IN_AT_KEY] = int(time.time() - lifetime - 5)
    assert client.get(MESSAGES).get_json() == {"messages": []}
    assert "Signed in as" not in client.get("/").get_data(as_text=True)
    say(client, {"text": "hi"})
    assert rasa.received[-1].json["customer_id"] is None
    assert rasa.received[-1].json["sender"] != conversation


def test_sessions_are_permanent_for_twelve_hours(
    app: Flask, client: FlaskClient
) -> None:
    assert app.permanent_session_lifetime == timedelta(hours=12)
    cookie = client.get("/").headers["Set-Cookie"]
    assert "Expires=" in cookie
    assert "Secure" not in cookie  # local http by default
    assert session_of(client)["_permanent"] is True


def test_secure_cookie_setting(
    monkeypatch: pytest.MonkeyPatch, database_url: str, rasa: FakeRasaWebChat
) -> None:
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    assert Settings.from_env().session_cookie_secure is True
    app = make_app(database_url, rasa.url)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert "Secure" in app.test_client().get("/").headers["Set-Cookie"]
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "ture")
    with pytest.raises(ValueError, match="SESSION_COOKIE_SECURE"):
        Settings.from_env()
    monkeypatch.delenv("SESSION_COOKIE_SECURE")
    assert Settings.from_env().session_cookie_secure is False


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
    # PostgreSQL cannot compare a NUL: refused before any query.
    assert login(client, "jane.doe@example.com\x00", "demo").status_code == 401


def test_only_demo_customers_sign_in_with_the_demo_password(
    app: Flask, client: FlaskClient
) -> None:
    with app.extensions["session_factory"].begin() as session:
        upsert_customer(session, NewCustomer("Real Person", "real@example.com", None))
    assert login(client, "real@example.com", "demo").status_code == 401


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


def test_a_cookie_saved_before_sign_out_is_signed_out(
    app: Flask, client: FlaskClient, rasa: FakeRasaWebChat
) -> None:
    """Sign-out ends the sign-in on the server.

    The same cookie replayed later (same browser, or copied to another) no longer
    speaks for the customer.
    """
    login(client, "jane.doe@example.com", "demo")
    saved = client.get_cookie("session")
    assert saved is not None
    other_device = app.test_client()
    login(other_device, "jane.doe@example.com", "demo")
    token = session_of(client)[TOKEN_KEY]
    assert client.post("/shop/logout", data={"csrf_token": token}).status_code == 302

    replay = app.test_client()
    replay.set_cookie("session", saved.value)
    assert "Signed in as" not in replay.get("/").get_data(as_text=True)
    assert "customer_id" not in session_of(replay)
    say(replay, {"text": "where is my order 104257"})
    assert rasa.received[-1].json["customer_id"] is None
    # Signing out ends the customer's other sessions too.
    assert "Signed in as" not in other_device.get("/").get_data(as_text=True)
    # Signing in again works, with a new session.
    login(client, "jane.doe@example.com", "demo")
    assert "Signed in as" in client.get("/").get_data(as_text=True)


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


def test_the_database_down_the_message_is_refused_clearly(
    database_url: str, rasa: FakeRasaWebChat, closed_port: int
) -> None:
    app = make_app(f"postgresql://postgres@127.0.0.1:{closed_port}/shop", rasa.url)
    client = app.test_client()
    client.get("/")
    answer = say(client, {"text": "where is my order 104257"})
    assert answer.status_code == 503
    assert answer.get_json() == {
        "error": "database_unavailable", "message": NOT_TAKEN,
    }  # fmt: skip
    assert "send it again" in NOT_TAKEN
    assert rasa.received == []  # the assistant was not asked


# --- order updates: the signed-in customer's choice (source "web_chat") ----------

UPDATES = "/chat/api/updates"


def choose(client: FlaskClient, body: Any, headers: dict[str, str] = ORIGIN) -> Any:
    return client.post(UPDATES, json=body, headers=headers)


def consents(app: Flask) -> list[tuple[str, str, bool, str]]:
    with app.extensions["session_factory"]() as session:
        rows = session.execute(
            select(Customer.email, ContactConsent)
            .join(Customer, Customer.id == ContactConsent.customer_id)
            .order_by(ContactConsent.channel)
        )
        return [
            (email, row.channel.value, row.granted, row.source.value)
            for email, row in rows
        ]


def test_a_signed_in_customer_opts_in_and_out_from_the_chat(
    app: Flask, client: FlaskClient
) -> None:
    login(client, "jane.doe@example.com", "demo")
    assert client.get(UPDATES).get_json() == {"sms": False, "web": False}
    response = choose(client, {"web": True, "sms": True})
    assert (response.status_code, response.get_json()) == (
        200, {"sms": True, "web": True},
    )  # fmt: skip
    assert client.get(UPDATES).get_json() == {"sms": True, "web": True}
    assert choose(client, {"sms": False}).get_json() == {"sms": False, "web": True}
    assert consents(app) == [
        ("jane.doe@example.com", "sms", False, "web_chat"),
        ("jane.doe@example.com", "web", True, "web_chat"),
    ]


def test_nobody_signed_in_cannot_choose(app: Flask, client: FlaskClient) -> None:
    assert client.get(UPDATES).status_code == 401
    response = choose(client, {"web": True})
    assert (response.status_code, response.get_json()["error"]) == (
        401, "sign_in_required",
    )  # fmt: skip
    assert consents(app) == []


def test_updates_by_text_need_a_phone_on_the_account(
    app: Flask, client: FlaskClient
) -> None:
    login(client, "tom.obrien@example.com", "demo")  # the demo customer without a phone
    response = choose(client, {"web": True, "sms": True})
    assert (response.status_code, response.get_json()["error"]) == (409, "no_phone")
    assert consents(app) == []  # not even the web half: one answer, kept whole


@pytest.mark.parametrize(
    "body",
    [{}, [], "yes", 0, {"email": True}, {"web": "yes"}, {"web": 1}, {"web": None}],
)
def test_bad_choices_get_a_400_and_record_nothing(
    app: Flask, client: FlaskClient, body: Any
) -> None:
    login(client, "jane.doe@example.com", "demo")
    response = choose(client, body)
    assert (response.status_code, response.get_json()["error"]) == (
        400, "invalid_choice",
    )  # fmt: skip
    assert consents(app) == []


def test_a_choice_from_another_site_is_refused(app: Flask, client: FlaskClient) -> None:
    login(client, "jane.doe@example.com", "demo")
    response = choose(client, {"web": True}, {"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert consents(app) == []
