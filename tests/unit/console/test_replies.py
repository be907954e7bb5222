"""Replies from the ticket page and their delivery (web chat, SMS, retries)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.models import (
    Channel,
    Delivery,
    Sender,
    TicketStatus,
)
from bot.services import handoff, messaging
from bot.services.messaging import sms_conversation_id
from bot.settings import Settings
from tests.unit.console.helpers import (
    JANE,
    JANE_PHONE,
    FakeSms,
    chat_messages,
    factory,
    holds,
    load,
    new_ticket,
    other_agent,
    post,
    reply_key,
    text_of,
    transcript,
)

S = TicketStatus


def test_reply_on_web_chat_reaches_the_widget(
    app: Flask, agent: FlaskClient, ada: int
) -> None:
    reference = new_ticket(app, customer=JANE, conversation_id="web-reply-1")
    response = post(
        agent, f"/console/tickets/{reference}/reply", text="  Hi Jane, I'm on it.  "
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/tickets/{reference}"
    (line,) = transcript(app, reference)
    assert (line.sender, line.text, line.agent_id) == (
        Sender.AGENT,
        "Hi Jane, I'm on it.",
        ada,
    )
    assert line.delivery == Delivery.DELIVERED
    (shown,) = chat_messages(app, "web-reply-1")
    assert (shown.sender, shown.text) == (Sender.AGENT, "Hi Jane, I'm on it.")
    ticket = load(app, reference)
    assert ticket.status == S.CLAIMED and ticket.assigned_agent_id == ada
    assert ticket.first_responded_at is not None
    assert holds(app, reference) == ["web-reply-1"]
    page = text_of(agent.get(f"/console/tickets/{reference}"))
    assert "Reply delivered." in page
    assert "Ada Agent (agent)" in page and "delivered" in page


def test_a_reply_form_is_sent_once(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(app, conversation_id="web-reply-once")
    key = reply_key(agent, reference)
    assert reply_key(agent, reference) != key  # a new key for each render
    url = f"/console/tickets/{reference}/reply"
    first = post(agent, url, text="Only once, please.", reply_key=key)
    assert first.status_code == 303
    agent.get(f"/console/tickets/{reference}")  # shows (and clears) the flash
    again = post(agent, url, text="Only once, please.", reply_key=key)
    assert again.status_code == 303
    assert again.headers["Location"] == f"/console/tickets/{reference}"
    page = text_of(agent.get(f"/console/tickets/{reference}"))
    assert "That reply was already sent." in page
    assert [m.text for m in transcript(app, reference)] == ["Only once, please."]
    assert [m.text for m in chat_messages(app, "web-reply-once")] == [
        "Only once, please."
    ]
    # The next render's form sends the next reply.
    fresh = reply_key(agent, reference)
    assert post(agent, url, text="Second reply", reply_key=fresh).status_code == 303
    assert len(transcript(app, reference)) == 2


def test_a_failed_reply_gives_its_key_back(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(app, conversation_id="web-reply-again")
    key = reply_key(agent, reference)
    url = f"/console/tickets/{reference}/reply"
    assert post(agent, url, text="   ", reply_key=key).status_code == 400
    # Corrected and sent again from the same form (the browser's Back button).
    assert post(agent, url, text="Now with text", reply_key=key).status_code == 303
    assert [m.text for m in transcript(app, reference)] == ["Now with text"]


def test_a_reply_key_is_per_ticket(app: Flask, agent: FlaskClient) -> None:
    one = new_ticket(app, conversation_id="web-key-one")
    two = new_ticket(app, conversation_id="web-key-two")
    key = reply_key(agent, one)
    url = f"/console/tickets/{one}/reply"
    assert post(agent, url, text="a", reply_key=key).status_code == 303
    response = post(agent, f"/console/tickets/{two}/reply", text="b", reply_key=key)
    assert response.status_code == 303
    assert len(transcript(app, one)) == len(transcript(app, two)) == 1


@pytest.mark.parametrize("key", ["", "short", "x" * 65, "not a key at all!!", "é" * 20])
def test_a_malformed_reply_key_is_400(app: Flask, agent: FlaskClient, key: str) -> None:
    reference = new_ticket(app, conversation_id="web-bad-key")
    response = post(
        agent, f"/console/tickets/{reference}/reply", text="Hello", reply_key=key
    )
    assert response.status_code == 400
    assert "The form expired; reload the page and try again." in text_of(response)
    assert transcript(app, reference) == []


def test_reply_on_sms_goes_through_the_sms_sender(
    app: Flask, agent: FlaskClient, sms: FakeSms
) -> None:
    reference = new_ticket(app, channel=Channel.SMS, customer=JANE, contact=JANE_PHONE)
    page = text_of(agent.get(f"/console/tickets/{reference}"))
    assert f"Goes to SMS to {JANE_PHONE}" in page
    assert (
        post(agent, f"/console/tickets/{reference}/reply", text="On it").status_code
        == 303
    )
    assert sms.sent == [(JANE_PHONE, "Ada Agent (support): On it")]
    (line,) = transcript(app, reference)
    assert line.delivery == Delivery.DELIVERED
    secret = Settings.from_env().secret_key
    assert holds(app, reference) == [sms_conversation_id(JANE_PHONE, secret)]


def test_failed_delivery_keeps_the_reply_and_retry_now_sends_it(
    app: Flask, agent: FlaskClient, sms: FakeSms
) -> None:
    reference = new_ticket(app, channel=Channel.SMS, contact=JANE_PHONE)
    sms.error = RuntimeError("Twilio answered 503")
    response = post(agent, f"/console/tickets/{reference}/reply", text="Hello")
    assert response.status_code == 303  # not the agent's error: the reply is saved
    (line,) = transcript(app, reference)
    assert line.delivery == Delivery.PENDING
    assert line.last_error == "Twilio answered 503" and line.attempts == 1
    page = agent.get(f"/console/tickets/{reference}")
    text = text_of(page)
    assert "undelivered: Twilio answered 503, retrying" in text
    assert "not delivered yet (Twilio answered 503); it will be retried" in text
    assert f'action="/console/messages/{line.id}/retry"' in page.get_data(as_text=True)
    data = agent.get(f"/console/api/tickets/{reference}").get_json()
    assert [m["id"] for m in data["undelivered"]] == [line.id]

    sms.error = None
    response = post(agent, f"/console/messages/{line.id}/retry")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/tickets/{reference}"
    assert sms.sent == [(JANE_PHONE, "Ada Agent (support): Hello")]
    (line,) = transcript(app, reference)
    assert line.delivery == Delivery.DELIVERED and line.last_error is None
    assert (
        agent.get(f"/console/api/tickets/{reference}").get_json()["undelivered"] == []
    )
    again = post(agent, f"/console/messages/{line.id}/retry")
    assert again.status_code == 409
    assert "not waiting for a retry" in text_of(again)


def test_opted_out_customer_shows_failed(
    app: Flask, agent: FlaskClient, sms: FakeSms
) -> None:
    reference = new_ticket(app, channel=Channel.SMS, contact=JANE_PHONE)
    with factory(app).begin() as db:
        messaging.opt_out(db, JANE_PHONE)
    assert (
        post(agent, f"/console/tickets/{reference}/reply", text="Hi").status_code == 303
    )
    (line,) = transcript(app, reference)
    assert line.delivery == Delivery.FAILED
    assert sms.sent == []
    assert "failed: the customer texted STOP" in text_of(
        agent.get(f"/console/tickets/{reference}")
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type a reply before sending."),
        ("   ", "Type a reply before sending."),
        (
            "x" * (handoff.MAX_REPLY_LENGTH + 1),
            "reply can be at most 1600 characters",
        ),
    ],
)
def test_bad_replies_are_400(
    app: Flask, agent: FlaskClient, text: str, message: str
) -> None:
    reference = new_ticket(app, conversation_id="web-bad-reply")
    response = post(agent, f"/console/tickets/{reference}/reply", text=text)
    assert response.status_code == 400
    assert message in text_of(response)
    assert transcript(app, reference) == []
    assert load(app, reference).status == S.NEW  # nothing changed


def test_reply_without_the_text_field_is_400(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(app, conversation_id="web-no-field")
    assert post(agent, f"/console/tickets/{reference}/reply").status_code == 400


def test_reply_on_a_resolved_ticket_is_400(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(app, conversation_id="web-resolved-reply")
    assert post(agent, f"/console/tickets/{reference}/resolve").status_code == 303
    response = post(agent, f"/console/tickets/{reference}/reply", text="Hello?")
    assert response.status_code == 400
    assert "reopen it to reply" in text_of(response)


def test_an_agent_cannot_act_on_a_colleagues_ticket(
    app: Flask, agent: FlaskClient
) -> None:
    reference = new_ticket(app, conversation_id="web-colleague")
    assert post(agent, f"/console/tickets/{reference}/claim").status_code == 303
    other = other_agent(app)
    for action, data in (
        ("reply", {"text": "mine now"}),
        ("wait", {}),
        ("resolve", {}),
        ("return", {}),
    ):
        response = post(other, f"/console/tickets/{reference}/{action}", **data)
        assert response.status_code == 403, action
        assert "assigned to another agent" in text_of(response)
    assert load(app, reference).status == S.CLAIMED


def test_nul_characters_are_400(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(app, conversation_id="web-nul")
    for action in ("reply", "note"):
        response = post(agent, f"/console/tickets/{reference}/{action}", text="a\x00b")
        assert response.status_code == 400, action
        assert "NUL character" in text_of(response)
    assert transcript(app, reference) == []


def test_oversized_forms_are_413(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(app)
    response = post(agent, f"/console/tickets/{reference}/note", text="x" * 100_000)
    assert response.status_code == 413
    assert "That form is too large." in text_of(response)
