"""Red flags: customers who keep coming back, report problems, VIPs handed off."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.insights.events import record_events
from bot.models import Channel, Customer, Segment, Ticket, TicketCategory
from bot.services import attention
from tests.unit.insights_events import CONTEXT, START, Script

DAY = dt.timedelta(days=1)


def customer(session: Session, email: str) -> Customer:
    return session.scalars(select(Customer).where(Customer.email == email)).one()


def contacts(sender: str, email: str, at: dt.datetime) -> Script:
    return Script(sender, at=at).session().order_status(email)


def problem_ticket(
    session: Session, who: Customer, reference: str, at: dt.datetime
) -> None:
    session.add(
        Ticket(
            reference=reference,
            customer_id=who.id,
            channel=Channel.WEB,
            category=TicketCategory.PROBLEM,
            subject=f"Problem {reference}",
            created_at=at,
            updated_at=at,
        )
    )
    session.flush()


def test_each_red_flag_and_its_tickets(session: Session) -> None:
    jane = customer(session, "jane.doe@example.com")
    maria = customer(session, "maria.lopez@example.com")
    sam = customer(session, "sam.lee@example.com")
    now = START + 10 * DAY
    events = []
    for n, days_ago in enumerate((6, 3, 1)):  # Jane: 3 in 7 days
        events += contacts(f"jane-{n}", jane.email, now - days_ago * DAY).events
    for n, days_ago in enumerate((9, 1)):  # Maria: only one in 7 days
        events += contacts(f"maria-{n}", maria.email, now - days_ago * DAY).events
    for n, days_ago in enumerate((20, 2)):  # Sam (VIP): two handoffs in 30 days
        script = Script(f"sam-{n}", at=now - days_ago * DAY).session()
        script.order_status(sam.email).ask_for_person(f"T-SAM00{n}")
        events += script.events
    record_events(session, events, CONTEXT)
    problem_ticket(session, maria, "T-MAR001", now - 29 * DAY)
    problem_ticket(session, maria, "T-MAR002", now - 2 * DAY)
    problem_ticket(session, jane, "T-JAN001", now - 40 * DAY)  # too long ago
    problem_ticket(session, jane, "T-JAN002", now - DAY)

    flags = {flag.email: flag for flag in attention.red_flags(session, now)}
    assert set(flags) == {jane.email, maria.email, sam.email}
    assert flags[jane.email].reasons == {attention.REPEAT_CONTACTS: 3}
    assert flags[maria.email].reasons == {attention.PROBLEM_REPORTS: 2}
    assert flags[sam.email].reasons == {attention.VIP_HANDOFFS: 2}
    assert flags[sam.email].segment == Segment.VIP
    assert flags[jane.email].describe() == ["3 conversations in 7 days"]
    assert [t.reference for t in flags[maria.email].tickets] == ["T-MAR002", "T-MAR001"]
    assert [t.reference for t in flags[jane.email].tickets] == ["T-JAN002", "T-JAN001"]


def test_a_standard_customer_handed_off_twice_is_no_vip_flag(session: Session) -> None:
    jane = customer(session, "jane.doe@example.com")
    events = []
    for n in range(2):
        script = Script(f"std-{n}", at=START + n * DAY).session()
        events += script.order_status(jane.email).ask_for_person(f"T-STD00{n}").events
    record_events(session, events, CONTEXT)
    assert attention.red_flags(session, START + 3 * DAY) == []


def test_most_reasons_first(session: Session) -> None:
    jane = customer(session, "jane.doe@example.com")
    maria = customer(session, "maria.lopez@example.com")
    now = START + 5 * DAY
    events = []
    for n in range(3):
        events += contacts(f"both-{n}", jane.email, now - (n + 1) * DAY).events
    record_events(session, events, CONTEXT)
    for n, who in enumerate((jane, jane, maria, maria)):
        problem_ticket(session, who, f"T-ORD00{n}", now - DAY)
    order = [flag.email for flag in attention.red_flags(session, now)]
    assert order == [jane.email, maria.email]
