"""What the console's queue and ticket views read: filters, rows and their JSON.

The page and the API that refreshes it share these, so both show the same thing.
The queue rules themselves are bot/services/queue.py's (order) and
bot/services/priority.py's (SLA, priority).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.durations import describe_duration
from bot.models import (
    Channel,
    Sender,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from bot.services import queue
from bot.services.priority import sla_state

S = TicketStatus
STATUS_FILTERS: dict[str, tuple[TicketStatus, ...]] = {
    "open": queue.OPEN_STATUSES,
    **{status.value: (status,) for status in TicketStatus},
    "all": tuple(TicketStatus),
}
QUEUE_LIMIT = 200


def _choice(args: Mapping[str, str], name: str, allowed: Sequence[str]) -> str | None:
    raw = args.get(name, "")
    if raw == "":
        return None
    if raw not in allowed:
        raise ValueError(f"{name} must be one of: {', '.join(allowed)}")
    return raw


@dataclass(frozen=True)
class QueueFilters:
    """The queue view's filters, from its query string."""

    status: str = "open"
    channel: Channel | None = None
    priority: TicketPriority | None = None
    mine: bool = False

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> QueueFilters:
        """Filters from request arguments; ValueError (safe to show) if invalid."""
        status = _choice(args, "status", list(STATUS_FILTERS)) or "open"
        channel = _choice(args, "channel", [c.value for c in Channel])
        priority = _choice(args, "priority", [p.value for p in TicketPriority])
        mine = _choice(args, "mine", ["0", "1"]) == "1"
        return cls(
            status=status,
            channel=Channel(channel) if channel else None,
            priority=TicketPriority(priority) if priority else None,
            mine=mine,
        )

    def args(self) -> dict[str, str]:
        """The query string arguments that give these filters (defaults left out)."""
        out = {"status": self.status} if self.status != "open" else {}
        if self.channel is not None:
            out["channel"] = self.channel.value
        if self.priority is not None:
            out["priority"] = self.priority.value
        if self.mine:
            out["mine"] = "1"
        return out


def _filtered(query: Any, filters: QueueFilters, agent_id: int) -> Any:
    if filters.channel is not None:
        query = query.where(Ticket.channel == filters.channel)
    if filters.priority is not None:
        query = query.where(Ticket.priority == filters.priority)
    if filters.mine:
        query = query.where(Ticket.assigned_agent_id == agent_id)
    return query


def queue_tickets(
    db: Session, filters: QueueFilters, agent_id: int, limit: int = QUEUE_LIMIT
) -> list[Ticket]:
    """The tickets the filters select, in queue order (most urgent, then oldest)."""
    query = (
        select(Ticket)
        .where(Ticket.status.in_(STATUS_FILTERS[filters.status]))
        .options(selectinload(Ticket.customer), selectinload(Ticket.assigned_agent))
        .order_by(*queue.queue_order())
        .limit(limit)
    )
    return list(db.scalars(_filtered(query, filters, agent_id)))


def status_counts(db: Session, filters: QueueFilters, agent_id: int) -> dict[str, int]:
    """Tickets per status under the other filters (channel, priority, mine)."""
    query = select(Ticket.status, func.count(Ticket.id)).group_by(Ticket.status)
    counts = dict(db.execute(_filtered(query, filters, agent_id)).all())
    return {status.value: int(counts.get(status, 0)) for status in TicketStatus}


def team_wrote() -> Any:
    """Lines the team sent the customer: an agent's reply, or a notice that went out.

    Internal SYSTEM lines such as "Customer asked again." are not the team
    answering.
    """
    return or_(
        TicketMessage.sender == Sender.AGENT,
        and_(
            TicketMessage.sender == Sender.SYSTEM, TicketMessage.delivery.is_not(None)
        ),
    )


def unread_counts(db: Session, ticket_ids: Sequence[int]) -> dict[int, int]:
    """Customer messages since the team last wrote to the customer (all, if never)."""
    if not ticket_ids:
        return {}
    last_team = (
        select(
            TicketMessage.ticket_id.label("ticket_id"),
            func.max(TicketMessage.id).label("last_id"),
        )
        .where(TicketMessage.ticket_id.in_(ticket_ids), team_wrote())
        .group_by(TicketMessage.ticket_id)
        .subquery()
    )
    rows = db.execute(
        select(TicketMessage.ticket_id, func.count(TicketMessage.id))
        .outerjoin(last_team, last_team.c.ticket_id == TicketMessage.ticket_id)
        .where(
            TicketMessage.ticket_id.in_(ticket_ids),
            TicketMessage.sender == Sender.CUSTOMER,
            TicketMessage.id > func.coalesce(last_team.c.last_id, 0),
        )
        .group_by(TicketMessage.ticket_id)
    ).all()
    return {ticket_id: int(count) for ticket_id, count in rows}


def customer_label(ticket: Ticket) -> str:
    if ticket.customer is not None:
        return ticket.customer.name
    return ticket.contact or "Anonymous visitor"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def queue_row(ticket: Ticket, now: dt.datetime, unread: int = 0) -> dict[str, Any]:
    """One queue line as the API sends it."""
    return {
        "reference": ticket.reference,
        "status": ticket.status.value,
        "channel": ticket.channel.value,
        "priority": ticket.priority.value,
        "priority_reason": ticket.priority_reason or "",
        "sla": sla_state(ticket, now),
        "first_response_due_at": _iso(ticket.first_response_due_at),
        "subject": ticket.subject,
        "customer": customer_label(ticket),
        "assignee": ticket.assigned_agent.name if ticket.assigned_agent else None,
        "created_at": _iso(ticket.created_at),
        "age": describe_duration(now - ticket.created_at),
        "summary": ticket.summary,
        "unread": unread,
    }


def queue_listing(
    db: Session, filters: QueueFilters, agent_id: int, now: dt.datetime
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The queue as the page and the API show it: rows, and counts per status."""
    found = queue_tickets(db, filters, agent_id)
    unread = unread_counts(db, [t.id for t in found])
    rows = [queue_row(t, now, unread.get(t.id, 0)) for t in found]
    return rows, status_counts(db, filters, agent_id)


def ticket_state(ticket: Ticket, now: dt.datetime, held: bool) -> dict[str, Any]:
    """The parts of a ticket the ticket view refreshes live."""
    return {
        "reference": ticket.reference,
        "status": ticket.status.value,
        "assignee": ticket.assigned_agent.name if ticket.assigned_agent else None,
        "priority": ticket.priority.value,
        "sla": sla_state(ticket, now),
        "held": held,
    }
