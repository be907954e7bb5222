"""Ticket priority and the first-response SLA."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from bot.models import (
    Channel,
    TicketCategory,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
)
from bot.services import queue, tickets
from bot.services.customers import find_by_email
from bot.services.priority import (
    compute_priority,
    refresh_priorities,
    sla_state,
    sla_target,
)
from tests.unit.queue_setup import MIN, T0, H, Team, kinds, open_at, put_in

S = TicketStatus
P = TicketPriority
K = TicketEventKind


def test_created_event_and_priority_come_with_every_new_ticket(
    session: Session,
) -> None:
    sam = find_by_email(session, "sam.lee@example.com")
    ticket = tickets.open_ticket(
        session,
        tickets.TicketRequest(
            channel=Channel.SMS,
            category=TicketCategory.PROBLEM,
            subject="Broken lamp",
            customer=sam,
        ),
    )
    (created,) = queue.events(session, ticket)
    assert (created.kind, created.to_status, created.actor_agent_id) == (
        K.CREATED,
        S.NEW,
        None,
    )
    assert created.detail == (
        "opened on sms (problem); priority urgent: VIP customer; problem report"
    )
    assert ticket.priority == P.URGENT
    assert ticket.priority_reason == "VIP customer; problem report"
    assert ticket.first_response_due_at == ticket.created_at + 15 * MIN


# --- priority -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "category", "priority", "reason"),
    [
        ("jane.doe@example.com", "refund", P.NORMAL, "nothing raises it"),
        (None, "feedback", P.LOW, "feedback, nothing raises it"),
        ("sam.lee@example.com", "feedback", P.NORMAL, "VIP customer"),
        ("sam.lee@example.com", "refund", P.HIGH, "VIP customer"),
        ("jane.doe@example.com", "problem", P.HIGH, "problem report"),
        ("sam.lee@example.com", "problem", P.URGENT, "VIP customer; problem report"),
    ],
)
def test_priority_factors(
    session: Session,
    email: str | None,
    category: str,
    priority: TicketPriority,
    reason: str,
) -> None:
    customer = find_by_email(session, email) if email else None
    ticket = open_at(session, T0, TicketCategory(category), customer)
    assert compute_priority(session, ticket, T0) == (priority, reason)
    assert (ticket.priority, ticket.priority_reason) == (priority, reason)


def test_repeat_contacts_in_seven_days(session: Session) -> None:
    jane = find_by_email(session, "jane.doe@example.com")
    sam = find_by_email(session, "sam.lee@example.com")
    open_at(session, T0 - dt.timedelta(days=8), customer=jane)  # too old to count
    open_at(session, T0 - dt.timedelta(days=6), customer=jane)
    open_at(session, T0 - dt.timedelta(days=1), customer=sam)  # someone else
    ticket = open_at(session, T0, customer=jane)
    assert (ticket.priority, ticket.priority_reason) == (P.NORMAL, "nothing raises it")

    open_at(session, T0 - dt.timedelta(hours=3), customer=jane)
    assert compute_priority(session, ticket, T0) == (
        P.HIGH,
        "3 contacts in 7 days",
    )

    open_at(session, T0 - dt.timedelta(days=2), customer=sam)
    everything = open_at(session, T0, TicketCategory.PROBLEM, sam)
    assert everything.priority == P.URGENT
    assert everything.priority_reason == (
        "VIP customer; 3 contacts in 7 days; problem report"
    )


@pytest.mark.parametrize(
    ("waited", "priority", "reason"),
    [
        (3 * H + 59 * MIN, P.NORMAL, "nothing raises it"),  # due after 4 h
        (4 * H + 59 * MIN, P.NORMAL, "nothing raises it"),  # less than an hour over
        (5 * H, P.HIGH, "waiting 5 h, 1 h past the first-response target"),
        (
            6 * H + 30 * MIN,
            P.URGENT,
            "waiting 6 h 30 min, 2 h past the first-response target",
        ),
        (30 * H, P.URGENT, "waiting 1 d 6 h, 26 h past the first-response target"),
    ],
)
def test_waiting_past_the_sla_raises_priority(
    session: Session,
    waited: dt.timedelta,
    priority: TicketPriority,
    reason: str,
) -> None:
    ticket = open_at(session)
    assert ticket.first_response_due_at == T0 + 4 * H
    assert compute_priority(session, ticket, T0 + waited) == (priority, reason)


def test_the_brief_example_reason(session: Session) -> None:
    sam = find_by_email(session, "sam.lee@example.com")
    open_at(session, T0 - dt.timedelta(days=2), customer=sam)
    open_at(session, T0 - dt.timedelta(days=3), customer=sam)
    ticket = open_at(session, T0, TicketCategory.FEEDBACK, sam)  # low +2 = high, 1 h
    assert ticket.priority == P.HIGH
    assert compute_priority(session, ticket, T0 + 2 * H + 10 * MIN) == (
        P.URGENT,
        "VIP customer; 3 contacts in 7 days; waiting 2 h 10 min, 1 h past the "
        "first-response target",
    )


def test_waiting_stops_counting_once_answered(session: Session, team: Team) -> None:
    ticket = open_at(session)
    queue.claim(session, ticket.id, team.alice)
    queue.record_first_response(session, ticket, team.alice, now=T0 + 6 * H)
    assert compute_priority(session, ticket, T0 + 9 * H)[0] == P.NORMAL


def test_refresh_priorities(session: Session, team: Team) -> None:
    waiting = open_at(session)  # normal, due T0 + 4 h
    answered = open_at(session)
    queue.claim(session, answered.id, team.alice)
    queue.record_first_response(session, answered, team.alice, now=T0 + H)
    closed = open_at(session)
    put_in(session, closed, S.CLOSED, team.alice)

    assert refresh_priorities(session, T0 + 5 * H) == 1
    assert (waiting.priority, waiting.priority_reason) == (
        P.HIGH,
        "waiting 5 h, 1 h past the first-response target",
    )
    change = queue.events(session, waiting)[-1]
    assert (change.kind, change.actor_agent_id, change.created_at) == (
        K.PRIORITY_CHANGED,
        None,
        T0 + 5 * H,
    )
    assert change.detail == (
        "normal -> high: waiting 5 h, 1 h past the first-response target"
    )
    assert waiting.first_response_due_at == T0 + 4 * H  # waiting does not move it
    assert answered.priority == P.NORMAL and closed.priority == P.NORMAL
    assert refresh_priorities(session, T0 + 5 * H + 10 * MIN) == 0
    assert kinds(session, waiting).count(K.PRIORITY_CHANGED) == 1


def test_a_new_factor_tightens_the_due_time_but_nothing_loosens_it(
    session: Session,
) -> None:
    jane = find_by_email(session, "jane.doe@example.com")
    first = open_at(session, T0, customer=jane)
    assert first.first_response_due_at == T0 + 4 * H
    open_at(session, T0 + 10 * MIN, customer=jane)
    open_at(session, T0 + 20 * MIN, customer=jane)
    assert refresh_priorities(session, T0 + 30 * MIN) >= 1
    assert (first.priority, first.first_response_due_at) == (P.HIGH, T0 + H)
    # Eight days on, the contacts no longer count but the promise stands.
    refresh_priorities(session, T0 + dt.timedelta(days=8))
    assert first.first_response_due_at == T0 + H


# --- SLA ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "category", "target"),
    [
        ("sam.lee@example.com", "problem", 15 * MIN),  # urgent
        ("jane.doe@example.com", "problem", H),  # high
        ("jane.doe@example.com", "refund", 4 * H),  # normal
        (None, "feedback", 24 * H),  # low
    ],
)
def test_first_response_due_by_priority(
    session: Session, email: str | None, category: str, target: dt.timedelta
) -> None:
    customer = find_by_email(session, email) if email else None
    ticket = open_at(session, T0, TicketCategory(category), customer)
    assert ticket.first_response_due_at == T0 + target
    assert sla_target(ticket.priority) == target


@pytest.mark.parametrize(
    ("at", "state"),
    [
        (T0, "ok"),
        (T0 + 2 * H + 59 * MIN, "ok"),
        (T0 + 3 * H, "at_risk"),  # 1 h = 25% of the 4 h target left
        (T0 + 4 * H, "at_risk"),
        (T0 + 4 * H + MIN, "breached"),
    ],
)
def test_sla_state(session: Session, at: dt.datetime, state: str) -> None:
    ticket = open_at(session)  # normal: due T0 + 4 h
    assert sla_state(ticket, at) == state


def test_sla_state_once_answered_or_resolved(session: Session, team: Team) -> None:
    on_time = open_at(session)
    late = open_at(session)
    unanswered = open_at(session)
    for ticket in (on_time, late):
        queue.claim(session, ticket.id, team.alice)
    queue.record_first_response(session, on_time, team.alice, now=T0 + 3 * H)
    queue.record_first_response(session, late, team.alice, now=T0 + 5 * H)
    queue.resolve(session, unanswered, None, now=T0 + H)  # e.g. the bot solved it
    later = T0 + 10 * H
    assert sla_state(on_time, later) == "ok"
    assert sla_state(late, later) == "breached"
    assert sla_state(unanswered, later) == "ok"
    assert unanswered.first_responded_at is None  # the bot is not a first response
