"""The queue page and its API: order, filters, unread counts, claiming."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.models import (
    Channel,
    Sender,
    TicketCategory,
    TicketEventKind,
    TicketStatus,
    utcnow,
)
from bot.services import handoff, queue, tickets
from tests.unit.console.helpers import (
    JANE,
    JANE_PHONE,
    SAM,
    event_kinds,
    factory,
    load,
    new_ticket,
    other_agent,
    post,
    refs_in,
    text_of,
)

S = TicketStatus


# --- the queue -----------------------------------------------------------------


def test_queue_lists_open_tickets_most_urgent_first(
    app: Flask, agent: FlaskClient
) -> None:
    normal = new_ticket(app, subject="Where is my parcel")
    vip = new_ticket(app, customer=SAM, subject="VIP asks for a person")
    low = new_ticket(app, category=TicketCategory.FEEDBACK, subject="Nice shop")
    done = new_ticket(app, subject="Already done")
    with factory(app).begin() as db:
        ticket = tickets.get_ticket(db, done)
        assert ticket is not None
        queue.resolve(db, ticket, None)

    page = agent.get("/console/")
    assert page.status_code == 200
    assert refs_in(page) == [vip, normal, low]
    text = text_of(page)
    assert "VIP customer" in text  # the priority's reason is visible
    assert "Sam Lee" in text and "Next ticket" in text
    assert f'action="/console/tickets/{vip}/claim"' in page.get_data(as_text=True)


def test_queue_filters(app: Flask, agent: FlaskClient, ada: int) -> None:
    web = new_ticket(app, subject="web one")
    sms_ref = new_ticket(
        app, channel=Channel.SMS, contact=JANE_PHONE, customer=JANE, subject="text"
    )
    mine = new_ticket(app, customer=SAM, subject="mine")
    assert post(agent, f"/console/tickets/{mine}/claim").status_code == 303
    closed = new_ticket(app, subject="closed one")
    with factory(app).begin() as db:
        ticket = tickets.get_ticket(db, closed)
        assert ticket is not None
        queue.resolve(db, ticket, None)
        queue.close(db, ticket, None)

    def refs(query: str) -> set[str]:
        response = agent.get(f"/console/?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return set(refs_in(response))

    assert refs("") == {web, sms_ref, mine}
    assert refs("status=new") == {web, sms_ref}
    assert refs("status=claimed") == {mine}
    assert refs("status=waiting_on_customer") == set()
    assert refs("status=closed") == {closed}
    assert refs("status=resolved") == set()
    assert {web, sms_ref, mine, closed} <= refs("status=all")
    assert refs("channel=sms") == {sms_ref}
    assert refs("channel=voice") == set()
    assert refs("priority=high") == {mine}
    assert refs("mine=1") == {mine}
    assert refs("mine=1&status=new") == set()
    assert refs("status=open&channel=web&priority=normal&mine=0") == {web}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus", "status must be one of"),
        ("channel=fax", "channel must be one of: web, sms, voice"),
        ("priority=max", "priority must be one of: low, normal, high, urgent"),
        ("mine=yes", "mine must be one of: 0, 1"),
    ],
)
def test_bad_queue_filters_are_400(
    agent: FlaskClient, query: str, message: str
) -> None:
    page = agent.get(f"/console/?{query}")
    assert page.status_code == 400
    assert message in text_of(page).lower()
    api = agent.get(f"/console/api/queue?{query}")
    assert api.status_code == 400
    assert message in api.get_json()["message"]


def test_queue_api_shape(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(
        app,
        customer=JANE,
        conversation_id="web-console-api",
        lines=((Sender.CUSTOMER, "hello?"), (Sender.CUSTOMER, "anyone?")),
        context=handoff.HandoffContext(reason="the customer asked for a person"),
    )
    data = agent.get("/console/api/queue").get_json()
    assert set(data) == {"tickets", "counts"}
    assert data["counts"] == {
        "new": 1,
        "claimed": 0,
        "waiting_on_customer": 0,
        "resolved": 0,
        "closed": 0,
    }
    (row,) = data["tickets"]
    assert row["reference"] == reference
    assert {
        "reference",
        "status",
        "channel",
        "priority",
        "priority_reason",
        "sla",
        "first_response_due_at",
        "subject",
        "customer",
        "assignee",
        "created_at",
        "summary",
        "unread",
    } <= set(row)
    assert row["status"] == "new" and row["channel"] == "web"
    assert row["customer"] == "Jane Doe" and row["assignee"] is None
    assert row["sla"] == "ok" and row["unread"] == 2
    assert row["summary"].startswith("Jane Doe (jane.doe@example.com)")
    dt.datetime.fromisoformat(row["first_response_due_at"])


def unread(client: FlaskClient, reference: str) -> int:
    rows = client.get("/console/api/queue").get_json()["tickets"]
    (row,) = (r for r in rows if r["reference"] == reference)
    count: int = row["unread"]
    return count


def test_unread_counts_only_what_the_team_sent_the_customer(
    app: Flask, agent: FlaskClient
) -> None:
    reference = new_ticket(
        app, conversation_id="web-unread", lines=((Sender.CUSTOMER, "hello?"),)
    )
    assert unread(agent, reference) == 1
    post(agent, f"/console/tickets/{reference}/reply", text="Hi, Ada here.")
    assert unread(agent, reference) == 0
    with factory(app).begin() as db:
        assert handoff.receive_customer_message(db, "web-unread", "thanks") is not None
    assert unread(agent, reference) == 1
    assert post(agent, f"/console/tickets/{reference}/return").status_code == 303
    assert unread(agent, reference) == 0  # the notice went to the customer
    # The customer asks for a person again: the handoff action adds what was said
    # since, and an internal SYSTEM line that nobody sent the customer.
    with factory(app).begin() as db:
        ticket = tickets.get_ticket(db, reference)
        assert ticket is not None
        tickets.add_transcript(
            ticket,
            [
                tickets.TranscriptLine(Sender.CUSTOMER, "it broke again"),
                tickets.TranscriptLine(Sender.BOT, "Let me get a person."),
                tickets.TranscriptLine(Sender.SYSTEM, "Customer asked again."),
            ],
        )
    assert unread(agent, reference) == 1
    assert "1 new" in text_of(agent.get("/console/"))


def test_breached_and_at_risk_tickets_stand_out(app: Flask, agent: FlaskClient) -> None:
    late = new_ticket(app, subject="late", age=dt.timedelta(hours=4, minutes=30))
    close_call = new_ticket(app, subject="close", age=dt.timedelta(hours=3, minutes=30))
    fine = new_ticket(app, subject="fine")
    rows = {
        t["reference"]: t for t in agent.get("/console/api/queue").get_json()["tickets"]
    }
    assert rows[late]["sla"] == "breached"
    assert rows[close_call]["sla"] == "at_risk"
    assert rows[fine]["sla"] == "ok"
    page = agent.get("/console/").get_data(as_text=True)
    assert f'class="sla-breached priority-normal" data-reference="{late}"' in page
    assert f'class="sla-at_risk priority-normal" data-reference="{close_call}"' in page


def test_queue_view_refreshes_priorities(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(app, subject="waiting long", age=dt.timedelta(hours=2))
    with factory(app).begin() as db:  # as if nobody had looked for a while
        ticket = tickets.get_ticket(db, reference)
        assert ticket is not None
        ticket.created_at = utcnow() - dt.timedelta(hours=5, minutes=30)
    agent.get("/console/")
    ticket = load(app, reference)
    assert ticket.priority.value == "high"
    assert "past the first-response target" in (ticket.priority_reason or "")


# --- claiming ----------------------------------------------------------------------


def test_claim_assigns_the_ticket(app: Flask, agent: FlaskClient, ada: int) -> None:
    reference = new_ticket(app)
    response = post(agent, f"/console/tickets/{reference}/claim")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/tickets/{reference}"
    ticket = load(app, reference)
    assert ticket.status == S.CLAIMED and ticket.assigned_agent_id == ada
    assert event_kinds(app, reference).count(TicketEventKind.CLAIMED) == 1


def test_a_taken_ticket_cannot_be_claimed_again(
    app: Flask, agent: FlaskClient, ada: int
) -> None:
    reference = new_ticket(app)
    assert post(agent, f"/console/tickets/{reference}/claim").status_code == 303
    late = other_agent(app)
    response = post(late, f"/console/tickets/{reference}/claim")
    assert response.status_code == 409
    assert f"{reference} was already claimed by Ada Agent." in text_of(response)
    assert load(app, reference).assigned_agent_id == ada


def test_claiming_twice_is_not_an_error(app: Flask, agent: FlaskClient) -> None:
    reference = new_ticket(app)
    assert post(agent, f"/console/tickets/{reference}/claim").status_code == 303
    again = post(agent, f"/console/tickets/{reference}/claim")  # a double click
    assert again.status_code == 303
    assert again.headers["Location"] == f"/console/tickets/{reference}"
    assert f"You already have {reference}." in text_of(
        agent.get(f"/console/tickets/{reference}")
    )
    assert event_kinds(app, reference).count(TicketEventKind.CLAIMED) == 1


def test_claiming_a_ticket_nobody_holds_any_more(
    app: Flask, agent: FlaskClient
) -> None:
    reference = new_ticket(app)
    with factory(app).begin() as db:
        ticket = tickets.get_ticket(db, reference)
        assert ticket is not None
        queue.resolve(db, ticket, None)
    response = post(agent, f"/console/tickets/{reference}/claim")
    assert response.status_code == 409
    assert f"{reference} can no longer be claimed: it is resolved." in text_of(response)


def test_next_ticket_claims_the_most_urgent(
    app: Flask, agent: FlaskClient, ada: int
) -> None:
    new_ticket(app, subject="older, normal")
    urgent = new_ticket(app, customer=SAM, category=TicketCategory.PROBLEM)
    response = post(agent, "/console/next")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/tickets/{urgent}"
    assert load(app, urgent).assigned_agent_id == ada


def test_next_ticket_with_nothing_waiting(agent: FlaskClient) -> None:
    response = post(agent, "/console/next")
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/"
    assert "No tickets are waiting." in text_of(agent.get("/console/"))
