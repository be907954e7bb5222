"""Insights end to end: real conversations -> Rasa's SQL event broker -> consumer.

A known mix goes through the running stack (two order-status checks answered, a
help-centre answer, a question without an article, a handoff by SMS, a
registration left after its first question); the consumer (`python -m bot run
insights`) records it from Rasa's `events` table, and the report moves by exactly
that mix. Other e2e tests share the stack and its day, so the report is compared
before and after, both as of the same moment (an hour after the mix, when every
conversation has ended).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
import uuid
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import func, select

from bot import clock
from bot.insights.schema import InsightConversation, InsightEventKey, InsightPosition
from bot.models import Customer, Ticket
from bot.services import insights
from bot.services.messaging import sms_conversation_id
from bot.settings import Settings
from tests.fakes.twilio_webhooks import inbound_sms
from tests.stack import TWILIO_ACCOUNT_SID, Stack

UNKNOWN_QUESTION = "do you sell second hand cars?"  # the NLU's faq; no article


def wait_until_consumed(stack: Stack, timeout: float = 60) -> None:
    """Until the consumer has committed every event Rasa published so far."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(stack.events_db) as events:
            last = events.execute("SELECT max(id) FROM events").fetchone()[0]
        with stack.session() as session:
            position = session.scalar(
                select(InsightPosition.position).where(
                    InsightPosition.source == "rasa_sql_events"
                )
            )
        if last is None or position == last:
            return
        time.sleep(0.3)
    log = (stack.logs / "insights.log").read_text()[-3000:]
    raise AssertionError(f"the consumer did not catch up:\n{log}")


def figures(stack: Stack, now: dt.datetime) -> tuple[insights.Totals, int]:
    """The totals of yesterday and today, and how often UNKNOWN_QUESTION was asked."""
    today = now.astimezone(ZoneInfo(Settings().timezone)).date()
    filters = insights.Filters(today - dt.timedelta(days=1), today)
    with stack.session() as session:
        asked = {
            q.question: q.asked
            for q in insights.unanswered_questions(session, filters, limit=1000)
        }
        return insights.totals(session, filters, now), asked.get(UNKNOWN_QUESTION, 0)


def row(stack: Stack, sender: str) -> InsightConversation:
    with stack.session() as session:
        return session.scalars(
            select(InsightConversation).where(
                InsightConversation.conversation_id == sender
            )
        ).one()


def test_a_known_mix_moves_the_report_by_exactly_that_mix(stack: Stack) -> None:
    wait_until_consumed(stack)
    # Every conversation has ended an hour after the mix (Rasa's session is 60 min).
    then = clock.system_clock() + dt.timedelta(minutes=75)
    before, asked_before = figures(stack, then)

    senders = {name: f"e2e-insights-{name}-{uuid.uuid4().hex[:8]}" for name in (
        "jane", "sam", "kb", "unknown", "registration",
    )}  # fmt: skip
    stack.texts(senders["jane"], "where is my order 104257?")
    assert "has shipped" in stack.texts(senders["jane"], "jane.doe@example.com")[0]
    stack.texts(senders["sam"], "where is my order 108842")
    assert "108842" in stack.texts(senders["sam"], "sam.lee@example.com")[0]
    answer = stack.texts(senders["kb"], "how many days do i have to return something")
    assert answer[0].startswith("Returns")
    unknown = stack.texts(senders["unknown"], UNKNOWN_QUESTION)
    assert unknown[0].startswith("I'm sorry, I don't know the answer")
    stack.texts(senders["registration"], "I want to create an account")
    phone = f"+1415555{uuid.uuid4().int % 10000:04d}"
    reply = stack.twilio_post(
        "/webhooks/sms/webhook",
        inbound_sms("can a real person text me back", phone, TWILIO_ACCOUNT_SID),
    )
    assert reply.status_code == 200 and "T-" in reply.text

    wait_until_consumed(stack)
    after, asked_after = figures(stack, then)
    assert asked_after - asked_before == 1
    assert after.conversations - before.conversations == 6
    assert {
        name: after.outcomes[name] - before.outcomes[name] for name in insights.OUTCOMES
    } == {"contained": 3, "handed_off": 1, "abandoned": 1, "unresolved": 1, "open": 0}
    assert after.messages - before.messages == 8
    assert after.fallbacks - before.fallbacks == 0
    assert after.verifications - before.verifications == 2
    assert after.verification_failures - before.verification_failures == 0

    # Row by row: who, where, what happened.
    with stack.session() as session:
        jane, sam = (
            session.scalar(select(Customer.id).where(Customer.email == email))
            for email in ("jane.doe@example.com", "sam.lee@example.com")
        )
    order = row(stack, senders["jane"])
    assert (order.channel, order.customer_id, order.segment) == (
        "rest",
        jane,
        "standard",
    )
    assert (order.verified, order.flows_started, order.flows_completed) == (True, 1, 1)
    assert order.first_intent == "check_order_status"
    assert row(stack, senders["sam"]).segment == "vip"
    assert row(stack, senders["sam"]).customer_id == sam
    assert row(stack, senders["kb"]).kb_answered == 1
    assert row(stack, senders["unknown"]).kb_unanswered == 1
    registration = row(stack, senders["registration"])
    assert registration.active_flow == "registration_form"
    texted = row(stack, sms_conversation_id(phone, stack.secret))
    assert (texted.channel, texted.handed_off, texted.handoff_reason) == (
        "sms",
        True,
        "asked",
    )
    assert texted.contact_key == f"phone:{phone}"
    with stack.session() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.reference == texted.ticket_reference)
        ).one()
        assert ticket.handed_off and ticket.conversation_id == texted.conversation_id
    # The broker's table keeps only the last row the consumer committed.
    with sqlite3.connect(stack.events_db) as events:
        assert events.execute("SELECT count(*) FROM events").fetchone()[0] == 1


def test_an_event_published_twice_counts_once(stack: Stack) -> None:
    sender = f"e2e-insights-twice-{uuid.uuid4().hex[:8]}"
    stack.texts(sender, "hello")
    wait_until_consumed(stack)
    with stack.session() as session:
        keys = session.scalar(select(func.count()).select_from(InsightEventKey))
    first = row(stack, sender)
    # Rasa's broker writes the same event again (a retried publish, a replay).
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/{sender}/tracker",
        params={"token": stack.token},
        timeout=10,
    ).json()
    again = [{"sender_id": sender, **event} for event in tracker["events"]]
    with sqlite3.connect(stack.events_db) as events:
        events.executemany(
            "INSERT INTO events (sender_id, data) VALUES (?, ?)",
            [(sender, json.dumps(event)) for event in again],
        )
    wait_until_consumed(stack)
    with stack.session() as session:
        assert session.scalar(select(func.count()).select_from(InsightEventKey)) == keys
    assert row(stack, sender).messages == first.messages == 1
