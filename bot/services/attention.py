"""Customers who need attention: the red flags of the Insights page.

A customer (one the assistant identified: signed in, verified, or vouched for by
their phone) is flagged, as of `now` and on every channel, for:

| flag | rule |
|---|---|
| `repeat_contacts` | 3 or more conversations in the last 7 days |
| `problem_reports` | 2 or more problem tickets in the last 30 days |
| `vip_handoffs` | a VIP customer handed to a person in 2 or more conversations in the last 30 days |

Each flag comes with the customer's latest tickets, for the console to link to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from bot.insights.schema import InsightConversation
from bot.models import Customer, Segment, Ticket, TicketCategory, TicketStatus

REPEAT_CONTACTS = "repeat_contacts"
PROBLEM_REPORTS = "problem_reports"
VIP_HANDOFFS = "vip_handoffs"
CONTACTS_WINDOW = dt.timedelta(days=7)
CONTACTS_LIMIT = 3
PROBLEMS_WINDOW = dt.timedelta(days=30)
PROBLEMS_LIMIT = 2
VIP_WINDOW = dt.timedelta(days=30)
VIP_HANDOFFS_LIMIT = 2
TICKETS_SHOWN = 5

C = InsightConversation


@dataclass(frozen=True)
class TicketLink:
    reference: str
    subject: str
    status: TicketStatus
    created_at: dt.datetime


@dataclass(frozen=True)
class RedFlag:
    """A customer who needs attention, why (flag: count) and their latest tickets."""

    customer_id: int
    name: str
    email: str
    segment: Segment
    reasons: dict[str, int]
    tickets: list[TicketLink]

    def describe(self) -> list[str]:
        """Each reason in words."""
        words = {
            REPEAT_CONTACTS: "{} conversations in 7 days",
            PROBLEM_REPORTS: "{} problem reports in 30 days",
            VIP_HANDOFFS: "VIP handed to a person {} times in 30 days",
        }
        return [words[flag].format(count) for flag, count in self.reasons.items()]


def _since(moment: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """Conversations started since `moment`; the day too, which is indexed.

    A conversation's day is its local date: never before the UTC date's eve.
    """
    eve = moment.astimezone(dt.timezone.utc).date() - dt.timedelta(days=1)
    return (C.day >= eve, C.started_at >= moment)


def red_flags(session: Session, now: dt.datetime, limit: int = 50) -> list[RedFlag]:
    """Flagged customers, most reasons first, then most contacts."""
    found: dict[int, dict[str, int]] = {}
    # An expression, not the column: SQLite then narrows conversations by the day's
    # index instead of walking every identified one in customer order.
    who = (C.customer_id + 0).label("customer")
    queries = {
        REPEAT_CONTACTS: (
            select(who, func.count())
            .where(who.isnot(None), C.messages > 0)
            .where(*_since(now - CONTACTS_WINDOW))
            .group_by(who)
            .having(func.count() >= CONTACTS_LIMIT)
        ),
        PROBLEM_REPORTS: (
            select(Ticket.customer_id, func.count())
            .where(Ticket.customer_id.isnot(None))
            .where(Ticket.category == TicketCategory.PROBLEM)
            .where(Ticket.created_at >= now - PROBLEMS_WINDOW)
            .group_by(Ticket.customer_id)
            .having(func.count() >= PROBLEMS_LIMIT)
        ),
        VIP_HANDOFFS: (
            select(who, func.count())
            .join(Customer, Customer.id == who)
            .where(Customer.segment == Segment.VIP, C.handed_off.is_(True))
            .where(*_since(now - VIP_WINDOW))
            .group_by(who)
            .having(func.count() >= VIP_HANDOFFS_LIMIT)
        ),
    }
    for flag, query in queries.items():
        for customer_id, count in session.execute(query):
            found.setdefault(int(customer_id), {})[flag] = int(count)
    if not found:
        return []
    customers = {
        customer.id: customer
        for customer in session.scalars(select(Customer).where(Customer.id.in_(found)))
    }
    order = sorted(
        found,
        key=lambda cid: (-len(found[cid]), -sum(found[cid].values()), cid),
    )[:limit]
    return [
        RedFlag(
            customer_id=cid,
            name=customers[cid].name,
            email=customers[cid].email,
            segment=customers[cid].segment,
            reasons=found[cid],
            tickets=latest_tickets(session, cid),
        )
        for cid in order
        if cid in customers
    ]


def latest_tickets(
    session: Session, customer_id: int, limit: int = TICKETS_SHOWN
) -> list[TicketLink]:
    """The customer's most recent tickets."""
    tickets = session.scalars(
        select(Ticket)
        .where(Ticket.customer_id == customer_id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return [TicketLink(t.reference, t.subject, t.status, t.created_at) for t in tickets]
