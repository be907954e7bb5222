"""Supervisor statistics: queue size, waiting times, SLA watch, agents' load, delivery.

Each function reads the database at a given moment (`now`) and changes nothing;
`supervisor_report` gathers them for the console's supervisor page and its API.
"Today" starts at midnight in the team's time zone (SWITCHBOARD_TIMEZONE).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.models import (
    Agent,
    Channel,
    Delivery,
    Sender,
    Ticket,
    TicketEvent,
    TicketEventKind,
    TicketMessage,
    TicketStatus,
)
from bot.services import priority, queue

S = TicketStatus
WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class QueueSize:
    """Open tickets per status and per channel."""

    by_status: dict[str, int]
    by_channel: dict[str, int]

    @property
    def open(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Waiting:
    """The ticket that has waited longest for someone to take it."""

    reference: str
    created_at: dt.datetime
    waited: dt.timedelta


@dataclass(frozen=True)
class SlaEntry:
    """An open ticket whose first response is late or nearly so."""

    reference: str
    subject: str
    status: str
    priority: str
    sla: str
    due: dt.datetime | None
    assignee: str | None


@dataclass(frozen=True)
class AgentLoad:
    """What one agent has on their plate."""

    agent_id: int
    name: str
    role: str
    active: bool
    claimed: int
    waiting: int
    resolved_today: int


@dataclass(frozen=True)
class UndeliveredCount:
    """Messages to customers (replies, notices) that have not gone out."""

    pending: int
    failed: int
    oldest_pending: dt.datetime | None

    @property
    def total(self) -> int:
        return self.pending + self.failed


@dataclass(frozen=True)
class SupervisorReport:
    generated_at: dt.datetime
    day_start: dt.datetime
    queue: QueueSize
    oldest_unclaimed: Waiting | None
    claim_today: dt.timedelta | None
    claim_week: dt.timedelta | None
    first_response_today: dt.timedelta | None
    first_response_week: dt.timedelta | None
    breached: list[SlaEntry]
    at_risk: list[SlaEntry]
    agents: list[AgentLoad]
    undelivered: UndeliveredCount


def day_start(now: dt.datetime, tz: dt.tzinfo = dt.timezone.utc) -> dt.datetime:
    """Midnight of `now`'s day in `tz`, as a UTC time."""
    local = now.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(dt.timezone.utc)


def median(values: Iterable[dt.timedelta]) -> dt.timedelta | None:
    """The median duration, or None for none."""
    seconds = [v.total_seconds() for v in values]
    if not seconds:
        return None
    return dt.timedelta(seconds=round(statistics.median(seconds)))


def queue_size(session: Session) -> QueueSize:
    """Open tickets by status and by channel (every status and channel listed)."""
    rows = session.execute(
        select(Ticket.status, Ticket.channel, func.count(Ticket.id))
        .where(Ticket.status.in_(queue.OPEN_STATUSES))
        .group_by(Ticket.status, Ticket.channel)
    ).all()
    by_status = {s.value: 0 for s in queue.OPEN_STATUSES}
    by_channel = {c.value: 0 for c in Channel}
    for status, channel, count in rows:
        by_status[status.value] += count
        by_channel[channel.value] += count
    return QueueSize(by_status, by_channel)


def oldest_new_ticket(session: Session) -> Ticket | None:
    """The unclaimed ticket that has waited longest."""
    return session.scalars(
        select(Ticket)
        .where(Ticket.status == S.NEW)
        .order_by(Ticket.created_at, Ticket.id)
        .limit(1)
    ).first()


def oldest_unclaimed(session: Session, now: dt.datetime) -> Waiting | None:
    """The new ticket that has waited longest, and for how long."""
    ticket = oldest_new_ticket(session)
    if ticket is None:
        return None
    return Waiting(ticket.reference, ticket.created_at, now - ticket.created_at)


def claim_waits(
    session: Session,
    since: dt.datetime,
    until: dt.datetime | None = None,
    limit: int | None = None,
) -> list[dt.timedelta]:
    """How long each ticket claimed in [since, until) waited to be claimed.

    The most recent claims first, at most `limit` of them.
    """
    query = (
        select(Ticket.created_at, TicketEvent.created_at)
        .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
        .where(
            TicketEvent.kind == TicketEventKind.CLAIMED,
            TicketEvent.created_at >= since,
        )
        .order_by(TicketEvent.created_at.desc())
    )
    if until is not None:
        query = query.where(TicketEvent.created_at < until)
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    return [claimed - created for created, claimed in rows if claimed >= created]


def estimated_wait(
    session: Session, now: dt.datetime, sample: int = 50
) -> dt.timedelta | None:
    """How long customers have recently waited for an agent to take their ticket.

    The median time from ticket to claim over the last `sample` claims of the past
    week, or, when the queue is busier than usual right now, how long the oldest
    unclaimed ticket has waited; None without enough history to say.
    """
    waits = sorted(claim_waits(session, now - WEEK, limit=sample))
    if len(waits) < 3:
        return None
    usual = waits[len(waits) // 2]
    oldest = oldest_new_ticket(session)
    if oldest is None or oldest.created_at > now:
        return usual
    return max(usual, now - oldest.created_at)


def first_response_times(
    session: Session, since: dt.datetime, until: dt.datetime
) -> list[dt.timedelta]:
    """Time to first response of the tickets first answered in [since, until)."""
    rows = session.execute(
        select(Ticket.created_at, Ticket.first_responded_at).where(
            Ticket.first_responded_at >= since, Ticket.first_responded_at < until
        )
    ).all()
    return [answered - created for created, answered in rows if answered >= created]


def sla_watch(
    session: Session, now: dt.datetime
) -> tuple[list[SlaEntry], list[SlaEntry]]:
    """Open tickets whose first response is overdue, and those nearly so (due first)."""
    tickets = session.scalars(
        select(Ticket)
        .where(
            Ticket.status.in_(queue.OPEN_STATUSES),
            Ticket.first_response_due_at.is_not(None),
        )
        .options(selectinload(Ticket.assigned_agent))
        .order_by(Ticket.first_response_due_at, Ticket.id)
    ).all()
    breached: list[SlaEntry] = []
    at_risk: list[SlaEntry] = []
    for ticket in tickets:
        state = priority.sla_state(ticket, now)
        if state == "ok":
            continue
        entry = SlaEntry(
            reference=ticket.reference,
            subject=ticket.subject,
            status=ticket.status.value,
            priority=ticket.priority.value,
            sla=state,
            due=ticket.first_response_due_at,
            assignee=ticket.assigned_agent.name if ticket.assigned_agent else None,
        )
        (breached if state == "breached" else at_risk).append(entry)
    return breached, at_risk


def agent_load(session: Session, since: dt.datetime) -> list[AgentLoad]:
    """Per agent: open tickets claimed and waiting, and tickets resolved since `since`.

    Active agents, and deactivated ones who still hold open tickets.
    """
    held: dict[tuple[int, TicketStatus], int] = {
        (agent_id, status): count
        for agent_id, status, count in session.execute(
            select(Ticket.assigned_agent_id, Ticket.status, func.count(Ticket.id))
            .where(
                Ticket.assigned_agent_id.is_not(None),
                Ticket.status.in_((S.CLAIMED, S.WAITING_ON_CUSTOMER)),
            )
            .group_by(Ticket.assigned_agent_id, Ticket.status)
        ).all()
    }
    resolved = dict(
        session.execute(
            select(
                TicketEvent.actor_agent_id,
                func.count(func.distinct(TicketEvent.ticket_id)),
            )
            .where(
                TicketEvent.kind == TicketEventKind.STATUS_CHANGED,
                TicketEvent.to_status == S.RESOLVED,
                TicketEvent.actor_agent_id.is_not(None),
                TicketEvent.created_at >= since,
            )
            .group_by(TicketEvent.actor_agent_id)
        ).all()
    )
    holders = {agent_id for agent_id, _ in held}
    agents = session.scalars(select(Agent).order_by(Agent.name, Agent.id)).all()
    return [
        AgentLoad(
            agent_id=agent.id,
            name=agent.name,
            role=agent.role.value,
            active=agent.active,
            claimed=held.get((agent.id, S.CLAIMED), 0),
            waiting=held.get((agent.id, S.WAITING_ON_CUSTOMER), 0),
            resolved_today=int(resolved.get(agent.id, 0)),
        )
        for agent in agents
        if agent.active or agent.id in holders
    ]


def undelivered(session: Session) -> UndeliveredCount:
    """Replies and notices to customers that are still pending, or failed for good."""
    team = (Sender.AGENT, Sender.SYSTEM)
    counts = dict(
        session.execute(
            select(TicketMessage.delivery, func.count(TicketMessage.id))
            .where(
                TicketMessage.sender.in_(team),
                TicketMessage.delivery.in_((Delivery.PENDING, Delivery.FAILED)),
            )
            .group_by(TicketMessage.delivery)
        ).all()
    )
    oldest = session.scalar(
        select(func.min(TicketMessage.sent_at)).where(
            TicketMessage.sender.in_(team), TicketMessage.delivery == Delivery.PENDING
        )
    )
    return UndeliveredCount(
        pending=int(counts.get(Delivery.PENDING, 0)),
        failed=int(counts.get(Delivery.FAILED, 0)),
        oldest_pending=oldest,
    )


def supervisor_report(
    session: Session, now: dt.datetime, tz: dt.tzinfo = dt.timezone.utc
) -> SupervisorReport:
    """Everything on the supervisor page, as of `now`."""
    today = day_start(now, tz)
    week = now - WEEK
    breached, at_risk = sla_watch(session, now)
    return SupervisorReport(
        generated_at=now,
        day_start=today,
        queue=queue_size(session),
        oldest_unclaimed=oldest_unclaimed(session, now),
        claim_today=median(claim_waits(session, today, now)),
        claim_week=median(claim_waits(session, week, now)),
        first_response_today=median(first_response_times(session, today, now)),
        first_response_week=median(first_response_times(session, week, now)),
        breached=breached,
        at_risk=at_risk,
        agents=agent_load(session, today),
        undelivered=undelivered(session),
    )


def _seconds(value: dt.timedelta | None) -> int | None:
    return round(value.total_seconds()) if value is not None else None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _sla_json(entry: SlaEntry) -> dict[str, Any]:
    return {
        "reference": entry.reference,
        "subject": entry.subject,
        "status": entry.status,
        "priority": entry.priority,
        "sla": entry.sla,
        "first_response_due_at": _iso(entry.due),
        "assignee": entry.assignee,
    }


def report_json(report: SupervisorReport) -> dict[str, Any]:
    """The report as JSON: times in ISO 8601, durations in seconds (null: no data)."""
    oldest = report.oldest_unclaimed
    return {
        "generated_at": _iso(report.generated_at),
        "day_start": _iso(report.day_start),
        "queue": {
            "open": report.queue.open,
            "by_status": report.queue.by_status,
            "by_channel": report.queue.by_channel,
        },
        "waiting": {
            "oldest_unclaimed": None
            if oldest is None
            else {
                "reference": oldest.reference,
                "created_at": _iso(oldest.created_at),
                "seconds": _seconds(oldest.waited),
            },
            "median_time_to_claim": {
                "today": _seconds(report.claim_today),
                "7_days": _seconds(report.claim_week),
            },
            "median_first_response": {
                "today": _seconds(report.first_response_today),
                "7_days": _seconds(report.first_response_week),
            },
        },
        "sla": {
            "breached": [_sla_json(e) for e in report.breached],
            "at_risk": [_sla_json(e) for e in report.at_risk],
        },
        "agents": [
            {
                "id": load.agent_id,
                "name": load.name,
                "role": load.role,
                "active": load.active,
                "claimed": load.claimed,
                "waiting_on_customer": load.waiting,
                "resolved_today": load.resolved_today,
            }
            for load in report.agents
        ],
        "undelivered": {
            "total": report.undelivered.total,
            "pending": report.undelivered.pending,
            "failed": report.undelivered.failed,
            "oldest_pending": _iso(report.undelivered.oldest_pending),
        },
    }
