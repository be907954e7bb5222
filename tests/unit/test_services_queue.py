"""The workflow queue: transitions, audit trail, claiming, priority and SLA."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.models import (
    Agent,
    AgentRole,
    Channel,
    Customer,
    Ticket,
    TicketCategory,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
)
from bot.services import queue, tickets
from bot.services.customers import find_by_email

S = TicketStatus
P = TicketPriority
K = TicketEventKind
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)


@dataclass
class Team:
    alice: Agent
    bob: Agent
    sue: Agent  # supervisor
    gone: Agent  # deactivated


@pytest.fixture
def team(session: Session) -> Team:
    def agent(
        name: str, role: AgentRole = AgentRole.AGENT, active: bool = True
    ) -> Agent:
        member = Agent(
            name=name,
            email=f"{name.lower()}@support.example.com",
            password_hash="not-used-here",
            role=role,
            active=active,
        )
        session.add(member)
        return member

    members = Team(
        alice=agent("Alice"),
        bob=agent("Bob"),
        sue=agent("Sue", AgentRole.SUPERVISOR),
        gone=agent("Gone", active=False),
    )
    session.flush()
    return members


def open_at(
    session: Session,
    created: dt.datetime = T0,
    category: TicketCategory = TicketCategory.REFUND,
    customer: Customer | None = None,
) -> Ticket:
    """A ticket as if opened at `created` (open_ticket stamps the real time)."""
    ticket = tickets.open_ticket(
        session,
        tickets.TicketRequest(
            channel=Channel.WEB,
            category=category,
            subject=f"{category.value} request",
            customer=customer,
        ),
    )
    ticket.created_at = created
    ticket.first_response_due_at = None
    queue.apply_priority(session, ticket, created)
    session.flush()
    return ticket


def put_in(
    session: Session, ticket: Ticket, status: TicketStatus, owner: Agent
) -> None:
    """Force a status (test set-up, bypassing the workflow)."""
    ticket.status = status
    ticket.assigned_agent_id = None if status == S.NEW else owner.id
    session.flush()


def kinds(session: Session, ticket: Ticket) -> list[TicketEventKind]:
    return [e.kind for e in queue.events(session, ticket)]


# --- transitions and the audit trail -------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target"), list(itertools.product(list(S), [s for s in S if s != S.NEW]))
)
def test_transition_table(
    session: Session, team: Team, start: TicketStatus, target: TicketStatus
) -> None:
    ticket = open_at(session)
    put_in(session, ticket, start, team.alice)
    before = len(queue.events(session, ticket))
    allowed = target in queue.ALLOWED_TRANSITIONS[start]
    if not allowed:
        with pytest.raises(queue.InvalidTransition, match="cannot go from"):
            queue.transition(session, ticket, target, team.alice)
        assert ticket.status == start
        assert len(queue.events(session, ticket)) == before
        return
    queue.transition(session, ticket, target, team.alice, now=T0 + H)
    assert ticket.status == target
    event = [
        e
        for e in queue.events(session, ticket)
        if e.kind in (K.CLAIMED, K.STATUS_CHANGED)
    ][-1]
    assert (event.from_status, event.to_status, event.actor_agent_id) == (
        start,
        target,
        team.alice.id,
    )
    assert event.created_at == T0 + H
    claimed = (start, target) == (S.NEW, S.CLAIMED)
    assert event.kind == (K.CLAIMED if claimed else K.STATUS_CHANGED)


def test_the_documented_table() -> None:
    assert {s: sorted(t.value for t in queue.ALLOWED_TRANSITIONS[s]) for s in S} == {
        S.NEW: ["claimed", "resolved"],
        S.CLAIMED: ["resolved", "waiting_on_customer"],
        S.WAITING_ON_CUSTOMER: ["claimed"],
        S.RESOLVED: ["claimed", "closed"],
        S.CLOSED: [],
    }
    for status in S:
        assert status.value in queue.__doc__  # type: ignore[operator]


def test_refusals_say_what_is_possible(session: Session, team: Team) -> None:
    ticket = open_at(session)
    with pytest.raises(queue.InvalidTransition) as refused:
        queue.close(session, ticket, team.alice)
    assert str(refused.value) == (
        f"ticket {ticket.reference} cannot go from new to closed; from new it can go "
        "to claimed, resolved"
    )
    put_in(session, ticket, S.CLOSED, team.alice)
    with pytest.raises(queue.InvalidTransition, match=r"nothing \(it is final\)"):
        queue.reopen(session, ticket, team.alice)
    with pytest.raises(queue.InvalidTransition, match="unknown status 'lost'"):
        queue.transition(session, ticket, "lost", team.alice)


def test_a_whole_life_is_audited(session: Session, team: Team) -> None:
    ticket = open_at(session)
    assert queue.claim(session, ticket.id, team.alice, now=T0 + 5 * MIN)
    queue.wait_on_customer(session, ticket, team.alice, now=T0 + 10 * MIN)
    queue.reopen(session, ticket, None, now=T0 + 20 * MIN)  # the customer answered
    queue.resolve(session, ticket, team.alice, detail="refunded", now=T0 + 30 * MIN)
    queue.reopen(session, ticket, team.sue, now=T0 + 40 * MIN)  # a supervisor
    queue.resolve(session, ticket, team.alice, now=T0 + 50 * MIN)
    queue.close(session, ticket, None, now=T0 + 60 * MIN)
    rows = [
        (e.kind, e.from_status, e.to_status, e.actor_agent_id)
        for e in queue.events(session, ticket)
    ]
    a = team.alice.id
    assert rows == [
        (K.CREATED, None, S.NEW, None),
        (K.CLAIMED, S.NEW, S.CLAIMED, a),
        (K.STATUS_CHANGED, S.CLAIMED, S.WAITING_ON_CUSTOMER, a),
        (K.FIRST_RESPONSE, None, None, a),
        (K.STATUS_CHANGED, S.WAITING_ON_CUSTOMER, S.CLAIMED, None),
        (K.STATUS_CHANGED, S.CLAIMED, S.RESOLVED, a),
        (K.STATUS_CHANGED, S.RESOLVED, S.CLAIMED, team.sue.id),
        (K.STATUS_CHANGED, S.CLAIMED, S.RESOLVED, a),
        (K.STATUS_CHANGED, S.RESOLVED, S.CLOSED, None),
    ]
    assert ticket.status == S.CLOSED
    assert ticket.assigned_agent_id == a  # reopening kept the owner
    assert ticket.first_responded_at == T0 + 10 * MIN
    assert [e.detail for e in ticket.events if e.detail == "refunded"] == ["refunded"]


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


def test_a_stale_ticket_cannot_be_changed(session: Session, team: Team) -> None:
    ticket = open_at(session)
    put_in(session, ticket, S.CLAIMED, team.alice)
    # Someone else resolves it; this session still sees it claimed.
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id)
        .values(status=S.RESOLVED)
        .execution_options(synchronize_session=False)
    )
    assert ticket.status == S.CLAIMED
    with pytest.raises(queue.ConcurrentChange, match="is now resolved"):
        queue.wait_on_customer(session, ticket, team.alice)
    assert ticket.status == S.RESOLVED
    assert kinds(session, ticket) == [K.CREATED]


# --- claiming, next ticket, who may act ---------------------------------------------


def test_claim_has_one_winner(session: Session, team: Team) -> None:
    ticket = open_at(session)
    assert queue.claim(session, ticket.id, team.alice) is True
    assert queue.claim(session, ticket.id, team.bob) is False
    assert queue.claim(session, ticket.id, team.alice) is False
    assert (ticket.status, ticket.assigned_agent_id) == (S.CLAIMED, team.alice.id)
    assert kinds(session, ticket) == [K.CREATED, K.CLAIMED]
    with pytest.raises(queue.NotAllowed, match="deactivated"):
        queue.claim(session, open_at(session).id, team.gone)


def test_claiming_through_transition_reports_a_lost_race(
    session: Session, team: Team
) -> None:
    ticket = open_at(session)
    assert (ticket.status, ticket.assigned_agent_id) == (S.NEW, None)
    # Alice claims it elsewhere; this session still sees it new.
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id)
        .values(status=S.CLAIMED, assigned_agent_id=team.alice.id)
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(queue.ConcurrentChange, match="already taken"):
        queue.transition(session, ticket, S.CLAIMED, team.bob)
    assert (ticket.status, ticket.assigned_agent_id) == (S.CLAIMED, team.alice.id)
    assert kinds(session, ticket) == [K.CREATED]


def test_next_ticket_is_highest_priority_then_oldest(
    session: Session, team: Team
) -> None:
    def ticket(minutes: int, priority: TicketPriority) -> Ticket:
        made = open_at(session, T0 + minutes * MIN)
        made.priority = priority
        return made

    normal_old = ticket(0, P.NORMAL)
    urgent_new = ticket(30, P.URGENT)
    urgent_old = ticket(20, P.URGENT)
    high_oldest = ticket(-60, P.HIGH)
    low = ticket(-120, P.LOW)
    taken = ticket(-500, P.URGENT)
    assert queue.claim(session, taken.id, team.bob)
    session.flush()

    order = []
    while (got := queue.next_ticket(session, team.alice)) is not None:
        order.append(got)
        assert (got.status, got.assigned_agent_id) == (S.CLAIMED, team.alice.id)
    assert order == [urgent_old, urgent_new, high_oldest, normal_old, low]
    with pytest.raises(queue.NotAllowed):
        queue.next_ticket(session, team.gone)


def test_only_the_owner_or_a_supervisor_changes_a_claimed_ticket(
    session: Session, team: Team
) -> None:
    ticket = open_at(session)
    queue.claim(session, ticket.id, team.alice)
    with pytest.raises(queue.NotAllowed, match="assigned to another agent"):
        queue.resolve(session, ticket, team.bob)
    with pytest.raises(queue.NotAllowed):
        queue.reassign(session, ticket, team.bob, team.bob)
    with pytest.raises(queue.NotAllowed, match="deactivated"):
        queue.resolve(session, ticket, team.gone)
    queue.wait_on_customer(session, ticket, team.sue)
    assert ticket.status == S.WAITING_ON_CUSTOMER


def test_reassign(session: Session, team: Team) -> None:
    ticket = open_at(session)
    queue.claim(session, ticket.id, team.alice)
    queue.reassign(session, ticket, team.bob, team.alice, now=T0 + H)
    assert (ticket.status, ticket.assigned_agent_id) == (S.CLAIMED, team.bob.id)
    queue.reassign(session, ticket, team.alice, team.sue)  # a supervisor may
    queue.reassign(session, ticket, team.alice, team.sue)  # no change, no row
    reassigned = [e for e in queue.events(session, ticket) if e.kind == K.REASSIGNED]
    assert [(e.actor_agent_id, e.detail) for e in reassigned] == [
        (team.alice.id, f"Alice (#{team.alice.id}) -> Bob (#{team.bob.id})"),
        (team.sue.id, f"Bob (#{team.bob.id}) -> Alice (#{team.alice.id})"),
    ]
    assert reassigned[0].created_at == T0 + H

    fresh = open_at(session)
    queue.reassign(session, fresh, team.bob, team.sue)
    assert (fresh.status, fresh.assigned_agent_id) == (S.CLAIMED, team.bob.id)
    last = queue.events(session, fresh)[-1]
    assert (last.kind, last.from_status, last.to_status) == (
        K.REASSIGNED,
        S.NEW,
        S.CLAIMED,
    )
    with pytest.raises(queue.NotAllowed, match="deactivated"):
        queue.reassign(session, fresh, team.gone, team.sue)
    put_in(session, fresh, S.CLOSED, team.bob)
    with pytest.raises(queue.InvalidTransition, match="closed"):
        queue.reassign(session, fresh, team.alice, team.sue)


def test_internal_notes(session: Session, team: Team) -> None:
    ticket = open_at(session)
    queue.claim(session, ticket.id, team.alice)
    note = queue.add_note(session, ticket, team.bob, "  Customer called twice.  ")
    assert (note.kind, note.actor_agent_id, note.detail) == (
        K.NOTE,
        team.bob.id,
        "Customer called twice.",
    )
    assert ticket.events[-1].detail == "Customer called twice."
    assert ticket.status == S.CLAIMED  # a note changes nothing else
    with pytest.raises(ValueError, match="needs some text"):
        queue.add_note(session, ticket, team.alice, "   ")
    with pytest.raises(ValueError, match="at most"):
        queue.add_note(session, ticket, team.alice, "x" * 10_001)
    with pytest.raises(queue.NotAllowed):
        queue.add_note(session, ticket, team.gone, "hello")


def test_first_response_is_recorded_once(session: Session, team: Team) -> None:
    ticket = open_at(session)
    queue.claim(session, ticket.id, team.alice)
    assert queue.record_first_response(session, ticket, team.alice, now=T0 + 20 * MIN)
    assert not queue.record_first_response(session, ticket, team.alice, now=T0 + H)
    queue.resolve(session, ticket, team.alice, now=T0 + 2 * H)
    assert ticket.first_responded_at == T0 + 20 * MIN
    assert kinds(session, ticket).count(K.FIRST_RESPONSE) == 1


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
    assert queue.compute_priority(session, ticket, T0) == (priority, reason)
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
    assert queue.compute_priority(session, ticket, T0) == (
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
    assert queue.compute_priority(session, ticket, T0 + waited) == (priority, reason)


def test_the_brief_example_reason(session: Session) -> None:
    sam = find_by_email(session, "sam.lee@example.com")
    open_at(session, T0 - dt.timedelta(days=2), customer=sam)
    open_at(session, T0 - dt.timedelta(days=3), customer=sam)
    ticket = open_at(session, T0, TicketCategory.FEEDBACK, sam)  # low +2 = high, 1 h
    assert ticket.priority == P.HIGH
    assert queue.compute_priority(session, ticket, T0 + 2 * H + 10 * MIN) == (
        P.URGENT,
        "VIP customer; 3 contacts in 7 days; waiting 2 h 10 min, 1 h past the "
        "first-response target",
    )


def test_waiting_stops_counting_once_answered(session: Session, team: Team) -> None:
    ticket = open_at(session)
    queue.claim(session, ticket.id, team.alice)
    queue.record_first_response(session, ticket, team.alice, now=T0 + 6 * H)
    assert queue.compute_priority(session, ticket, T0 + 9 * H)[0] == P.NORMAL


def test_refresh_priorities(session: Session, team: Team) -> None:
    waiting = open_at(session)  # normal, due T0 + 4 h
    answered = open_at(session)
    queue.claim(session, answered.id, team.alice)
    queue.record_first_response(session, answered, team.alice, now=T0 + H)
    closed = open_at(session)
    put_in(session, closed, S.CLOSED, team.alice)

    assert queue.refresh_priorities(session, T0 + 5 * H) == 1
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
    assert queue.refresh_priorities(session, T0 + 5 * H + 10 * MIN) == 0
    assert kinds(session, waiting).count(K.PRIORITY_CHANGED) == 1


def test_a_new_factor_tightens_the_due_time_but_nothing_loosens_it(
    session: Session,
) -> None:
    jane = find_by_email(session, "jane.doe@example.com")
    first = open_at(session, T0, customer=jane)
    assert first.first_response_due_at == T0 + 4 * H
    open_at(session, T0 + 10 * MIN, customer=jane)
    open_at(session, T0 + 20 * MIN, customer=jane)
    assert queue.refresh_priorities(session, T0 + 30 * MIN) >= 1
    assert (first.priority, first.first_response_due_at) == (P.HIGH, T0 + H)
    # Eight days on, the contacts no longer count but the promise stands.
    queue.refresh_priorities(session, T0 + dt.timedelta(days=8))
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
    assert queue.sla_target(ticket.priority) == target


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
    assert queue.sla_state(ticket, at) == state


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
    assert queue.sla_state(on_time, later) == "ok"
    assert queue.sla_state(late, later) == "breached"
    assert queue.sla_state(unanswered, later) == "ok"
    assert unanswered.first_responded_at is None  # the bot is not a first response


def test_describe_duration() -> None:
    assert [
        queue.describe_duration(d)
        for d in (30 * dt.timedelta(seconds=1), 45 * MIN, 2 * H, 2 * H + 5 * MIN,
                  dt.timedelta(days=3, hours=4), dt.timedelta(days=2))
    ] == ["0 min", "45 min", "2 h", "2 h 5 min", "3 d 4 h", "2 d"]  # fmt: skip


def test_an_agent_cannot_push_an_unassigned_ticket_onto_a_colleague(
    session: Session, team: Team
) -> None:
    ticket = open_at(session)
    with pytest.raises(queue.NotAllowed, match="not assigned yet"):
        queue.reassign(session, ticket, team.bob, team.alice)
    assert ticket.assigned_agent_id is None
    queue.reassign(session, ticket, team.alice, team.alice)  # taking it is fine
    assert ticket.assigned_agent_id == team.alice.id


def test_estimated_wait_is_the_usual_wait_or_the_current_backlog(
    session: Session, team: Team
) -> None:
    now = T0 + 10 * H
    assert queue.estimated_wait(session, now) is None  # no history
    for minutes in (10, 20, 30):
        ticket = open_at(session, now - dt.timedelta(minutes=60 + minutes))
        queue.claim(session, ticket.id, team.alice, now=now - dt.timedelta(hours=1))
    session.flush()
    # Claimed 10, 20 and 30 minutes after opening: usually 20 minutes.
    assert queue.estimated_wait(session, now) == dt.timedelta(minutes=20)
    # A busy queue right now: the oldest unclaimed ticket has waited 45 minutes.
    open_at(session, now - dt.timedelta(minutes=45))
    open_at(session, now - dt.timedelta(minutes=5))
    session.flush()
    assert queue.estimated_wait(session, now) == dt.timedelta(minutes=45)
