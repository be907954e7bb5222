"""The agent console: queue, tickets, replies and delivery, supervisor statistics.

The app runs against the `engine` fixture's database (SQLite file and PostgreSQL)
and commits like in production; `console_app` removes every row a test added.
SMS goes to a fake sender put in app.extensions["sms_sender"].
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Integer, delete, func, select, tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from bot.models import (
    Agent,
    AgentRole,
    Base,
    Channel,
    ChatMessage,
    ConversationHold,
    Customer,
    Delivery,
    Order,
    Sender,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketEventKind,
    TicketMessage,
    TicketStatus,
    utcnow,
)
from bot.services import agents, handoff, queue, reports, tickets
from bot.services.messaging import sms_conversation_id
from bot.settings import Settings
from bot.twilio_client import OptedOut
from bot.web import create_app

S = TicketStatus
PASSWORD = "correct horse battery"
JANE = "jane.doe@example.com"
SAM = "sam.lee@example.com"  # VIP
JANE_PHONE = "+14155550134"


# --- fixtures and helpers shared with the other console tests -------------------


@dataclass
class FakeSms:
    """Records texts; raises `error` instead while it is set."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    error: Exception | None = None

    def send_sms(self, session: Session, to: str, body: str) -> str:
        if self.error is not None:
            raise self.error
        self.sent.append((to, body))
        return f"SM{len(self.sent):032d}"


def snapshot(engine: Engine) -> dict[str, Any]:
    """What is in the database now: the highest id, or the keys, of each table."""
    marks: dict[str, Any] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            key = list(table.primary_key.columns)
            if len(key) == 1 and isinstance(key[0].type, Integer):
                marks[table.name] = conn.scalar(select(func.max(key[0]))) or 0
            else:
                marks[table.name] = set(conn.execute(select(*key)).all())
    return marks


def restore(engine: Engine, marks: dict[str, Any]) -> None:
    """Delete every row added since `snapshot` (dependent tables first)."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            key = list(table.primary_key.columns)
            mark = marks[table.name]
            if isinstance(mark, int):
                conn.execute(delete(table).where(key[0] > mark))
                continue
            added = set(conn.execute(select(*key)).all()) - mark
            if added:
                conn.execute(delete(table).where(tuple_(*key).in_(list(added))))


@contextmanager
def rows_removed_after(engine: Engine) -> Iterator[None]:
    """Run the block, then delete every row it committed (and check that it did)."""
    marks = snapshot(engine)
    try:
        yield
    finally:
        restore(engine, marks)
        assert snapshot(engine) == marks, "committed rows were left behind"


def database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def make_console_app(engine: Engine, sms: FakeSms, **config: Any) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(engine),
            "RASA_URL": "http://127.0.0.1:9",
            "CONSOLE_PRIORITY_REFRESH_SECONDS": 0.0,
            **config,
        }
    )
    app.extensions["sms_sender"] = lambda: sms
    return app


def dispose(app: Flask) -> None:
    app.extensions["session_factory"].kw["bind"].dispose()


def factory(app: Flask) -> sessionmaker[Session]:
    made: sessionmaker[Session] = app.extensions["session_factory"]
    return made


@lru_cache(maxsize=1)
def password_hash() -> str:
    return agents.hash_password(PASSWORD)


def add_agent(
    app: Flask,
    email: str,
    role: AgentRole = AgentRole.AGENT,
    active: bool = True,
    name: str | None = None,
) -> int:
    """An agent with PASSWORD (hashed once for the whole run)."""
    with factory(app).begin() as db:
        agent = Agent(
            name=name or email.split("@")[0].replace(".", " ").title(),
            email=email,
            password_hash=password_hash(),
            role=role,
            active=active,
        )
        db.add(agent)
        db.flush()
        return agent.id


def csrf(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        token = session.get("csrf_token")
    if token is None:
        client.get("/console/login")
        with client.session_transaction() as session:
            token = session["csrf_token"]
    assert isinstance(token, str)
    return token


def sign_in(
    client: FlaskClient, email: str, password: str = PASSWORD, **extra: str
) -> TestResponse:
    client.get("/console/login")
    return client.post(
        "/console/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf(client),
            **extra,
        },
    )


def post(client: FlaskClient, url: str, **data: Any) -> TestResponse:
    return client.post(url, data={"csrf_token": csrf(client), **data})


def new_ticket(
    app: Flask,
    *,
    channel: Channel = Channel.WEB,
    category: TicketCategory = TicketCategory.HANDOFF,
    subject: str = "Customer asked for a person",
    customer: str | None = None,
    contact: str | None = None,
    conversation_id: str | None = None,
    order: str | None = None,
    lines: tuple[tuple[Sender, str], ...] = (),
    context: handoff.HandoffContext | None = None,
    age: dt.timedelta | None = None,
    held: bool = False,
) -> str:
    """Open a ticket (committed) and return its reference."""
    with factory(app).begin() as db:
        found = (
            db.scalars(select(Customer).where(Customer.email == customer)).one()
            if customer
            else None
        )
        placed = (
            db.scalars(select(Order).where(Order.number == order)).one()
            if order
            else None
        )
        ticket = tickets.open_ticket(
            db,
            tickets.TicketRequest(
                channel=channel,
                category=category,
                subject=subject,
                customer=found,
                order=placed,
                contact=contact,
                conversation_id=conversation_id,
                handed_off=True,
                transcript=tuple(tickets.TranscriptLine(s, t) for s, t in lines),
            ),
        )
        if context is not None:
            handoff.record_context(ticket, context)
        if age is not None:
            ticket.created_at = utcnow() - age
            ticket.first_response_due_at = None
            queue.apply_priority(db, ticket)
        if held and conversation_id:
            handoff.hold(db, ticket, conversation_id)
        return ticket.reference


def load(app: Flask, reference: str) -> Ticket:
    with factory(app)() as db:
        ticket = tickets.get_ticket(db, reference)
        assert ticket is not None
        db.expunge(ticket)
        return ticket


def transcript(app: Flask, reference: str) -> list[TicketMessage]:
    with factory(app)() as db:
        ticket = tickets.get_ticket(db, reference)
        assert ticket is not None
        return list(
            db.scalars(
                select(TicketMessage)
                .where(TicketMessage.ticket_id == ticket.id)
                .order_by(TicketMessage.id)
            )
        )


def event_kinds(app: Flask, reference: str) -> list[TicketEventKind]:
    with factory(app)() as db:
        return list(
            db.scalars(
                select(TicketEvent.kind)
                .join(Ticket, Ticket.id == TicketEvent.ticket_id)
                .where(Ticket.reference == reference)
                .order_by(TicketEvent.id)
            )
        )


def holds(app: Flask, reference: str) -> list[str]:
    with factory(app)() as db:
        return list(
            db.scalars(
                select(ConversationHold.conversation_id)
                .join(Ticket, Ticket.id == ConversationHold.ticket_id)
                .where(Ticket.reference == reference)
            )
        )


def text_of(response: TestResponse) -> str:
    """The page's text with tags removed and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


@pytest.fixture
def sms() -> FakeSms:
    return FakeSms()


@pytest.fixture
def app(engine: Engine, sms: FakeSms) -> Iterator[Flask]:
    with rows_removed_after(engine):
        made = make_console_app(engine, sms)
        try:
            yield made
        finally:
            dispose(made)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ada(app: Flask) -> int:
    return add_agent(app, "ada@support.example.com", name="Ada Agent")


@pytest.fixture
def agent(client: FlaskClient, ada: int) -> FlaskClient:
    """The client, signed in as the agent Ada."""
    assert sign_in(client, "ada@support.example.com").status_code == 303
    return client


@pytest.fixture
def boss(app: Flask) -> FlaskClient:
    """Another browser, signed in as the supervisor Sue."""
    add_agent(app, "sue@support.example.com", AgentRole.SUPERVISOR, name="Sue Super")
    other = app.test_client()
    assert sign_in(other, "sue@support.example.com").status_code == 303
    return other


def other_agent(app: Flask, email: str = "bo@support.example.com") -> FlaskClient:
    add_agent(app, email, name="Bo Other")
    other = app.test_client()
    assert sign_in(other, email).status_code == 303
    return other


def refs_in(response: TestResponse) -> list[str]:
    return re.findall(
        r'data-reference="(T-[0-9A-Z]+)"', response.get_data(as_text=True)
    )


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


# --- replies and delivery ------------------------------------------------------------


def chat_messages(app: Flask, conversation: str) -> list[ChatMessage]:
    with factory(app)() as db:
        return list(
            db.scalars(
                select(ChatMessage)
                .where(ChatMessage.conversation_id == conversation)
                .order_by(ChatMessage.id)
            )
        )


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


REPLY_KEY = re.compile(r'name="reply_key" value="([^"]+)"')


def reply_key(client: FlaskClient, reference: str) -> str:
    """The one-time key of the reply form as the ticket page renders it now."""
    match = REPLY_KEY.search(
        client.get(f"/console/tickets/{reference}").get_data(as_text=True)
    )
    assert match is not None, "the reply form has no reply_key"
    return match[1]


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
    sms.error = OptedOut(JANE_PHONE)
    assert (
        post(agent, f"/console/tickets/{reference}/reply", text="Hi").status_code == 303
    )
    (line,) = transcript(app, reference)
    assert line.delivery == Delivery.FAILED
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


# --- the live ticket API -------------------------------------------------------------


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


# --- supervisor -------------------------------------------------------------------


def test_supervisor_page_and_api(
    app: Flask, boss: FlaskClient, agent: FlaskClient
) -> None:
    late = new_ticket(app, subject="late one", age=dt.timedelta(hours=5))
    mine = new_ticket(app, channel=Channel.SMS, contact=JANE_PHONE)
    post(agent, f"/console/tickets/{mine}/claim")
    page = boss.get("/console/supervisor")
    assert page.status_code == 200
    text = text_of(page)
    assert "Queue: 2 open" in text
    assert "SLA breached (1)" in text and late in text
    assert "Ada Agent" in text and "Oldest unclaimed" in text
    data = boss.get("/console/api/supervisor").get_json()
    assert data["queue"] == {
        "open": 2,
        "by_status": {"new": 1, "claimed": 1, "waiting_on_customer": 0},
        "by_channel": {"web": 1, "sms": 1, "voice": 0},
    }
    assert data["waiting"]["oldest_unclaimed"]["reference"] == late
    assert data["waiting"]["median_time_to_claim"]["today"] is not None
    assert [e["reference"] for e in data["sla"]["breached"]] == [late]
    ada = next(a for a in data["agents"] if a["name"] == "Ada Agent")
    assert (ada["claimed"], ada["waiting_on_customer"], ada["resolved_today"]) == (
        1,
        0,
        0,
    )
    assert data["undelivered"] == {
        "total": 0,
        "pending": 0,
        "failed": 0,
        "oldest_pending": None,
    }


# --- bot/services/reports.py ---------------------------------------------------------

T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.timezone.utc)  # 10:00 in New York
MIN = dt.timedelta(minutes=1)


def _ticket(session: Session, created: dt.datetime, **kwargs: Any) -> Ticket:
    ticket = tickets.open_ticket(
        session,
        tickets.TicketRequest(
            channel=kwargs.pop("channel", Channel.WEB),
            category=kwargs.pop("category", TicketCategory.HANDOFF),
            subject=kwargs.pop("subject", "help"),
            **kwargs,
        ),
    )
    ticket.created_at = created
    ticket.first_response_due_at = None
    queue.apply_priority(session, ticket, created)
    session.flush()
    return ticket


def _agent(session: Session, name: str, active: bool = True) -> Agent:
    agent = Agent(
        name=name,
        email=f"{name.lower()}@reports.example.com",
        password_hash="x",
        active=active,
    )
    session.add(agent)
    session.flush()
    return agent


def test_day_start_is_local_midnight() -> None:
    from zoneinfo import ZoneInfo

    start = reports.day_start(T0, ZoneInfo("America/New_York"))
    assert start == dt.datetime(2026, 11, 20, 5, 0, tzinfo=dt.timezone.utc)
    late = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.timezone.utc)  # 22:00 on the 20th
    assert reports.day_start(late, ZoneInfo("America/New_York")) == start
    assert reports.day_start(T0) == dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)


def test_median() -> None:
    assert reports.median([]) is None
    assert reports.median([MIN, 3 * MIN, 10 * MIN]) == 3 * MIN
    assert reports.median([MIN, 2 * MIN]) == dt.timedelta(seconds=90)


def test_report_on_an_empty_queue(session: Session) -> None:
    report = reports.supervisor_report(session, T0)
    assert report.queue.open == 0
    assert report.oldest_unclaimed is None
    assert report.claim_today is None and report.first_response_week is None
    assert report.breached == [] and report.at_risk == []
    data = reports.report_json(report)
    assert data["waiting"]["median_time_to_claim"] == {"today": None, "7_days": None}


def test_supervisor_report(session: Session) -> None:
    ada, bo = _agent(session, "Ada"), _agent(session, "Bo")
    idle = _agent(session, "Idle", active=False)
    oldest = _ticket(session, T0 - 5 * 60 * MIN, subject="oldest")  # breached
    risky = _ticket(session, T0 - 200 * MIN, channel=Channel.SMS)  # 40 of 240 min left
    _ticket(session, T0 - 10 * MIN, channel=Channel.VOICE)
    claimed_today = _ticket(session, T0 - 30 * MIN)
    assert queue.claim(session, claimed_today.id, ada, now=T0 - 20 * MIN)
    claimed_earlier = _ticket(session, T0 - 3 * 24 * 60 * MIN)
    assert queue.claim(
        session, claimed_earlier.id, bo, now=T0 - 3 * 24 * 60 * MIN + 40 * MIN
    )
    # answered within its 4 hours: not a breach
    queue.wait_on_customer(
        session, claimed_earlier, bo, now=T0 - 3 * 24 * 60 * MIN + 60 * MIN
    )
    resolved = _ticket(session, T0 - 60 * MIN)
    assert queue.claim(session, resolved.id, ada, now=T0 - 50 * MIN)
    queue.resolve(session, resolved, ada, now=T0 - 5 * MIN)
    # a reply still pending and one that failed for good
    pending = TicketMessage(
        sender=Sender.AGENT, text="hi", delivery=Delivery.PENDING, sent_at=T0 - 2 * MIN
    )
    failed = TicketMessage(sender=Sender.SYSTEM, text="bye", delivery=Delivery.FAILED)
    claimed_today.messages.extend([pending, failed])
    session.flush()

    report = reports.supervisor_report(session, T0)
    assert report.queue.by_status == {"new": 3, "claimed": 1, "waiting_on_customer": 1}
    assert report.queue.by_channel == {"web": 3, "sms": 1, "voice": 1}
    assert report.oldest_unclaimed is not None
    assert report.oldest_unclaimed.reference == oldest.reference
    assert report.oldest_unclaimed.waited == 5 * 60 * MIN
    assert report.claim_today == 10 * MIN  # median of 10 and 10
    assert report.claim_week == 10 * MIN  # median of 10, 10, 40
    assert report.first_response_today == 55 * MIN  # resolving answered it
    assert report.first_response_week == dt.timedelta(minutes=57, seconds=30)
    assert [e.reference for e in report.breached] == [oldest.reference]
    assert [e.reference for e in report.at_risk] == [risky.reference]
    load = {a.name: a for a in report.agents}
    assert (load["Ada"].claimed, load["Ada"].waiting, load["Ada"].resolved_today) == (
        1,
        0,
        1,
    )
    assert (load["Bo"].claimed, load["Bo"].waiting, load["Bo"].resolved_today) == (
        0,
        1,
        0,
    )
    assert "Idle" not in load  # deactivated, nothing open
    assert idle.id not in {a.agent_id for a in report.agents}
    assert report.undelivered.total == 2
    assert (report.undelivered.pending, report.undelivered.failed) == (1, 1)
    assert report.undelivered.oldest_pending == T0 - 2 * MIN

    data = reports.report_json(report)
    assert data["waiting"]["median_time_to_claim"] == {"today": 600, "7_days": 600}
    assert data["sla"]["breached"][0]["reference"] == oldest.reference
    assert data["undelivered"]["total"] == 2


def test_deactivated_agents_with_open_tickets_are_listed(session: Session) -> None:
    ada = _agent(session, "Ada")
    ticket = _ticket(session, T0 - 30 * MIN)
    assert queue.claim(session, ticket.id, ada, now=T0 - 20 * MIN)
    ada.active = False
    session.flush()
    (load,) = (a for a in reports.agent_load(session, T0 - 60 * MIN) if a.name == "Ada")
    assert (load.active, load.claimed) == (False, 1)


def test_static_files_are_served(client: FlaskClient) -> None:
    script = client.get("/static/console.js")
    assert script.status_code == 200 and b"csrf-token" in script.data
    assert client.get("/static/console.css").status_code == 200
