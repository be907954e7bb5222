"""The ticket page and what an agent does there: notes, reassigning, statuses."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.models import (
    Channel,
    Delivery,
    Sender,
    TicketEventKind,
    TicketStatus,
)
from bot.services import handoff, queue
from tests.unit.console.helpers import (
    JANE,
    JANE_PHONE,
    FakeSms,
    add_agent,
    chat_messages,
    event_kinds,
    holds,
    load,
    new_ticket,
    post,
    text_of,
    transcript,
)

S = TicketStatus


# --- the ticket page ----------------------------------------------------------------


def test_ticket_page_shows_everything_the_agent_needs(
    app: Flask, agent: FlaskClient
) -> None:
    earlier = new_ticket(app, customer=JANE, subject="Earlier question")
    reference = new_ticket(
        app,
        customer=JANE,
        order="104257",
        conversation_id="web-ticket-page",
        lines=(
            (Sender.CUSTOMER, "where is my lamp"),
            (Sender.BOT, "Your order 104257 has shipped."),
            (Sender.CUSTOMER, "a person please"),
        ),
        context=handoff.HandoffContext(
            reason="the customer asked for a person",
            intent="order_status",
            confidence=0.42,
            entities={"order_number": "104257"},
            last_message="a person please",
            verified=True,
            customer_messages=2,
        ),
    )
    page = agent.get(f"/console/tickets/{reference}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = text_of(page)
    summary = load(app, reference).summary
    assert summary and summary.startswith("Jane Doe (jane.doe@example.com, verified)")
    assert html.index('class="summary"') < html.index('id="transcript"')
    for expected in (
        "order_status (42% sure)",
        "the customer asked for a person",
        "104257",
        "jane.doe@example.com",
        JANE_PHONE,
        "standard",
        "UPS, tracking 1Z999AA10123456784",
        "1 × Brass desk lamp",
        "Goes to the web chat",
        "created",
    ):
        assert expected in text, expected
    assert f'href="/console/tickets/{earlier}"' in html  # the customer's other ticket
    assert re.search(r'class="line line-customer".*?where is my lamp', html, re.S)
    assert re.search(r'class="line line-bot".*?has shipped', html, re.S)
    for button in ("claim", "resolve", "return"):
        assert f'action="/console/tickets/{reference}/{button}"' in html
    assert '<meta name="csrf-token" content="' in html
    assert "<script>" not in html  # the CSP allows only script files


def test_unknown_ticket_is_404(agent: FlaskClient) -> None:
    page = agent.get("/console/tickets/T-999999")
    assert page.status_code == 404
    assert "There is no ticket T-999999." in text_of(page)
    assert agent.get("/console/tickets/not-a-reference").status_code == 404
    api = agent.get("/console/api/tickets/T-999999")
    assert api.status_code == 404 and api.get_json()["error"] == "not_found"
    assert post(agent, "/console/tickets/T-999999/claim").status_code == 404


def test_voice_ticket_without_a_number_explains_there_is_no_reply(
    app: Flask, agent: FlaskClient
) -> None:
    reference = new_ticket(app, channel=Channel.VOICE, subject="Callback")
    page = agent.get(f"/console/tickets/{reference}")
    assert "no phone number we can text" in text_of(page)
    assert f"/console/tickets/{reference}/reply" not in page.get_data(as_text=True)
    response = post(agent, f"/console/tickets/{reference}/reply", text="Hello")
    assert response.status_code == 400
    assert "There is no way to write to this customer on phone" in text_of(response)


# --- notes, reassigning, status changes ------------------------------------------------


def test_notes_go_to_the_audit_trail(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(app)
    response = post(agent, f"/console/tickets/{reference}/note", text="Called her back")
    assert response.status_code == 303
    assert event_kinds(app, reference)[-1] == TicketEventKind.NOTE
    assert "Called her back" in text_of(agent.get(f"/console/tickets/{reference}"))
    assert (
        post(agent, f"/console/tickets/{reference}/note", text=" ").status_code == 400
    )
    too_long = "x" * (queue.MAX_NOTE_LENGTH + 1)
    response = post(agent, f"/console/tickets/{reference}/note", text=too_long)
    assert response.status_code == 400
    assert "at most 10000 characters" in text_of(response)


def test_supervisor_reassigns(
    app: Flask, boss: FlaskClient, agent: FlaskClient
) -> None:
    reference = new_ticket(app)
    bo = add_agent(app, "bo@support.example.com", name="Bo Other")
    page = boss.get(f"/console/tickets/{reference}").get_data(as_text=True)
    assert f'<option value="{bo}"' in page
    response = post(boss, f"/console/tickets/{reference}/reassign", agent_id=str(bo))
    assert response.status_code == 303
    ticket = load(app, reference)
    assert ticket.assigned_agent_id == bo and ticket.status == S.CLAIMED
    assert event_kinds(app, reference)[-1] == TicketEventKind.REASSIGNED
    # The agent Ada may not take Bo's ticket away.
    assert 'name="agent_id"' not in agent.get(f"/console/tickets/{reference}").get_data(
        as_text=True
    )
    assert (
        post(
            agent, f"/console/tickets/{reference}/reassign", agent_id=str(bo)
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("agent_id", "message"),
    [
        ("", "The agent must be a number"),
        ("abc", "The agent must be a number"),
        ("-3", "The agent must be a number"),
        ("1.5", "The agent must be a number"),
        ("99999999999999999999", "The agent must be a number"),
        ("2147483000", "There is no active agent with id 2147483000"),
    ],
)
def test_bad_reassignments_are_400(
    app: Flask, boss: FlaskClient, agent_id: str, message: str
) -> None:
    reference = new_ticket(app)
    response = post(boss, f"/console/tickets/{reference}/reassign", agent_id=agent_id)
    assert response.status_code == 400
    assert message in text_of(response)


def test_reassigning_to_a_deactivated_agent_is_400(
    app: Flask, boss: FlaskClient
) -> None:
    reference = new_ticket(app)
    gone = add_agent(app, "gone@support.example.com", active=False)
    response = post(boss, f"/console/tickets/{reference}/reassign", agent_id=str(gone))
    assert response.status_code == 400
    assert f"There is no active agent with id {gone}" in text_of(response)


def test_waiting_on_the_customer(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(app)
    response = post(agent, f"/console/tickets/{reference}/wait")
    assert response.status_code == 400  # a new ticket must be claimed first
    assert "cannot go from new to waiting_on_customer" in text_of(response)
    post(agent, f"/console/tickets/{reference}/claim")
    assert post(agent, f"/console/tickets/{reference}/wait").status_code == 303
    assert load(app, reference).status == S.WAITING_ON_CUSTOMER
    assert post(agent, f"/console/tickets/{reference}/wait").status_code == 400


def test_resolve_tells_the_customer_and_releases_the_conversation(
    app: Flask, agent: FlaskClient
) -> None:
    reference = new_ticket(app, conversation_id="web-resolve")
    post(agent, f"/console/tickets/{reference}/reply", text="Done, refund sent.")
    assert holds(app, reference) == ["web-resolve"]
    response = post(agent, f"/console/tickets/{reference}/resolve")
    assert response.status_code == 303
    assert load(app, reference).status == S.RESOLVED
    assert holds(app, reference) == []
    notice = transcript(app, reference)[-1]
    assert notice.sender == Sender.SYSTEM and notice.delivery == Delivery.DELIVERED
    assert f"Your request {reference} is resolved" in notice.text
    assert chat_messages(app, "web-resolve")[-1].text == notice.text
    page = agent.get(f"/console/tickets/{reference}").get_data(as_text=True)
    assert f'action="/console/tickets/{reference}/reopen"' in page
    assert f'action="/console/tickets/{reference}/close"' in page


def test_return_to_bot_keeps_the_ticket_open(
    app: Flask, agent: FlaskClient, sms: FakeSms
) -> None:
    reference = new_ticket(app, channel=Channel.SMS, contact=JANE_PHONE)
    post(agent, f"/console/tickets/{reference}/reply", text="Checking")
    assert holds(app, reference)
    assert post(agent, f"/console/tickets/{reference}/return").status_code == 303
    assert load(app, reference).status == S.CLAIMED
    assert holds(app, reference) == []
    assert "back with our assistant" in sms.sent[-1][1]


def test_reopen_and_close(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(app)
    post(agent, f"/console/tickets/{reference}/claim")
    assert post(agent, f"/console/tickets/{reference}/reopen").status_code == 400
    post(agent, f"/console/tickets/{reference}/resolve")
    assert post(agent, f"/console/tickets/{reference}/reopen").status_code == 303
    assert load(app, reference).status == S.CLAIMED
    post(agent, f"/console/tickets/{reference}/resolve")
    assert post(agent, f"/console/tickets/{reference}/close").status_code == 303
    assert load(app, reference).status == S.CLOSED
    response = post(agent, f"/console/tickets/{reference}/close")
    assert response.status_code == 400
    assert "it is final" in text_of(response)


@pytest.mark.parametrize(
    ("message_id", "status"),
    [
        ("abc", 400),
        ("-1", 400),
        ("0", 400),
        ("99999999999999", 400),
        ("2147483000", 404),
    ],
)
def test_retry_of_bad_message_ids(
    agent: FlaskClient, message_id: str, status: int
) -> None:
    assert post(agent, f"/console/messages/{message_id}/retry").status_code == status
