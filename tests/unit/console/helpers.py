"""Helpers shared by the console tests (the fixtures are in conftest.py).

The app runs against the `engine` fixture's database (SQLite file and PostgreSQL)
and commits like in production; `rows_removed_after` removes every row a test added.
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
from bot.services import agents, handoff, priority, tickets
from bot.web import create_app

S = TicketStatus
PASSWORD = "correct horse battery"
JANE = "jane.doe@example.com"
SAM = "sam.lee@example.com"  # VIP
JANE_PHONE = "+14155550134"


@dataclass
class FakeSms:
    """Records texts; raises `error` instead while it is set."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    error: Exception | None = None

    def send_sms(self, to: str, body: str) -> str:
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


@contextmanager
def app_on(engine: Engine, sms: FakeSms, **config: Any) -> Iterator[Flask]:
    """The app on `engine`'s database; every row it committed is removed after."""
    with rows_removed_after(engine):
        made = make_console_app(engine, sms, **config)
        try:
            yield made
        finally:
            dispose(made)


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


REPLY_KEY = re.compile(r'name="reply_key" value="([^"]+)"')


def reply_key(client: FlaskClient, reference: str) -> str:
    """The one-time key of the reply form as the ticket page renders it now."""
    match = REPLY_KEY.search(
        client.get(f"/console/tickets/{reference}").get_data(as_text=True)
    )
    assert match is not None, "the reply form has no reply_key"
    return match[1]


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
            priority.apply_priority(db, ticket)
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


def other_agent(app: Flask, email: str = "bo@support.example.com") -> FlaskClient:
    add_agent(app, email, name="Bo Other")
    other = app.test_client()
    assert sign_in(other, email).status_code == 303
    return other


def refs_in(response: TestResponse) -> list[str]:
    return re.findall(
        r'data-reference="(T-[0-9A-Z]+)"', response.get_data(as_text=True)
    )


def chat_messages(app: Flask, conversation: str) -> list[ChatMessage]:
    with factory(app)() as db:
        return list(
            db.scalars(
                select(ChatMessage)
                .where(ChatMessage.conversation_id == conversation)
                .order_by(ChatMessage.id)
            )
        )
