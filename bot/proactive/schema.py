"""Tables of the proactive service: consent, the shop's events, outbound notifications.

`contact_consents` says who agreed to hear from us on which channel (and where that
agreement came from); `shop_events` is every order or ticket event received once
(its `event_key` is the idempotency key: an event delivered twice is stored once);
`notifications` is each message we mean to send about an event, stored before it
is sent, with what became of it. They share the customer database's metadata, so
Alembic and the tests see them with the rest of the schema; the README documents
them.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, relationship

from bot.models import Base, Customer, Order, Ticket, UTCDateTime, enum_column, utcnow


class ConsentChannel(str, enum.Enum):
    SMS = "sms"
    WEB = "web"


class ConsentSource(str, enum.Enum):
    """Where a customer said yes (or no) to proactive messages."""

    REGISTRATION = "registration"
    WEB_CHAT = "web_chat"
    SMS_KEYWORD = "sms_keyword"
    CLI = "cli"
    IMPORT = "import"


class EventKind(str, enum.Enum):
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    CANCELLED = "cancelled"
    REFUND_ISSUED = "refund_issued"
    TICKET_UPDATED = "ticket_updated"
    TICKET_RESOLVED = "ticket_resolved"


class EventSource(str, enum.Enum):
    WEBHOOK = "webhook"
    CLI = "cli"
    IMPORT = "import"
    CONSOLE = "console"
    WORKER = "worker"


class NotificationStatus(str, enum.Enum):
    QUEUED = "queued"  # stored, waiting for its time (quiet hours) or a retry
    SENT = "sent"  # handed to Twilio, or stored in the customer's web chat
    FAILED = "failed"  # could not be sent (retries used up, or permanent error)
    SUPPRESSED = "suppressed"  # deliberately not sent: `reason` says why


class ContactConsent(Base):
    """A customer's yes or no to proactive messages on one channel (latest word)."""

    __tablename__ = "contact_consents"
    __table_args__ = (UniqueConstraint("customer_id", "channel"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    customer_id: Mapped[int] = Column(
        Integer, ForeignKey("customers.id"), index=True, nullable=False
    )
    channel: Mapped[ConsentChannel] = Column(
        enum_column(ConsentChannel, "consent_channel"), nullable=False
    )
    granted: Mapped[bool] = Column(Boolean, nullable=False)
    source: Mapped[ConsentSource] = Column(
        enum_column(ConsentSource, "consent_source"), nullable=False
    )
    recorded_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )


class ShopEvent(Base):
    """Something that happened to an order or a ticket, received once."""

    __tablename__ = "shop_events"

    id: Mapped[int] = Column(Integer, primary_key=True)
    # The sender's id for the event (webhook), or one we make (CLI, worker): unique.
    event_key: Mapped[str] = Column(String(128), unique=True, nullable=False)
    kind: Mapped[EventKind] = Column(
        enum_column(EventKind, "event_kind"), nullable=False
    )
    source: Mapped[EventSource] = Column(
        enum_column(EventSource, "event_source"), nullable=False
    )
    customer_id: Mapped[int] = Column(
        Integer, ForeignKey("customers.id"), index=True, nullable=False
    )
    order_id: Mapped[int | None] = Column(
        ForeignKey("orders.id"), nullable=True, index=True
    )
    ticket_id: Mapped[int | None] = Column(
        ForeignKey("tickets.id"), nullable=True, index=True
    )
    # The event's details as JSON: carrier, tracking_number, new_date, status.
    data: Mapped[str] = Column(Text, default="{}", nullable=False)
    received_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )

    customer: Mapped[Customer] = relationship("Customer")
    order: Mapped[Order | None] = relationship("Order")
    ticket: Mapped[Ticket | None] = relationship("Ticket")


class Notification(Base):
    """One message to one customer on one channel about one event."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("event_id", "channel"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    event_id: Mapped[int] = Column(
        Integer, ForeignKey("shop_events.id"), index=True, nullable=False
    )
    customer_id: Mapped[int] = Column(
        Integer, ForeignKey("customers.id"), index=True, nullable=False
    )
    order_id: Mapped[int | None] = Column(
        ForeignKey("orders.id"), nullable=True, index=True
    )
    ticket_id: Mapped[int | None] = Column(
        ForeignKey("tickets.id"), nullable=True, index=True
    )
    channel: Mapped[ConsentChannel] = Column(
        enum_column(ConsentChannel, "notification_channel"), nullable=False
    )
    # The phone texted (E.164), or the web conversation it was stored in.
    address: Mapped[str | None] = Column(String(255), nullable=True, index=True)
    text: Mapped[str] = Column(Text, nullable=False)
    status: Mapped[NotificationStatus] = Column(
        enum_column(NotificationStatus, "notification_status"), nullable=False
    )
    reason: Mapped[str | None] = Column(Text, nullable=True)
    attempts: Mapped[int] = Column(Integer, default=0, nullable=False)
    # Not before this (quiet hours), and the next try after a failure.
    next_attempt_at: Mapped[dt.datetime | None] = Column(
        UTCDateTime(), nullable=True, index=True
    )
    created_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )
    sent_at: Mapped[dt.datetime | None] = Column(UTCDateTime(), nullable=True)

    event: Mapped[ShopEvent] = relationship("ShopEvent")
    customer: Mapped[Customer] = relationship("Customer")
    order: Mapped[Order | None] = relationship("Order")
    ticket: Mapped[Ticket | None] = relationship("Ticket")


class WebChatSession(Base):
    """A signed-in customer's web chat conversation (where web updates go)."""

    __tablename__ = "web_chat_sessions"

    conversation_id: Mapped[str] = Column(String(255), primary_key=True)
    customer_id: Mapped[int] = Column(
        Integer, ForeignKey("customers.id"), index=True, nullable=False
    )
    started_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )
