"""Insights: what the assistant resolves, where it fails, defined once.

The Insights page, its CSV exports and `python -m bot report` all read these
figures, computed in SQL from the analytics tables (bot/insights/schema.py) for a
range of the shop's days and optionally one channel. A conversation is one Rasa
session with at least one customer message. Its outcome is exactly one of:

| outcome | when |
|---|---|
| `handed_off` | the conversation was handed to a person (a handoff ticket) |
| `abandoned` | not handed off, and the customer stopped answering mid-flow: a form was waiting for their answer when the conversation ended (a new session, or `SESSION_IDLE` without a message) |
| `contained` | not the above; the assistant answered or completed a request (an article, an order's status, a cancellation, a ticket filed, a registration link...) and no person was involved with the same customer (any channel) within 24 h after the conversation's last event |
| `open` | not the above, and still going (a form waits, or less than `SESSION_IDLE` since its last event) |
| `unresolved` | the rest: it ended with nothing answered (only chat, out of scope, "I don't know"), or a person was needed within 24 h |

Rates (each over the conversations in the range, unless said otherwise):
containment = contained / conversations; handoff rate = handed_off /
conversations; abandonment = abandoned / conversations; fallback rate = messages
the assistant asked to have rephrased / customer messages; verification failure
rate = failed verifications / (failed + passed verifications); first-contact
resolution = ended conversations resolved at the first contact (contained, or
handed off with the ticket now resolved or closed) whose customer did not come
back within 7 days / ended conversations (all but `open`); repeat contacts =
conversations whose customer (the customer proved, else the phone, else the same
chat or sender) had another conversation in the 7 days before / conversations.

An outcome is stored (`outcome`) once nothing can change it (24 h after the last
event, `settle_outcomes`); until then it is computed from the row as of `now`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, not_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from bot import clock
from bot.insights.contacts import PERSON_WINDOW
from bot.insights.events import NOT_A_REQUEST
from bot.insights.schema import InsightConversation, InsightFlow, InsightTurn
from bot.models import Ticket, TicketStatus

# Rasa's session_expiration_time (domain.yml): a conversation quiet this long ended.
SESSION_IDLE = dt.timedelta(minutes=60)

HANDED_OFF = "handed_off"
CONTAINED = "contained"
ABANDONED = "abandoned"
OPEN = "open"
UNRESOLVED = "unresolved"
OUTCOMES = (CONTAINED, HANDED_OFF, ABANDONED, UNRESOLVED, OPEN)
CHANNELS = ("web", "sms", "voice", "rest")
SATISFIED = 4  # a rating of 4 or 5 out of 5 counts as satisfied (CSAT)
TOP_INTENTS = 10
TOP_QUESTIONS = 20

C = InsightConversation


def outcome_as_of(now: dt.datetime) -> ColumnElement[Any]:
    """The outcome of a conversation row as of `now` (see the module's table)."""
    ended = or_(C.closed.is_(True), C.last_event_at < now - SESSION_IDLE)
    return case(
        (C.handed_off.is_(True), HANDED_OFF),
        (and_(C.active_flow.isnot(None), ended), ABANDONED),
        (C.active_flow.isnot(None), OPEN),
        (and_(C.answers > 0, C.person_later_at.is_(None)), CONTAINED),
        (not_(ended), OPEN),
        else_=UNRESOLVED,
    )


def outcome(now: dt.datetime) -> ColumnElement[Any]:
    """The stored outcome, else the one as of `now`."""
    return func.coalesce(C.outcome, outcome_as_of(now))


def settle_outcomes(session: Session, as_of: dt.datetime | None = None) -> int:
    """Store the outcome of conversations that can no longer change; return how many.

    `as_of` defaults to the clock, but never later than the latest event recorded,
    so a consumer catching up on old events settles nothing too early.
    """
    if as_of is None:
        latest = session.scalar(select(func.max(C.last_event_at)))
        if latest is None:
            return 0
        latest = latest if latest.tzinfo else latest.replace(tzinfo=dt.timezone.utc)
        as_of = min(clock.now(), latest)
    result = session.execute(
        update(C)
        .where(
            C.outcome.is_(None),
            C.messages > 0,
            C.last_event_at < as_of - PERSON_WINDOW,
        )
        .values(outcome=outcome_as_of(as_of))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class Filters:
    """Which conversations: the shop's days `start`..`end` (inclusive), a channel."""

    start: dt.date
    end: dt.date
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the range ends before it starts")
        if self.channel is not None and self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")

    @classmethod
    def last_days(
        cls, days: int, today: dt.date, channel: str | None = None
    ) -> Filters:
        """The `days` days up to and including `today`."""
        if days < 1:
            raise ValueError("the range is at least one day")
        return cls(today - dt.timedelta(days=days - 1), today, channel)

    def where(self) -> list[ColumnElement[bool]]:
        """The conditions on insights_conversations."""
        conditions = [C.day >= self.start, C.day <= self.end, C.messages > 0]
        if self.channel is not None:
            conditions.append(C.channel == self.channel)
        return conditions


def rate(part: int, whole: int) -> float | None:
    """Part / whole, or None when there is nothing to divide."""
    return part / whole if whole else None


@dataclass(frozen=True)
class Totals:
    """The range's counts; each rate's formula is in the module docstring."""

    conversations: int
    outcomes: dict[str, int]
    messages: int
    fallbacks: int
    verifications: int
    verification_failures: int
    repeat_contacts: int
    resolved_first_contact: int

    @property
    def ended(self) -> int:
        return self.conversations - self.outcomes.get(OPEN, 0)

    @property
    def fractions(self) -> dict[str, tuple[int, int]]:
        """Each rate's numerator and denominator, by the rate's name."""
        return {
            "containment": (self.outcomes.get(CONTAINED, 0), self.conversations),
            "handoff": (self.outcomes.get(HANDED_OFF, 0), self.conversations),
            "abandonment": (self.outcomes.get(ABANDONED, 0), self.conversations),
            "fallback": (self.fallbacks, self.messages),
            "verification_failure": (
                self.verification_failures,
                self.verification_failures + self.verifications,
            ),
            "first_contact_resolution": (self.resolved_first_contact, self.ended),
            "repeat_contact": (self.repeat_contacts, self.conversations),
        }

    @property
    def rates(self) -> dict[str, float | None]:
        """Every rate the page and the report show, by name."""
        return {name: rate(*pair) for name, pair in self.fractions.items()}


@dataclass(frozen=True)
class DayRow:
    """Conversations of one day and channel, by outcome."""

    day: dt.date
    channel: str
    outcomes: dict[str, int]

    @property
    def conversations(self) -> int:
        return sum(self.outcomes.values())


@dataclass(frozen=True)
class IntentRow:
    intent: str
    messages: int
    resolved: int

    @property
    def completion(self) -> float | None:
        return rate(self.resolved, self.messages)


@dataclass(frozen=True)
class FunnelRow:
    flow: str
    started: int
    verified: int
    completed: int
    handed_off: int


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    messages: int
    fallbacks: int

    @property
    def fallback_rate(self) -> float | None:
        return rate(self.fallbacks, self.messages)


@dataclass(frozen=True)
class QuestionRow:
    """A question the help centre had no article for, however often it was asked."""

    question: str
    asked: int
    last_asked: dt.datetime


@dataclass(frozen=True)
class Csat:
    """Ratings found in feedback: CSAT = ratings of 4 or 5 / ratings."""

    ratings: int
    satisfied: int
    average: float | None
    unrated_feedback: int

    @property
    def score(self) -> float | None:
        return rate(self.satisfied, self.ratings)


@dataclass(frozen=True)
class SegmentRow:
    segment: str  # "vip", "standard" or "unknown" (the customer was not identified)
    conversations: int
    handoffs: int


@dataclass(frozen=True)
class Report:
    """Every figure of the Insights page for one range and channel."""

    filters: Filters
    generated_at: dt.datetime
    totals: Totals
    days: list[DayRow]
    intents: list[IntentRow]
    funnels: list[FunnelRow]
    handoff_reasons: dict[str, int]
    channels: list[ChannelRow]
    unanswered: list[QuestionRow]
    csat: Csat
    segments: list[SegmentRow]


def _count(condition: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _days(session: Session, filters: Filters, now: dt.datetime) -> list[DayRow]:
    result = outcome(now).label("outcome")
    rows = session.execute(
        select(C.day, func.coalesce(C.channel, "unknown"), result, func.count())
        .where(*filters.where())
        .group_by(C.day, func.coalesce(C.channel, "unknown"), result)
    ).all()
    cells: dict[tuple[dt.date, str], dict[str, int]] = {}
    for day, channel, name, count in rows:
        cells.setdefault((day, channel), {})[name] = int(count)
    return [
        DayRow(day, channel, cells[(day, channel)]) for day, channel in sorted(cells)
    ]


def totals(session: Session, filters: Filters, now: dt.datetime) -> Totals:
    """The range's counts and rates."""
    result = outcome(now)
    resolved_ticket = Ticket.status.in_([TicketStatus.RESOLVED, TicketStatus.CLOSED])
    first_contact = and_(
        C.contacted_again.is_(False),
        or_(result == CONTAINED, and_(result == HANDED_OFF, resolved_ticket)),
    )
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(C.messages), 0),
            func.coalesce(func.sum(C.fallbacks), 0),
            func.coalesce(func.sum(C.verifications), 0),
            func.coalesce(func.sum(C.verification_failures), 0),
            _count(C.repeat_contact.is_(True)),
            _count(first_contact),
            *(_count(result == name) for name in OUTCOMES),
        )
        .select_from(C)
        .outerjoin(Ticket, Ticket.reference == C.ticket_reference)
        .where(*filters.where())
    ).one()
    counts = [int(value) for value in row]
    return Totals(
        conversations=counts[0],
        outcomes=dict(zip(OUTCOMES, counts[7:], strict=True)),
        messages=counts[1],
        fallbacks=counts[2],
        verifications=counts[3],
        verification_failures=counts[4],
        repeat_contacts=counts[5],
        resolved_first_contact=counts[6],
    )


def _intents(session: Session, filters: Filters, limit: int) -> list[IntentRow]:
    T = InsightTurn
    rows = session.execute(
        select(T.intent, func.count(), _count(T.resolved.is_(True)))
        .join(C, C.id == T.conversation_row_id)
        .where(*filters.where(), T.intent.isnot(None), T.intent.notin_(NOT_A_REQUEST))
        .group_by(T.intent)
        .order_by(func.count().desc(), T.intent)
        .limit(limit)
    ).all()
    return [IntentRow(str(i), int(n), int(r)) for i, n, r in rows]


def _funnels(session: Session, filters: Filters) -> list[FunnelRow]:
    F = InsightFlow
    name = func.coalesce(F.request, F.flow)
    rows = session.execute(
        select(
            name,
            func.count(),
            _count(F.verified.is_(True)),
            _count(F.completed.is_(True)),
            _count(F.handed_off.is_(True)),
        )
        .join(C, C.id == F.conversation_row_id)
        .where(*filters.where())
        .group_by(name)
        .order_by(func.count().desc(), name)
    ).all()
    return [FunnelRow(str(r[0]), *(int(v) for v in r[1:])) for r in rows]


def _handoff_reasons(session: Session, filters: Filters) -> dict[str, int]:
    reason = func.coalesce(C.handoff_reason, "other")
    rows = session.execute(
        select(reason, func.count())
        .where(*filters.where(), C.handed_off.is_(True))
        .group_by(reason)
        .order_by(func.count().desc(), reason)
    ).all()
    return {str(name): int(count) for name, count in rows}


def _channels(session: Session, filters: Filters) -> list[ChannelRow]:
    channel = func.coalesce(C.channel, "unknown")
    rows = session.execute(
        select(channel, func.sum(C.messages), func.sum(C.fallbacks))
        .where(*filters.where())
        .group_by(channel)
        .order_by(channel)
    ).all()
    return [ChannelRow(str(c), int(m or 0), int(f or 0)) for c, m, f in rows]


def unanswered_questions(
    session: Session, filters: Filters, limit: int = TOP_QUESTIONS
) -> list[QuestionRow]:
    """Questions the help centre found no article for, most asked first.

    Questions that differ only in case or surrounding spaces count as one.
    """
    T = InsightTurn
    question = func.lower(func.trim(T.kb_question))
    rows = session.execute(
        select(question, func.count(), func.max(T.at))
        .join(C, C.id == T.conversation_row_id)
        .where(*filters.where(), T.kb_found.is_(False), T.kb_question.isnot(None))
        .group_by(question)
        .order_by(func.count().desc(), func.max(T.at).desc())
        .limit(limit)
    ).all()
    return [QuestionRow(str(q), int(n), _utc(last)) for q, n, last in rows]


def _csat(session: Session, filters: Filters) -> Csat:
    T = InsightTurn
    feedback = T.intent == "give_feedback"
    row = session.execute(
        select(
            func.count(T.rating),
            _count(T.rating >= SATISFIED),
            func.avg(cast(T.rating, Integer)),
            _count(and_(feedback, T.rating.is_(None))),
        )
        .join(C, C.id == T.conversation_row_id)
        .where(*filters.where())
    ).one()
    average = float(row[2]) if row[2] is not None else None
    return Csat(int(row[0]), int(row[1]), average, int(row[3]))


def _segments(session: Session, filters: Filters) -> list[SegmentRow]:
    segment = func.coalesce(C.segment, "unknown")
    rows = session.execute(
        select(segment, func.count(), _count(C.handed_off.is_(True)))
        .where(*filters.where())
        .group_by(segment)
        .order_by(segment)
    ).all()
    return [SegmentRow(str(s), int(n), int(h)) for s, n, h in rows]


def _utc(moment: dt.datetime) -> dt.datetime:
    # func.max() skips the column's type: SQLite hands back a naive UTC time.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def report(session: Session, filters: Filters, now: dt.datetime) -> Report:
    """Every figure of the Insights page, as of `now`."""
    return Report(
        filters=filters,
        generated_at=now,
        totals=totals(session, filters, now),
        days=_days(session, filters, now),
        intents=_intents(session, filters, TOP_INTENTS),
        funnels=_funnels(session, filters),
        handoff_reasons=_handoff_reasons(session, filters),
        channels=_channels(session, filters),
        unanswered=unanswered_questions(session, filters),
        csat=_csat(session, filters),
        segments=_segments(session, filters),
    )
