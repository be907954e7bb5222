"""Supervisor statistics and the estimated wait (bot/services/reports.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from bot.models import (
    Agent,
    Channel,
    Delivery,
    Sender,
    Ticket,
    TicketCategory,
    TicketMessage,
)
from bot.services import priority, queue, reports, tickets
from tests.unit.queue_setup import T0 as QUEUE_T0
from tests.unit.queue_setup import H, Team, open_at

T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.timezone.utc)  # 10:00 in New York
MIN = dt.timedelta(minutes=1)


def _ticket(session: Session, created: dt.datetime, **kwargs: Any) -> Ticket:
    ticket = tickets.open_ticket(
        session,
        tickets.TicketRequest(
            channel=kwargs.pop("channel", Channel.WEB),
            category=kwargs.pop("category", TicketCategory.HANDOFF),
            subject=kwargs.pop("subject", "help"),
            **kwargs,
        ),
    )
    ticket.created_at = created
    ticket.first_response_due_at = None
    priority.apply_priority(session, ticket, created)
    session.flush()
    return ticket


def _agent(session: Session, name: str, active: bool = True) -> Agent:
    agent = Agent(
        name=name,
        email=f"{name.lower()}@reports.example.com",
        password_hash="x",
        active=active,
    )
    session.add(agent)
    session.flush()
    return agent


def test_day_start_is_local_midnight() -> None:
    from zoneinfo import ZoneInfo

    start = reports.day_start(T0, ZoneInfo("America/New_York"))
    assert start == dt.datetime(2026, 11, 20, 5, 0, tzinfo=dt.timezone.utc)
    late = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.timezone.utc)  # 22:00 on the 20th
    assert reports.day_start(late, ZoneInfo("America/New_York")) == start
    assert reports.day_start(T0) == dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)


def test_median() -> None:
    assert reports.median([]) is None
    assert reports.median([MIN, 3 * MIN, 10 * MIN]) == 3 * MIN
    assert reports.median([MIN, 2 * MIN]) == dt.timedelta(seconds=90)


def test_report_on_an_empty_queue(session: Session) -> None:
    report = reports.supervisor_report(session, T0)
    assert report.queue.open == 0
    assert report.oldest_unclaimed is None
    assert report.claim_today is None and report.first_response_week is None
    assert report.breached == [] and report.at_risk == []
    data = reports.report_json(report)
    assert data["waiting"]["median_time_to_claim"] == {"today": None, "7_days": None}


def test_supervisor_report(session: Session) -> None:
    ada, bo = _agent(session, "Ada"), _agent(session, "Bo")
    idle = _agent(session, "Idle", active=False)
    oldest = _ticket(session, T0 - 5 * 60 * MIN, subject="oldest")  # breached
    risky = _ticket(session, T0 - 200 * MIN, channel=Channel.SMS)  # 40 of 240 min left
    _ticket(session, T0 - 10 * MIN, channel=Channel.VOICE)
    claimed_today = _ticket(session, T0 - 30 * MIN)
    assert queue.claim(session, claimed_today.id, ada, now=T0 - 20 * MIN)
    claimed_earlier = _ticket(session, T0 - 3 * 24 * 60 * MIN)
    assert queue.claim(
        session, claimed_earlier.id, bo, now=T0 - 3 * 24 * 60 * MIN + 40 * MIN
    )
    # answered within its 4 hours: not a breach
    queue.wait_on_customer(
        session, claimed_earlier, bo, now=T0 - 3 * 24 * 60 * MIN + 60 * MIN
    )
    resolved = _ticket(session, T0 - 60 * MIN)
    assert queue.claim(session, resolved.id, ada, now=T0 - 50 * MIN)
    queue.resolve(session, resolved, ada, now=T0 - 5 * MIN)
    # a reply still pending and one that failed for good
    pending = TicketMessage(
        sender=Sender.AGENT, text="hi", delivery=Delivery.PENDING, sent_at=T0 - 2 * MIN
    )
    failed = TicketMessage(sender=Sender.SYSTEM, text="bye", delivery=Delivery.FAILED)
    claimed_today.messages.extend([pending, failed])
    session.flush()

    report = reports.supervisor_report(session, T0)
    assert report.queue.by_status == {"new": 3, "claimed": 1, "waiting_on_customer": 1}
    assert report.queue.by_channel == {"web": 3, "sms": 1, "voice": 1}
    assert report.oldest_unclaimed is not None
    assert report.oldest_unclaimed.reference == oldest.reference
    assert report.oldest_unclaimed.waited == 5 * 60 * MIN
    assert report.claim_today == 10 * MIN  # median of 10 and 10
    assert report.claim_week == 10 * MIN  # median of 10, 10, 40
    assert report.first_response_today == 55 * MIN  # resolving answered it
    assert report.first_response_week == dt.timedelta(minutes=57, seconds=30)
    assert [e.reference for e in report.breached] == [oldest.reference]
    assert [e.reference for e in report.at_risk] == [risky.reference]
    load = {a.name: a for a in report.agents}
    assert (load["Ada"].claimed, load["Ada"].waiting, load["Ada"].resolved_today) == (
        1,
        0,
        1,
    )
    assert (load["Bo"].claimed, load["Bo"].waiting, load["Bo"].resolved_today) == (
        0,
        1,
        0,
    )
    assert "Idle" not in load  # deactivated, nothing open
    assert idle.id not in {a.agent_id for a in report.agents}
    assert report.undelivered.total == 2
    assert (report.undelivered.pending, report.undelivered.failed) == (1, 1)
    assert report.undelivered.oldest_pending == T0 - 2 * MIN

    data = reports.report_json(report)
    assert data["waiting"]["median_time_to_claim"] == {"today": 600, "7_days": 600}
    assert data["sla"]["breached"][0]["reference"] == oldest.reference
    assert data["undelivered"]["total"] == 2


def test_deactivated_agents_with_open_tickets_are_listed(session: Session) -> None:
    ada = _agent(session, "Ada")
    ticket = _ticket(session, T0 - 30 * MIN)
    assert queue.claim(session, ticket.id, ada, now=T0 - 20 * MIN)
    ada.active = False
    session.flush()
    (load,) = (a for a in reports.agent_load(session, T0 - 60 * MIN) if a.name == "Ada")
    assert (load.active, load.claimed) == (False, 1)


def test_estimated_wait_is_the_usual_wait_or_the_current_backlog(
    session: Session, team: Team
) -> None:
    now = QUEUE_T0 + 10 * H
    assert reports.estimated_wait(session, now) is None  # no history
    for minutes in (10, 20, 30):
        ticket = open_at(session, now - dt.timedelta(minutes=60 + minutes))
        queue.claim(session, ticket.id, team.alice, now=now - dt.timedelta(hours=1))
    session.flush()
    # Claimed 10, 20 and 30 minutes after opening: usually 20 minutes.
    assert reports.estimated_wait(session, now) == dt.timedelta(minutes=20)
    # A busy queue right now: the oldest unclaimed ticket has waited 45 minutes.
    open_at(session, now - dt.timedelta(minutes=45))
    open_at(session, now - dt.timedelta(minutes=5))
    session.flush()
    assert reports.estimated_wait(session, now) == dt.timedelta(minutes=45)
