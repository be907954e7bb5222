"""Ticket priority and the first-response SLA.

Priority
========

A ticket starts at ``normal`` (feedback at ``low``) and each factor raises it one
level, up to ``urgent``:

- the customer is in the VIP segment;
- repeat contact: the customer has 2 or more other tickets from the last 7 days;
- the ticket is a problem report (the complaint category);
- waiting: each full hour past the first-response due time, while nobody has
  answered yet, raises one more level.

The reason is stored with the ticket in plain words, e.g. "VIP customer; 3 contacts
in 7 days; waiting 2 h 10 min, 1 h past the first-response target".

First-response SLA
==================

Urgent 15 min, high 1 h, normal 4 h, low 24 h from creation, by the priority without
the waiting factor (waiting is the consequence of the due time, not a reason to move
it). A due time only ever moves earlier: a factor that appears later tightens it,
nothing loosens a promise already made. `sla_state` is "at_risk" when at most 25% of
the target is left and "breached" when it has passed without an answer (or the
answer came late). The first response itself is recorded by the workflow
(bot/services/queue.py). Every priority change writes a `priority_changed` row to the
ticket's audit trail.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.durations import describe_duration
from bot.models import (
    PRIORITY_LEVELS,
    Segment,
    Ticket,
    TicketCategory,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
    utcnow,
)
from bot.services.queue import OPEN_STATUSES, record_event

S = TicketStatus

SLA_TARGETS: dict[TicketPriority, dt.timedelta] = {
    TicketPriority.URGENT: dt.timedelta(minutes=15),
    TicketPriority.HIGH: dt.timedelta(hours=1),
    TicketPriority.NORMAL: dt.timedelta(hours=4),
    TicketPriority.LOW: dt.timedelta(hours=24),
}
AT_RISK_FRACTION = 0.25
REPEAT_CONTACT_WINDOW = dt.timedelta(days=7)
REPEAT_CONTACT_OTHERS = 2  # other tickets in the window that make a repeat contact

SlaState = Literal["ok", "at_risk", "breached"]


@dataclass(frozen=True)
class PriorityAssessment:
    """What a ticket's priority should be, why, and when its first answer is due."""

    priority: TicketPriority
    reason: str
    first_response_due_at: dt.datetime


def _raise(priority: TicketPriority, levels: int) -> TicketPriority:
    index = min(PRIORITY_LEVELS.index(priority) + levels, len(PRIORITY_LEVELS) - 1)
    return PRIORITY_LEVELS[index]


def sla_target(priority: TicketPriority) -> dt.timedelta:
    """How soon a ticket of this priority should get its first response."""
    return SLA_TARGETS[priority]


def assess(
    ticket: Ticket, other_recent_contacts: int, now: dt.datetime
) -> PriorityAssessment:
    """Priority, reason and first-response due time, given the repeat-contact count.

    Pure: `compute_priority` and `refresh_priorities` count the contacts.
    """
    base = (
        TicketPriority.LOW
        if ticket.category == TicketCategory.FEEDBACK
        else TicketPriority.NORMAL
    )
    reasons: list[str] = []
    levels = 0
    if ticket.customer is not None and ticket.customer.segment == Segment.VIP:
        levels += 1
        reasons.append("VIP customer")
    if other_recent_contacts >= REPEAT_CONTACT_OTHERS:
        levels += 1
        days = REPEAT_CONTACT_WINDOW.days
        reasons.append(f"{other_recent_contacts + 1} contacts in {days} days")
    if ticket.category == TicketCategory.PROBLEM:
        levels += 1
        reasons.append("problem report")
    static = _raise(base, levels)

    created = ticket.created_at or now
    due = created + SLA_TARGETS[static]
    if ticket.first_response_due_at is not None:
        due = min(due, ticket.first_response_due_at)

    priority = static
    waiting = (
        ticket.first_responded_at is None
        and ticket.status in (S.NEW, S.CLAIMED)
        and now > due
    )
    if waiting:
        hours_over = int((now - due) // dt.timedelta(hours=1))
        if hours_over >= 1:
            priority = _raise(static, hours_over)
            reasons.append(
                f"waiting {describe_duration(now - created)}, "
                f"{hours_over} h past the first-response target"
            )
    if not reasons:
        reasons.append(
            "feedback, nothing raises it"
            if base == TicketPriority.LOW
            else "nothing raises it"
        )
    return PriorityAssessment(priority, "; ".join(reasons), due)


def _other_recent_contacts(session: Session, ticket: Ticket, now: dt.datetime) -> int:
    if ticket.customer_id is None:
        return 0
    query = select(func.count(Ticket.id)).where(
        Ticket.customer_id == ticket.customer_id,
        Ticket.created_at > now - REPEAT_CONTACT_WINDOW,
        Ticket.created_at <= now,
    )
    if ticket.id is not None:
        query = query.where(Ticket.id != ticket.id)
    return session.scalar(query) or 0


def compute_priority(
    session: Session, ticket: Ticket, now: dt.datetime
) -> tuple[TicketPriority, str]:
    """The priority the ticket should have at `now`, and why, in plain words."""
    result = assess(ticket, _other_recent_contacts(session, ticket, now), now)
    return result.priority, result.reason


def apply_priority(
    session: Session, ticket: Ticket, now: dt.datetime | None = None
) -> bool:
    """Recompute one ticket's priority, reason and due time.

    Returns:
        True if the priority changed (then a `priority_changed` row records it).
    """
    now = utcnow() if now is None else now
    result = assess(ticket, _other_recent_contacts(session, ticket, now), now)
    return _apply(session, ticket, result, now)


def _apply(
    session: Session, ticket: Ticket, result: PriorityAssessment, now: dt.datetime
) -> bool:
    before = ticket.priority
    changed = before != result.priority
    ticket.priority = result.priority
    ticket.priority_reason = result.reason
    ticket.first_response_due_at = result.first_response_due_at
    if changed:
        record_event(
            session,
            ticket,
            None,
            TicketEventKind.PRIORITY_CHANGED,
            detail=f"{before.value} -> {result.priority.value}: {result.reason}",
            now=now,
        )
    return changed


def prioritise_new_ticket(session: Session, ticket: Ticket) -> None:
    """Set a just-created ticket's priority, reason and due time; log its creation.

    Called by tickets.open_ticket once the ticket has an id.
    """
    now = ticket.created_at or utcnow()
    result = assess(ticket, _other_recent_contacts(session, ticket, now), now)
    ticket.priority = result.priority
    ticket.priority_reason = result.reason
    ticket.first_response_due_at = result.first_response_due_at
    record_event(
        session,
        ticket,
        None,
        TicketEventKind.CREATED,
        to_status=ticket.status or S.NEW,
        detail=(
            f"opened on {ticket.channel.value} ({ticket.category.value}); "
            f"priority {result.priority.value}: {result.reason}"
        ),
        now=now,
    )


def refresh_priorities(session: Session, now: dt.datetime | None = None) -> int:
    """Recompute priority, reason and due time of every open ticket.

    Meant to run periodically and before the queue is shown.

    Returns:
        How many tickets changed priority (each gets a `priority_changed` row).
    """
    now = utcnow() if now is None else now
    counts = dict(
        session.execute(
            select(Ticket.customer_id, func.count(Ticket.id))
            .where(
                Ticket.customer_id.is_not(None),
                Ticket.created_at > now - REPEAT_CONTACT_WINDOW,
                Ticket.created_at <= now,
            )
            .group_by(Ticket.customer_id)
        ).all()
    )
    tickets = session.scalars(
        select(Ticket)
        .where(Ticket.status.in_(OPEN_STATUSES))
        .options(selectinload(Ticket.customer))
        .order_by(Ticket.id)
    ).all()
    changed = 0
    for ticket in tickets:
        others = counts.get(ticket.customer_id, 0) if ticket.customer_id else 0
        if others and now - REPEAT_CONTACT_WINDOW < ticket.created_at <= now:
            others -= 1  # the ticket itself
        if _apply(session, ticket, assess(ticket, others, now), now):
            changed += 1
    session.flush()
    return changed


def sla_state(ticket: Ticket, now: dt.datetime) -> SlaState:
    """The SLA state: "ok", "at_risk" (at most 25% of the target left), "breached"."""
    due = ticket.first_response_due_at
    if due is None:
        return "ok"
    if ticket.first_responded_at is not None:
        return "breached" if ticket.first_responded_at > due else "ok"
    if ticket.status in (S.RESOLVED, S.CLOSED):
        return "ok"
    if now > due:
        return "breached"
    target = due - ticket.created_at
    if due - now <= target * AT_RISK_FRACTION:
        return "at_risk"
    return "ok"
