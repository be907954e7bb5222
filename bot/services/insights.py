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

from sqlalchemy import and_, case, func, not_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from bot import clock
from bot.insights.contacts import PERSON_WINDOW
from bot.insights.events import FEEDBACK_INTENT, NOT_A_REQUEST
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


@dataclass(frozen=True)
class _Cell:
    """Conversations of one day, channel and outcome (and how they ended)."""

    day: dt.date
    channel: str
    outcome: str
    contacted_again: bool
    ticket_resolved: bool
    conversations: int
    messages: int
    fallbacks: int
    verifications: int
    verification_failures: int
    repeat_contacts: int

    @property
    def resolved_first_contact(self) -> bool:
        if self.contacted_again:
            return False
        if self.outcome == CONTAINED:
            return True
        return self.outcome == HANDED_OFF and self.ticket_resolved


def _cells(session: Session, filters: Filters, now: dt.datetime) -> list[_Cell]:
    """One scan of the range, grouped: the days, the totals and the channels."""
    result = outcome(now).label("outcome")
    channel = func.coalesce(C.channel, "unknown").label("channel")
    resolved = case(
        (Ticket.status.in_([TicketStatus.RESOLVED, TicketStatus.CLOSED]), True),
        else_=False,
    ).label("ticket_resolved")
    rows = session.execute(
        select(
            C.day,
            channel,
            result,
            C.contacted_again,
            resolved,
            func.count(),
            func.sum(C.messages),
            func.sum(C.fallbacks),
            func.sum(C.verifications),
            func.sum(C.verification_failures),
            _count(C.repeat_contact.is_(True)),
        )
        .select_from(C)
        .outerjoin(Ticket, Ticket.reference == C.ticket_reference)
        .where(*filters.where())
        .group_by(C.day, channel, result, C.contacted_again, resolved)
    ).all()
    return [
        _Cell(row[0], str(row[1]), str(row[2]), bool(row[3]), bool(row[4]),
              *(int(value or 0) for value in row[5:]))
        for row in rows
    ]  # fmt: skip


def _days(cells: list[_Cell]) -> list[DayRow]:
    found: dict[tuple[dt.date, str], dict[str, int]] = {}
    for cell in cells:
        counts = found.setdefault((cell.day, cell.channel), {})
        counts[cell.outcome] = counts.get(cell.outcome, 0) + cell.conversations
    return [
        DayRow(day, channel, found[(day, channel)]) for day, channel in sorted(found)
    ]


def _totals(cells: list[_Cell]) -> Totals:
    outcomes = dict.fromkeys(OUTCOMES, 0)
    for cell in cells:
        outcomes[cell.outcome] = outcomes.get(cell.outcome, 0) + cell.conversations
    return Totals(
        conversations=sum(c.conversations for c in cells),
        outcomes=outcomes,
        messages=sum(c.messages for c in cells),
        fallbacks=sum(c.fallbacks for c in cells),
        verifications=sum(c.verifications for c in cells),
        verification_failures=sum(c.verification_failures for c in cells),
        repeat_contacts=sum(c.repeat_contacts for c in cells),
        resolved_first_contact=sum(
            c.conversations for c in cells if c.resolved_first_contact
        ),
    )


def _channels(cells: list[_Cell]) -> list[ChannelRow]:
    sums: dict[str, tuple[int, int]] = {}
    for cell in cells:
        messages, fallbacks = sums.get(cell.channel, (0, 0))
        sums[cell.channel] = (messages + cell.messages, fallbacks + cell.fallbacks)
    return [ChannelRow(channel, *sums[channel]) for channel in sorted(sums)]


def totals(session: Session, filters: Filters, now: dt.datetime) -> Totals:
    """The range's counts and rates."""
    return _totals(_cells(session, filters, now))


def _turns(session: Session, filters: Filters) -> tuple[list[IntentRow], Csat]:
    """One pass over the range's messages: the top requests, and CSAT."""
    T = InsightTurn
    rows = session.execute(
        select(
            T.intent,
            func.count(),
            _count(T.resolved.is_(True)),
            func.count(T.rating),
            _count(T.rating >= SATISFIED),
            func.sum(T.rating),
        )
        .join(C, C.id == T.conversation_row_id)
        .where(*filters.where(), T.intent.isnot(None), T.intent.notin_(NOT_A_REQUEST))
        .group_by(T.intent)
    ).all()
    intents = sorted(
        (IntentRow(str(row[0]), int(row[1]), int(row[2])) for row in rows),
        key=lambda row: (-row.messages, row.intent),
    )
    feedback = next((row for row in rows if row[0] == FEEDBACK_INTENT), None)
    if feedback is None:
        return intents[:TOP_INTENTS], Csat(0, 0, None, 0)
    ratings = int(feedback[3])
    csat = Csat(
        ratings=ratings,
        satisfied=int(feedback[4]),
        average=int(feedback[5]) / ratings if ratings else None,
        unrated_feedback=int(feedback[1]) - ratings,
    )
    return intents[:TOP_INTENTS], csat


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


def _segments_and_reasons(
    session: Session, filters: Filters
) -> tuple[list[SegmentRow], dict[str, int]]:
    """One pass: conversations and handoffs by segment, and handoffs by reason."""
    segment = func.coalesce(C.segment, "unknown").label("segment")
    reason = func.coalesce(C.handoff_reason, "other").label("reason")
    rows = session.execute(
        select(segment, C.handed_off, reason, func.count())
        .where(*filters.where())
        .group_by(segment, C.handed_off, reason)
    ).all()
    segments: dict[str, list[int]] = {}
    reasons: dict[str, int] = {}
    for name, handed_off, why, count in rows:
        totals = segments.setdefault(str(name), [0, 0])
        totals[0] += int(count)
        if handed_off:
            totals[1] += int(count)
            reasons[str(why)] = reasons.get(str(why), 0) + int(count)
    ordered = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    return (
        [SegmentRow(name, *segments[name]) for name in sorted(segments)],
        dict(ordered),
    )


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
    return [QuestionRow(str(q), int(n), last) for q, n, last in rows]


def report(session: Session, filters: Filters, now: dt.datetime) -> Report:
    """Every figure of the Insights page, as of `now`."""
    cells = _cells(session, filters, now)
    intents, csat = _turns(session, filters)
    segments, reasons = _segments_and_reasons(session, filters)
    return Report(
        filters=filters,
        generated_at=now,
        totals=_totals(cells),
        days=_days(cells),
        intents=intents,
        funnels=_funnels(session, filters),
        handoff_reasons=reasons,
        channels=_channels(cells),
        unanswered=unanswered_questions(session, filters),
        csat=csat,
        segments=segments,
    )
