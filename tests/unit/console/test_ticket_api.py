"""The live ticket API: new lines after an id, delivery states."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from bot.models import (
    Channel,
    Delivery,
    Sender,
    Ticket,
    TicketMessage,
)
from bot.services import handoff, tickets
from tests.unit.console.helpers import (
    JANE_PHONE,
    FakeSms,
    factory,
    new_ticket,
    post,
    transcript,
)


def test_ticket_api_sends_lines_after_an_id(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(
        app,
        conversation_id="web-live",
        lines=((Sender.CUSTOMER, "one"), (Sender.BOT, "two")),
    )
    data = agent.get(f"/console/api/tickets/{reference}").get_json()
    assert data["ticket"] == {
        "reference": reference,
        "status": "new",
        "assignee": None,
        "priority": "normal",
        "sla": "ok",
        "held": False,
    }
    assert [m["text"] for m in data["messages"]] == ["one", "two"]
    assert data["undelivered"] == [] and data["deliveries"] == []
    first, last = data["messages"]
    assert set(first) == {
        "id",
        "sender",
        "text",
        "sent_at",
        "agent_name",
        "delivery",
        "attempts",
        "last_error",
    }
    later = agent.get(f"/console/api/tickets/{reference}?after={first['id']}")
    assert [m["id"] for m in later.get_json()["messages"]] == [last["id"]]

    post(agent, f"/console/tickets/{reference}/reply", text="Hello from Ada")
    with factory(app).begin() as db:  # the customer answers while held
        assert handoff.receive_customer_message(db, "web-live", "thanks!") is not None
    data = agent.get(f"/console/api/tickets/{reference}?after={last['id']}").get_json()
    assert [(m["sender"], m["text"]) for m in data["messages"]] == [
        ("agent", "Hello from Ada"),
        ("customer", "thanks!"),
    ]
    assert data["messages"][0]["agent_name"] == "Ada Agent"
    assert data["messages"][0]["delivery"] == "delivered"
    assert data["ticket"]["held"] is True
    assert data["ticket"]["assignee"] == "Ada Agent"


def test_ticket_api_reports_every_delivery_state(
    app: Flask, agent: FlaskClient, sms: FakeSms
) -> None:
    reference = new_ticket(
        app, channel=Channel.SMS, contact=JANE_PHONE, lines=((Sender.CUSTOMER, "hi"),)
    )
    post(agent, f"/console/tickets/{reference}/reply", text="First")
    sms.error = RuntimeError("Twilio answered 503")
    post(agent, f"/console/tickets/{reference}/reply", text="Second")
    _, first, second = transcript(app, reference)
    data = agent.get(f"/console/api/tickets/{reference}?after={second.id}").get_json()
    assert data["messages"] == []
    assert data["deliveries"] == [
        {"id": first.id, "delivery": "delivered", "attempts": 1, "last_error": None},
        {
            "id": second.id,
            "delivery": "pending",
            "attempts": 1,
            "last_error": "Twilio answered 503",
        },
    ]
    assert [m["id"] for m in data["undelivered"]] == [second.id]


def _pending_reply(app: Flask, reference: str, text: str) -> int:
    """A reply committed by another request, not delivered yet."""
    with factory(app).begin() as db:
        ticket = tickets.get_ticket(db, reference)
        assert ticket is not None
        line = TicketMessage(
            sender=Sender.AGENT, text=text, delivery=Delivery.PENDING, attempts=0
        )
        ticket.messages.append(line)
        db.flush()
        return line.id


def test_ticket_api_a_reply_committed_during_the_poll_is_not_delivered(
    app: Flask, agent: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = new_ticket(app, conversation_id="web-poll-race")
    real = handoff.transcript
    committed: list[int] = []

    def reply_lands_meanwhile(
        db: Session, ticket: Ticket, after: int = 0
    ) -> list[TicketMessage]:
        if not committed:  # as if another agent's reply was committed right now
            committed.append(_pending_reply(app, reference, "Sent meanwhile"))
        return real(db, ticket, after)

    monkeypatch.setattr(handoff, "transcript", reply_lands_meanwhile)
    data = agent.get(f"/console/api/tickets/{reference}").get_json()
    (line,) = data["messages"]
    assert line["id"] == committed[0] and line["delivery"] == "pending"
    # Every line sent to the customer is in `deliveries`, with its state.
    assert [(d["id"], d["delivery"]) for d in data["deliveries"]] == [
        (line["id"], "pending")
    ]
    assert [m["id"] for m in data["undelivered"]] == [line["id"]]


def test_ticket_api_delivery_states_are_read_after_the_lines(
    app: Flask, agent: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = new_ticket(app, conversation_id="web-poll-fresh")
    line_id = _pending_reply(app, reference, "Going out")
    real = handoff.transcript

    def delivered_meanwhile(
        db: Session, ticket: Ticket, after: int = 0
    ) -> list[TicketMessage]:
        lines = real(db, ticket, after)
        with factory(app).begin() as other:  # the worker delivers it right now
            message = other.get(TicketMessage, line_id)
            assert message is not None
            message.delivery = Delivery.DELIVERED
        return lines

    monkeypatch.setattr(handoff, "transcript", delivered_meanwhile)
    data = agent.get(f"/console/api/tickets/{reference}").get_json()
    assert [(d["id"], d["delivery"]) for d in data["deliveries"]] == [
        (line_id, "delivered")
    ]
    assert data["undelivered"] == []
    assert data["messages"][0]["delivery"] == "delivered"  # the same, fresh row


@pytest.mark.parametrize("after", ["abc", "-1", "1.5", "", "99999999999999"])
def test_ticket_api_refuses_a_bad_after(
    app: Flask, agent: FlaskClient, after: str
) -> None:
    reference = new_ticket(app)
    response = agent.get(f"/console/api/tickets/{reference}?after={after}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"
