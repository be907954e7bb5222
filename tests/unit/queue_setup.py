"""Set-up shared by the queue, priority and report tests: a team, tickets at a time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.models import (
    Agent,
    AgentRole,
    Channel,
    Customer,
    Ticket,
    TicketCategory,
    TicketEventKind,
    TicketStatus,
)
from bot.services import priority, queue, tickets

S = TicketStatus
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)


@dataclass
class Team:
    """Four agents: two agents, a supervisor and a deactivated account."""

    alice: Agent
    bob: Agent
    sue: Agent  # supervisor
    gone: Agent  # deactivated


def make_team(session: Session) -> Team:
    """Add the team's agents to the database."""

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
    priority.apply_priority(session, ticket, created)
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
    """The kinds of the ticket's audit-trail entries, oldest first."""
    return [e.kind for e in queue.events(session, ticket)]
