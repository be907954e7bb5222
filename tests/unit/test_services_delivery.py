"""Delivering agent replies and notices: web chat, SMS, retries, leases.

Delivery opens and commits its own transactions, so these tests use a database of
their own (SQLite file and PostgreSQL), emptied after each test.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioRestException

from bot.models import (
    Agent,
    Channel,
    ChatMessage,
    ConversationHold,
    Delivery,
    Sender,
    SmsOptOut,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketMessage,
    utcnow,
)
from bot.services import delivery, handoff, messaging, outbox, tickets
from bot.services.delivery import Outcome
from tests.conftest import own_database

SECRET = "delivery-secret"
PHONE = "+14155550134"
T0 = dt.datetime(2025, 11, 20, 15, 0, tzinfo=dt.timezone.utc)  # in the past
S = dt.timedelta(seconds=1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated database of this module's own, as the app makes them."""
    with own_database(request.param, tmp_path_factory.mktemp("delivery")) as made:
        yield made


@pytest.fixture(autouse=True)
def empty(factory: sessionmaker[Session]) -> Iterator[None]:
    yield
    with factory.begin() as session:
        for table in (
            ConversationHold,
            TicketMessage,
            TicketEvent,
            Ticket,
            Agent,
            ChatMessage,
            SmsOptOut,
        ):
            session.execute(delete(table))


@dataclass
class FakeSms:
    """Stands in for TwilioClient: records texts, or fails with `error`."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    error: Exception | None = None
    sending: threading.Event = field(default_factory=threading.Event)
    release: threading.Event | None = None  # block inside send_sms until set

    def send_sms(self, to: str, body: str) -> str:
        self.sending.set()
        if self.release is not None:
            assert self.release.wait(10)
        if self.error is not None:
            raise self.error
        self.sent.append((to, body))
        return f"SM{len(self.sent)}"


def reply_on(
    factory: sessionmaker[Session],
    channel: Channel = Channel.WEB,
    *,
    contact: str | None = None,
    text: str = "Hi, Alice here.",
) -> int:
    """A handed-off ticket with one pending agent reply; the reply's id."""
    with factory.begin() as session:
        alice = session.scalars(select(Agent).where(Agent.name == "Alice")).first()
        if alice is None:
            alice = Agent(
                name="Alice",
                email="alice@support.example.com",
                password_hash="not-used-here",
            )
            session.add(alice)
        ticket = tickets.open_ticket(
            session,
            tickets.TicketRequest(
                channel=channel,
                category=TicketCategory.HANDOFF,
                subject="Conversation handed off to a person",
                # One web conversation per ticket: a conversation has one holder.
                conversation_id=f"web-{uuid.uuid4().hex}"
                if channel == Channel.WEB
                else "sms-c1",
                contact=contact,
                handed_off=True,
            ),
        )
        message = handoff.reply(session, ticket, alice, text, secret=SECRET, now=T0)
        return message.id


def deliver(
    factory: sessionmaker[Session], message_id: int, sms: FakeSms, now: dt.datetime
) -> Outcome | None:
    return delivery.deliver(factory, message_id, sms, secret=SECRET, now=now)


def state(
    factory: sessionmaker[Session], message_id: int
) -> tuple[Delivery | None, int, dt.datetime | None, str | None]:
    with factory() as session:
        message = session.get(TicketMessage, message_id)
        assert message is not None
        return (
            message.delivery,
            message.attempts,
            message.next_attempt_at,
            message.last_error,
        )


def chat_messages(factory: sessionmaker[Session]) -> list[ChatMessage]:
    with factory() as session:
        return list(session.scalars(select(ChatMessage).order_by(ChatMessage.id)))


# --- delivering -----------------------------------------------------------------------


def test_a_web_reply_becomes_a_widget_message(factory: sessionmaker[Session]) -> None:
    message_id = reply_on(factory)
    outcome = deliver(factory, message_id, FakeSms(), T0 + S)
    assert outcome == Outcome(message_id, Delivery.DELIVERED)
    [row] = chat_messages(factory)
    with factory() as session:
        message = session.get(TicketMessage, message_id)
        assert message is not None and message.delivered_at == T0 + S
        conversation = message.ticket.conversation_id
    assert (row.conversation_id, row.sender, row.text) == (
        conversation,
        Sender.AGENT,
        "Hi, Alice here.",
    )
    assert json.loads(row.payload or "") == {"agent_name": "Alice"}
    assert state(factory, message_id) == (Delivery.DELIVERED, 1, None, None)


def test_an_sms_reply_is_texted_with_the_agents_name(
    factory: sessionmaker[Session],
) -> None:
    message_id = reply_on(factory, Channel.SMS, contact=PHONE)
    sms = FakeSms()
    assert deliver(factory, message_id, sms, T0) == Outcome(
        message_id, Delivery.DELIVERED
    )
    assert sms.sent == [(PHONE, "Alice (support): Hi, Alice here.")]
    assert chat_messages(factory) == []


def test_a_notice_is_texted_as_it_is(factory: sessionmaker[Session]) -> None:
    reply_id = reply_on(factory, Channel.SMS, contact=PHONE)
    with factory.begin() as session:
        reply = session.get(TicketMessage, reply_id)
        assert reply is not None
        notice = handoff.notify(
            session,
            reply.ticket,
            "You're back with our assistant.",
            secret=SECRET,
            now=T0,
        )
        assert notice is not None
        notice_id = notice.id
    sms = FakeSms()
    deliver(factory, notice_id, sms, T0)
    assert sms.sent == [(PHONE, "You're back with our assistant.")]


def test_a_failed_send_stays_pending_and_is_retried_later(
    factory: sessionmaker[Session],
) -> None:
    message_id = reply_on(factory, Channel.SMS, contact=PHONE)
    sms = FakeSms(error=ConnectionError("Twilio unreachable"))
    outcome = deliver(factory, message_id, sms, T0)
    assert outcome == Outcome(message_id, Delivery.PENDING, "Twilio unreachable")
    assert state(factory, message_id) == (
        Delivery.PENDING,
        1,
        T0 + 15 * S,
        "Twilio unreachable",
    )
    assert deliver(factory, message_id, sms, T0 + 14 * S) is None  # not due yet
    deliver(factory, message_id, sms, T0 + 15 * S)
    assert state(factory, message_id)[1:3] == (2, T0 + 45 * S)  # backing off
    sms.error = None
    assert deliver(factory, message_id, sms, T0 + 45 * S) == Outcome(
        message_id, Delivery.DELIVERED
    )
    assert state(factory, message_id) == (Delivery.DELIVERED, 3, None, None)
    assert len(sms.sent) == 1


def test_retry_delays_grow_to_fifteen_minutes() -> None:
    delays = [outbox.retry_delay(n).total_seconds() for n in range(0, 9)]
    assert delays == [15, 15, 30, 60, 120, 300, 900, 900, 900]


def test_twilio_errors_keep_a_readable_message(
    factory: sessionmaker[Session],
) -> None:
    message_id = reply_on(factory, Channel.SMS, contact=PHONE)
    down = TwilioRestException(503, "/Messages.json", "Service unavailable", 20500)
    outcome = deliver(factory, message_id, FakeSms(error=down), T0)
    assert outcome is not None and outcome.delivery == Delivery.PENDING
    assert outcome.error == "Twilio error 20500: Service unavailable"


def test_a_number_that_cannot_get_texts_fails_for_good(
    factory: sessionmaker[Session],
) -> None:
    message_id = reply_on(factory, Channel.SMS, contact=PHONE)
    invalid = TwilioRestException(400, "/Messages.json", "Invalid 'To'", 21211)
    outcome = deliver(factory, message_id, FakeSms(error=invalid), T0)
    assert outcome == Outcome(
        message_id, Delivery.FAILED, "the customer's phone number is not valid"
    )
    assert state(factory, message_id)[2] is None


def test_an_opted_out_customer_is_never_texted(factory: sessionmaker[Session]) -> None:
    message_id = reply_on(factory, Channel.SMS, contact=PHONE)
    with factory.begin() as session:
        messaging.opt_out(session, PHONE)
    sms = FakeSms()
    outcome = deliver(factory, message_id, sms, T0)
    assert outcome is not None and outcome.delivery == Delivery.FAILED
    assert "texted STOP" in (outcome.error or "")
    assert state(factory, message_id) == (
        Delivery.FAILED,
        1,
        None,
        outcome.error,
    )
    assert sms.sent == []
    assert deliver(factory, message_id, sms, T0 + dt.timedelta(hours=1)) is None
    with factory() as session:
        assert delivery.REPLIES.due(session, T0 + dt.timedelta(days=1)) == []


def test_a_customer_who_cannot_be_reached_fails_for_good(
    factory: sessionmaker[Session],
) -> None:
    message_id = reply_on(factory)
    with factory.begin() as session:
        message = session.get(TicketMessage, message_id)
        assert message is not None
        message.ticket.conversation_id = None  # e.g. an operator cleaned it up
    outcome = deliver(factory, message_id, FakeSms(), T0)
    assert outcome == Outcome(
        message_id,
        Delivery.FAILED,
        "there is no phone number or conversation to write to",
    )


def test_unknown_and_delivered_messages_are_not_sent(
    factory: sessionmaker[Session],
) -> None:
    message_id = reply_on(factory)
    sms = FakeSms()
    assert deliver(factory, message_id + 1000, sms, T0) is None
    deliver(factory, message_id, sms, T0)
    assert deliver(factory, message_id, sms, T0 + dt.timedelta(hours=1)) is None
    assert len(chat_messages(factory)) == 1


# --- two senders at once ----------------------------------------------------------------


def test_a_leased_message_is_sent_once(factory: sessionmaker[Session]) -> None:
    """The console and the worker try the same message: exactly one sends it."""
    message_id = reply_on(factory, Channel.SMS, contact=PHONE)
    release = threading.Event()
    sms = FakeSms(release=release)
    outcomes: list[Outcome | None] = []
    first = threading.Thread(
        target=lambda: outcomes.append(deliver(factory, message_id, sms, T0))
    )
    first.start()
    try:
        assert sms.sending.wait(10)  # the first sender is inside send_sms
        assert deliver(factory, message_id, FakeSms(), T0 + S) is None
        assert deliver(factory, message_id, FakeSms(), T0 + 59 * S) is None
    finally:
        release.set()
        first.join(10)
    assert outcomes == [Outcome(message_id, Delivery.DELIVERED)]
    assert len(sms.sent) == 1


def test_a_lease_runs_out_when_a_sender_died(factory: sessionmaker[Session]) -> None:
    """A sender that crashed mid-send: the message is tried again after the lease."""
    message_id = reply_on(factory, Channel.SMS, contact=PHONE)
    with factory.begin() as session:
        assert delivery.REPLIES.lease(session, message_id, T0)
    sms = FakeSms()
    assert deliver(factory, message_id, sms, T0 + outbox.LEASE - S) is None
    assert deliver(factory, message_id, sms, T0 + outbox.LEASE) is not None
    assert len(sms.sent) == 1


# --- retry now ----------------------------------------------------------------------------


def test_retry_now_makes_a_failed_message_due(factory: sessionmaker[Session]) -> None:
    message_id = reply_on(factory, Channel.SMS, contact=PHONE)
    with factory.begin() as session:
        # Never tried: it may be on its way right now.
        assert delivery.retry_now(session, message_id, T0) is False
    deliver(factory, message_id, FakeSms(error=RuntimeError("boom")), T0)
    with factory.begin() as session:
        assert delivery.retry_now(session, message_id, T0 + S) is True
    assert state(factory, message_id)[2] == T0 + S
    sms = FakeSms()
    assert deliver(factory, message_id, sms, T0 + S) is not None
    with factory.begin() as session:
        assert delivery.retry_now(session, message_id) is False  # delivered
        assert delivery.retry_now(session, message_id + 1000) is False


def test_retry_now_cannot_break_the_lease_of_a_try_under_way(
    factory: sessionmaker[Session],
) -> None:
    message_id = reply_on(factory, Channel.SMS, contact=PHONE)
    deliver(factory, message_id, FakeSms(error=RuntimeError("boom")), T0)
    release = threading.Event()
    sms = FakeSms(release=release)
    retry = T0 + 15 * S
    worker = threading.Thread(target=lambda: deliver(factory, message_id, sms, retry))
    worker.start()
    try:
        assert sms.sending.wait(10)
        with factory.begin() as session:
            assert delivery.retry_now(session, message_id, retry) is False
        assert deliver(factory, message_id, FakeSms(), retry) is None
    finally:
        release.set()
        worker.join(10)
    assert len(sms.sent) == 1
    assert state(factory, message_id)[0] == Delivery.DELIVERED


# --- the worker's round ---------------------------------------------------------------------


def test_deliver_due_sends_what_is_due_oldest_first(
    factory: sessionmaker[Session],
) -> None:
    web = reply_on(factory)
    texted = reply_on(factory, Channel.SMS, contact=PHONE, text="Texting you")
    later = reply_on(factory, text="Not yet")
    with factory.begin() as session:
        message = session.get(TicketMessage, later)
        assert message is not None
        message.next_attempt_at = T0 + dt.timedelta(minutes=5)
    sms = FakeSms()
    outcomes = delivery.deliver_due(factory, sms, secret=SECRET, now=T0)
    assert outcomes == [
        Outcome(web, Delivery.DELIVERED),
        Outcome(texted, Delivery.DELIVERED),
    ]
    assert sms.sent == [(PHONE, "Alice (support): Texting you")]
    assert delivery.deliver_due(factory, sms, secret=SECRET, now=T0) == []
    with factory() as session:
        assert delivery.REPLIES.due(session, T0 + dt.timedelta(minutes=5)) == [later]
    # Without a time, each message is leased from the moment its own try starts.
    [outcome] = delivery.deliver_due(factory, sms, secret=SECRET)
    assert outcome == Outcome(later, Delivery.DELIVERED)
    with factory() as session:
        message = session.get(TicketMessage, later)
        assert message is not None and message.delivered_at is not None
        assert message.delivered_at > utcnow() - dt.timedelta(minutes=1)


def test_due_respects_the_batch_limit(factory: sessionmaker[Session]) -> None:
    ids = [reply_on(factory, text=f"reply {n}") for n in range(3)]
    with factory() as session:
        assert delivery.REPLIES.due(session, T0, limit=2) == ids[:2]
        assert delivery.REPLIES.due(session, T0 - S) == []


def test_a_text_twilio_refuses_as_too_long_fails_for_good(
    factory: sessionmaker[Session],
) -> None:
    message_id = reply_on(factory, Channel.SMS, contact=PHONE)
    too_long = TwilioRestException(400, "/Messages.json", "Body too long", 21617)
    outcome = deliver(factory, message_id, FakeSms(error=too_long), T0)
    assert outcome is not None and outcome.delivery == Delivery.FAILED
    assert "longer than Twilio accepts" in (outcome.error or "")


def test_retry_now_revives_a_failed_message(factory: sessionmaker[Session]) -> None:
    message_id = reply_on(factory, Channel.SMS, contact=PHONE)
    with factory.begin() as session:
        messaging.opt_out(session, PHONE)
    assert deliver(factory, message_id, FakeSms(), T0) is not None
    assert state(factory, message_id)[0] == Delivery.FAILED
    # The customer texted START; the agent retries and it goes out.
    with factory.begin() as session:
        messaging.opt_in(session, PHONE)
        assert delivery.retry_now(session, message_id, T0 + dt.timedelta(minutes=5))
    sms = FakeSms()
    outcome = deliver(factory, message_id, sms, T0 + dt.timedelta(minutes=5))
    assert outcome is not None and outcome.delivery == Delivery.DELIVERED
    assert len(sms.sent) == 1
