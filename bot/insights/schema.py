"""The analytics tables the insights consumer writes, readable by BI tools.

One row per conversation (a Rasa session) in `insights_conversations`, one per
customer message in `insights_turns`, one per form run in `insights_flows`; what
was consumed already in `insights_event_keys` (an event delivered twice counts
once) and `insights_positions` (where each source resumes). The README documents
them. They share the customer database's metadata, so Alembic and the tests see
them with the rest of the schema.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped

from bot.models import Base, UTCDateTime, utcnow


class InsightConversation(Base):
    """One conversation: a Rasa session of one sender, from start to its last event.

    Counters grow as events arrive; `outcome` is written once the conversation can
    no longer change it (bot/services/insights.py `settle_outcomes`); until then the
    figures compute it from the other columns.
    """

    __tablename__ = "insights_conversations"

    id: Mapped[int] = Column(Integer, primary_key=True)
    conversation_id: Mapped[str] = Column(String(255), nullable=False, index=True)
    started_at: Mapped[dt.datetime] = Column(UTCDateTime(), nullable=False)
    # The shop's local date of started_at (SWITCHBOARD_TIMEZONE): days group by it.
    day: Mapped[dt.date] = Column(Date, nullable=False, index=True)
    last_event_at: Mapped[dt.datetime] = Column(UTCDateTime(), nullable=False)
    # A later session of the same sender started (or the conversation restarted).
    closed: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    channel: Mapped[str | None] = Column(String(32), nullable=True)
    customer_id: Mapped[int | None] = Column(
        ForeignKey("customers.id"), nullable=True, index=True
    )
    segment: Mapped[str | None] = Column(String(32), nullable=True)
    # Who came back: "customer:12", else "phone:+1...", else "sender:<id>".
    contact_key: Mapped[str] = Column(String(300), nullable=False)
    messages: Mapped[int] = Column(Integer, default=0, nullable=False)
    # Every intent the NLU gave a customer message, distinct, in order, space-separated.
    intents: Mapped[str] = Column(Text, default="", nullable=False)
    # The first request (not chat, yes/no or a bare answer): what they came for.
    first_intent: Mapped[str | None] = Column(String(64), nullable=True)
    last_intent: Mapped[str | None] = Column(String(64), nullable=True)
    last_action: Mapped[str | None] = Column(String(64), nullable=True)
    flows_started: Mapped[int] = Column(Integer, default=0, nullable=False)
    flows_completed: Mapped[int] = Column(Integer, default=0, nullable=False)
    # The form waiting for the customer's answer, if any.
    active_flow: Mapped[str | None] = Column(String(64), nullable=True)
    verified: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    verifications: Mapped[int] = Column(Integer, default=0, nullable=False)
    verification_failures: Mapped[int] = Column(Integer, default=0, nullable=False)
    verification_locked: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    fallbacks: Mapped[int] = Column(Integer, default=0, nullable=False)
    # Requests the assistant answered or completed (an article, an order's status,
    # a ticket filed, a registration link sent...).
    answers: Mapped[int] = Column(Integer, default=0, nullable=False)
    kb_answered: Mapped[int] = Column(Integer, default=0, nullable=False)
    kb_unanswered: Mapped[int] = Column(Integer, default=0, nullable=False)
    handed_off: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    handed_off_at: Mapped[dt.datetime | None] = Column(UTCDateTime(), nullable=True)
    handoff_reason: Mapped[str | None] = Column(String(32), nullable=True)
    # The handoff ticket, else the last ticket the assistant opened.
    ticket_reference: Mapped[str | None] = Column(String(16), nullable=True)
    # When the same contact was handed to a person within 24 h after this one ended.
    person_later_at: Mapped[dt.datetime | None] = Column(UTCDateTime(), nullable=True)
    # The same contact had another conversation in the 7 days before this one.
    repeat_contact: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    # ... or in the 7 days after it (so this one did not settle the matter).
    contacted_again: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    outcome: Mapped[str | None] = Column(String(16), nullable=True)
    updated_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )

    __table_args__ = (
        Index("ix_insights_conversations_contact_started", "contact_key", "started_at"),
        Index("ix_insights_conversations_day_channel", "day", "channel"),
    )


class InsightTurn(Base):
    """One customer message and what became of it."""

    __tablename__ = "insights_turns"

    id: Mapped[int] = Column(Integer, primary_key=True)
    conversation_row_id: Mapped[int] = Column(
        ForeignKey("insights_conversations.id"), nullable=False, index=True
    )
    number: Mapped[int] = Column(Integer, nullable=False)
    at: Mapped[dt.datetime] = Column(UTCDateTime(), nullable=False)
    intent: Mapped[str | None] = Column(String(64), nullable=True)
    confidence: Mapped[float | None] = Column(Float, nullable=True)
    # The assistant asked the customer to say it another way.
    fallback: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    # The request of this message was answered or completed (for a form, later).
    resolved: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    # The help centre was asked: True when it found an article (its title in
    # kb_article), False when it did not; None when it was not asked.
    kb_found: Mapped[bool | None] = Column(Boolean, nullable=True, index=True)
    kb_article: Mapped[str | None] = Column(String(200), nullable=True)
    # The customer's words, kept only when the help centre found no article: the
    # list content writers work from.
    kb_question: Mapped[str | None] = Column(Text, nullable=True)
    # A rating found in feedback ("4/5", "5 stars"), on a 1-5 scale.
    rating: Mapped[int | None] = Column(Integer, nullable=True)


class InsightFlow(Base):
    """One run of a form: started, verified, completed, stopped or handed off."""

    __tablename__ = "insights_flows"

    id: Mapped[int] = Column(Integer, primary_key=True)
    conversation_row_id: Mapped[int] = Column(
        ForeignKey("insights_conversations.id"), nullable=False, index=True
    )
    turn_id: Mapped[int | None] = Column(
        ForeignKey("insights_turns.id"), nullable=True, index=True
    )
    flow: Mapped[str] = Column(String(64), nullable=False)
    # The intent that started it (order_form serves several requests).
    request: Mapped[str | None] = Column(String(64), nullable=True)
    started_at: Mapped[dt.datetime] = Column(UTCDateTime(), nullable=False)
    ended_at: Mapped[dt.datetime | None] = Column(UTCDateTime(), nullable=True)
    # The customer message during which it ended.
    ended_turn: Mapped[int | None] = Column(Integer, nullable=True)
    verified: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    completed: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    stopped: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    handed_off: Mapped[bool] = Column(Boolean, default=False, nullable=False)


class InsightEventKey(Base):
    """An event already counted, by the sha256 of its canonical JSON."""

    __tablename__ = "insights_event_keys"

    key: Mapped[str] = Column(String(64), primary_key=True)
    received_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False, index=True
    )


class InsightPosition(Base):
    """Where a source of events resumes (the SQL broker: the last `events.id` read)."""

    __tablename__ = "insights_positions"

    source: Mapped[str] = Column(String(64), primary_key=True)
    position: Mapped[int] = Column(
        BigInteger, default=0, server_default="0", nullable=False
    )
    updated_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )
