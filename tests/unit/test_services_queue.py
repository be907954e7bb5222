"""The workflow queue: transitions, audit trail, claiming, reassigning, notes."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.models import (
    Ticket,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
)
from bot.services import queue
from tests.unit.queue_setup import MIN, T0, H, Team, kinds, open_at, put_in

S = TicketStatus
P = TicketPriority
K = TicketEventKind


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


def test_an_agent_cannot_push_an_unassigned_ticket_onto_a_colleague(
    session: Session, team: Team
) -> None:
    ticket = open_at(session)
    with pytest.raises(queue.NotAllowed, match="not assigned yet"):
        queue.reassign(session, ticket, team.bob, team.alice)
    assert ticket.assigned_agent_id is None
    queue.reassign(session, ticket, team.alice, team.alice)  # taking it is fine
    assert ticket.assigned_agent_id == team.alice.id
