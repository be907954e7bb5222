"""The agents' workflow queue: ticket states, claiming, reassigning, notes, audit trail.

States and transitions
======================

======================  ==========================================================
from                    allowed to
======================  ==========================================================
new                     claimed (an agent claims it), resolved
claimed                 waiting_on_customer, resolved
waiting_on_customer     claimed (the customer answered, or the agent takes it back)
resolved                claimed (reopened), closed
closed                  nothing: closed is final
======================  ==========================================================

Anything else raises `InvalidTransition`. Every change (status, claim, reassignment,
note, priority, first response) writes a `ticket_events` row: who (the agent, or
None for the bot/system), when, the status before and after, and a detail in words.

Status changes are compare-and-set: the UPDATE only matches while the ticket is still
in the status the caller saw, so two people acting on the same ticket at once never
both succeed; the loser gets `ConcurrentChange` (a kind of `InvalidTransition`).
Claiming is one conditional UPDATE (``... WHERE id = :id AND status = 'new' AND
assigned_agent_id IS NULL``) whose row count tells who won; that is atomic on both
SQLite (writers are serialised) and PostgreSQL (the second UPDATE waits for the
first's row lock, then re-checks its WHERE on the committed row).

Who may act: the bot/system (actor None) always; a supervisor always; an agent on
tickets that are unassigned or assigned to them. Any active agent may add notes.

An agent setting a ticket to waiting-on-customer or resolving it counts as the first
response if none was recorded; the console's reply calls `record_first_response`.

Priority and the first-response SLA live in bot/services/priority.py; they write
their `priority_changed` and `created` rows through `record_event`. The queue is
ordered by priority (highest first), then age (`queue_order`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from bot.models import (
    PRIORITY_LEVELS,
    Agent,
    AgentRole,
    Ticket,
    TicketEvent,
    TicketEventKind,
    TicketStatus,
    utcnow,
)

S = TicketStatus

ALLOWED_TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.NEW: frozenset({S.CLAIMED, S.RESOLVED}),
    S.CLAIMED: frozenset({S.WAITING_ON_CUSTOMER, S.RESOLVED}),
    S.WAITING_ON_CUSTOMER: frozenset({S.CLAIMED}),
    S.RESOLVED: frozenset({S.CLAIMED, S.CLOSED}),
    S.CLOSED: frozenset(),
}

OPEN_STATUSES = (S.NEW, S.CLAIMED, S.WAITING_ON_CUSTOMER)

# next_ticket: candidates fetched per round, and rounds before giving up.
NEXT_TICKET_CANDIDATES = 5
NEXT_TICKET_ROUNDS = 4
MAX_NOTE_LENGTH = 10_000


class QueueError(Exception):
    """A queue operation that cannot be done; the message is safe to show."""


class InvalidTransition(QueueError):
    """The ticket cannot move to that status from where it is."""


class ConcurrentChange(InvalidTransition):
    """Someone else changed the ticket between reading it and changing it."""


class NotAllowed(QueueError):
    """The agent may not do this to this ticket."""


# --- the audit trail ---------------------------------------------------------


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else utcnow()


def _loaded_ticket(session: Session, ticket_id: int) -> Ticket | None:
    obj = session.identity_map.get(identity_key(Ticket, ticket_id))
    return obj if isinstance(obj, Ticket) else None


def _record(
    session: Session,
    ticket_id: int,
    actor: Agent | None,
    kind: TicketEventKind,
    *,
    from_status: TicketStatus | None = None,
    to_status: TicketStatus | None = None,
    detail: str = "",
    now: dt.datetime,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket_id,
        actor_agent_id=actor.id if actor is not None else None,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        detail=detail,
        created_at=now,
    )
    session.add(event)
    session.flush()
    loaded = _loaded_ticket(session, ticket_id)
    if loaded is not None and "events" in loaded.__dict__:
        session.expire(loaded, ["events"])
    return event


def events(session: Session, ticket: Ticket) -> list[TicketEvent]:
    """A ticket's audit trail, oldest first."""
    return list(
        session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.id)
        )
    )


def _compare_and_set(
    session: Session, ticket: Ticket, conditions: Sequence[Any], values: dict[str, Any]
) -> None:
    """UPDATE the ticket only if `conditions` still hold; ConcurrentChange if not."""
    session.flush()
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.expire(ticket)
    if result.rowcount != 1:
        raise ConcurrentChange(
            f"ticket {ticket.reference} was changed by someone else meanwhile "
            f"(it is now {ticket.status.value}); reload it and try again"
        )


# --- who may do what -----------------------------------------------------------


def _check_active(actor: Agent) -> None:
    if not actor.active:
        raise NotAllowed(f"the account of {actor.name} is deactivated")


def _check_may_change(ticket: Ticket, actor: Agent | None) -> None:
    if actor is None:
        return
    _check_active(actor)
    if actor.role == AgentRole.SUPERVISOR:
        return
    if ticket.assigned_agent_id not in (None, actor.id):
        raise NotAllowed(
            f"ticket {ticket.reference} is assigned to another agent; only they or "
            "a supervisor can change it"
        )


def check_may_change(ticket: Ticket, actor: Agent | None) -> None:
    """Raise NotAllowed unless `actor` may change `ticket` (see the module doc)."""
    _check_may_change(ticket, actor)


def record_event(
    session: Session,
    ticket: Ticket,
    actor: Agent | None,
    kind: TicketEventKind,
    *,
    to_status: TicketStatus | None = None,
    detail: str = "",
    now: dt.datetime | None = None,
) -> TicketEvent:
    """Add an entry to the ticket's audit trail.

    For changes made outside this module: priorities, handing a conversation back
    to the assistant.
    """
    return _record(
        session,
        ticket.id,
        actor,
        kind,
        to_status=to_status,
        detail=detail,
        now=_now(now),
    )


def _agent_label(agent: Agent | None) -> str:
    return "nobody" if agent is None else f"{agent.name} (#{agent.id})"


# --- status changes ------------------------------------------------------------


def allowed_next(status: TicketStatus) -> frozenset[TicketStatus]:
    """The statuses a ticket in `status` may move to."""
    return ALLOWED_TRANSITIONS[status]


def transition(
    session: Session,
    ticket: Ticket,
    to_status: TicketStatus | str,
    actor: Agent | None,
    *,
    detail: str = "",
    now: dt.datetime | None = None,
) -> Ticket:
    """Move `ticket` to `to_status`, recording who did it.

    Raises:
        InvalidTransition: not allowed from the ticket's status (see the table above),
            or ConcurrentChange when someone else changed it first.
        NotAllowed: the actor may not change this ticket.
    """
    now = _now(now)
    try:
        target = TicketStatus(to_status)
    except ValueError as exc:
        allowed = ", ".join(s.value for s in TicketStatus)
        raise InvalidTransition(
            f"unknown status {to_status!r}; statuses are: {allowed}"
        ) from exc
    current = ticket.status
    if target not in ALLOWED_TRANSITIONS[current]:
        options = sorted(s.value for s in ALLOWED_TRANSITIONS[current])
        raise InvalidTransition(
            f"ticket {ticket.reference} cannot go from {current.value} to "
            f"{target.value}; from {current.value} it can go to "
            f"{', '.join(options) if options else 'nothing (it is final)'}"
        )
    _check_may_change(ticket, actor)

    if current == S.NEW and target == S.CLAIMED:
        if actor is None:
            raise InvalidTransition("claiming a ticket needs an agent")
        if not claim(session, ticket.id, actor, now=now):
            session.refresh(ticket)
            raise ConcurrentChange(
                f"ticket {ticket.reference} was already taken "
                f"(it is now {ticket.status.value})"
            )
        return ticket

    values: dict[str, Any] = {"status": target, "updated_at": now}
    if target == S.CLAIMED and ticket.assigned_agent_id is None:
        if actor is None:
            raise InvalidTransition(
                f"ticket {ticket.reference} has no agent to hand it to; an agent "
                "must claim it"
            )
        values["assigned_agent_id"] = actor.id
    first_response = (
        actor is not None
        and target in (S.WAITING_ON_CUSTOMER, S.RESOLVED)
        and ticket.first_responded_at is None
    )
    if first_response:
        values["first_responded_at"] = now
    _compare_and_set(
        session,
        ticket,
        [Ticket.status == current, _same_assignee(ticket.assigned_agent_id)],
        values,
    )
    _record(
        session,
        ticket.id,
        actor,
        TicketEventKind.STATUS_CHANGED,
        from_status=current,
        to_status=target,
        detail=detail,
        now=now,
    )
    if first_response:
        _record(
            session,
            ticket.id,
            actor,
            TicketEventKind.FIRST_RESPONSE,
            detail=f"first response with the status {target.value}",
            now=now,
        )
    return ticket


def _same_assignee(agent_id: int | None) -> Any:
    if agent_id is None:
        return Ticket.assigned_agent_id.is_(None)
    return Ticket.assigned_agent_id == agent_id


def claim(
    session: Session, ticket_id: int, agent: Agent, *, now: dt.datetime | None = None
) -> bool:
    """Take a new ticket. True for exactly one agent, however many try at once.

    One conditional UPDATE decides; only the winner gets a `claimed` audit row. The
    caller commits.
    """
    _check_active(agent)
    now = _now(now)
    result = session.execute(
        update(Ticket)
        .where(
            Ticket.id == ticket_id,
            Ticket.status == S.NEW,
            Ticket.assigned_agent_id.is_(None),
        )
        .values(status=S.CLAIMED, assigned_agent_id=agent.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    loaded = _loaded_ticket(session, ticket_id)
    if loaded is not None:
        session.expire(loaded)
    if result.rowcount != 1:
        return False
    _record(
        session,
        ticket_id,
        agent,
        TicketEventKind.CLAIMED,
        from_status=S.NEW,
        to_status=S.CLAIMED,
        detail=f"claimed by {_agent_label(agent)}",
        now=now,
    )
    return True


def _priority_rank() -> Any:
    return case(
        *[(Ticket.priority == p, rank) for rank, p in enumerate(PRIORITY_LEVELS)],
        else_=-1,
    )


def queue_order() -> tuple[Any, ...]:
    """ORDER BY for the queue: highest priority first, then oldest first."""
    return (_priority_rank().desc(), Ticket.created_at.asc(), Ticket.id.asc())


def next_ticket(
    session: Session, agent: Agent, *, now: dt.datetime | None = None
) -> Ticket | None:
    """Claim the most urgent new ticket (highest priority, oldest first) for `agent`.

    A ticket someone else claims between looking and claiming is skipped; after
    NEXT_TICKET_ROUNDS rounds of lost races this gives up and returns None.
    """
    _check_active(agent)
    for _ in range(NEXT_TICKET_ROUNDS):
        candidates = list(
            session.scalars(
                select(Ticket.id)
                .where(Ticket.status == S.NEW, Ticket.assigned_agent_id.is_(None))
                .order_by(*queue_order())
                .limit(NEXT_TICKET_CANDIDATES)
            )
        )
        if not candidates:
            return None
        for ticket_id in candidates:
            if claim(session, ticket_id, agent, now=now):
                return session.get(Ticket, ticket_id)
    return None


def wait_on_customer(
    session: Session,
    ticket: Ticket,
    actor: Agent | None,
    *,
    now: dt.datetime | None = None,
) -> Ticket:
    """The agent needs something from the customer."""
    return transition(session, ticket, S.WAITING_ON_CUSTOMER, actor, now=now)


def resolve(
    session: Session,
    ticket: Ticket,
    actor: Agent | None,
    *,
    detail: str = "",
    now: dt.datetime | None = None,
) -> Ticket:
    """The customer's request is done (reopening is still possible)."""
    return transition(session, ticket, S.RESOLVED, actor, detail=detail, now=now)


def reopen(
    session: Session,
    ticket: Ticket,
    actor: Agent | None,
    *,
    detail: str = "",
    now: dt.datetime | None = None,
) -> Ticket:
    """Back to claimed from resolved (or from waiting-on-customer)."""
    return transition(session, ticket, S.CLAIMED, actor, detail=detail, now=now)


def close(
    session: Session,
    ticket: Ticket,
    actor: Agent | None,
    *,
    now: dt.datetime | None = None,
) -> Ticket:
    """Close a resolved ticket for good."""
    return transition(session, ticket, S.CLOSED, actor, now=now)


def reassign(
    session: Session,
    ticket: Ticket,
    to_agent: Agent,
    actor: Agent | None,
    *,
    now: dt.datetime | None = None,
) -> Ticket:
    """Give the ticket to `to_agent`. A new ticket becomes claimed by them.

    Allowed for the current assignee, a supervisor or the system; not on closed
    tickets. Reassigning to the current assignee changes nothing.
    """
    now = _now(now)
    if not to_agent.active:
        raise NotAllowed(f"the account of {to_agent.name} is deactivated")
    current = ticket.status
    if current == S.CLOSED:
        raise InvalidTransition(f"ticket {ticket.reference} is closed")
    _check_may_change(ticket, actor)
    if (
        actor is not None
        and actor.role != AgentRole.SUPERVISOR
        and ticket.assigned_agent_id is None
        and to_agent.id != actor.id
    ):
        raise NotAllowed(
            f"ticket {ticket.reference} is not assigned yet; claim it yourself, or ask "
            "a supervisor to assign it to someone else"
        )
    previous_id = ticket.assigned_agent_id
    if previous_id == to_agent.id:
        return ticket
    previous = session.get(Agent, previous_id) if previous_id is not None else None
    target = S.CLAIMED if current == S.NEW else current
    _compare_and_set(
        session,
        ticket,
        [Ticket.status == current, _same_assignee(previous_id)],
        {"status": target, "assigned_agent_id": to_agent.id, "updated_at": now},
    )
    _record(
        session,
        ticket.id,
        actor,
        TicketEventKind.REASSIGNED,
        from_status=current,
        to_status=target,
        detail=f"{_agent_label(previous)} -> {_agent_label(to_agent)}",
        now=now,
    )
    return ticket


def add_note(
    session: Session,
    ticket: Ticket,
    actor: Agent,
    text: str,
    *,
    now: dt.datetime | None = None,
) -> TicketEvent:
    """An internal note on the ticket (agents only; never shown to the customer)."""
    _check_active(actor)
    text = text.strip()
    if not text:
        raise ValueError("a note needs some text")
    if len(text) > MAX_NOTE_LENGTH:
        raise ValueError(f"a note can be at most {MAX_NOTE_LENGTH} characters long")
    return _record(
        session,
        ticket.id,
        actor,
        TicketEventKind.NOTE,
        detail=text,
        now=_now(now),
    )


def record_first_response(
    session: Session,
    ticket: Ticket,
    actor: Agent | None,
    *,
    now: dt.datetime | None = None,
) -> bool:
    """Note that a person answered the customer; True if it was the first answer."""
    now = _now(now)
    session.flush()
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.first_responded_at.is_(None))
        .values(first_responded_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire(ticket)
    if result.rowcount != 1:
        return False
    _record(
        session,
        ticket.id,
        actor,
        TicketEventKind.FIRST_RESPONSE,
        detail="first response",
        now=now,
    )
    return True
