"""Customer database schema: customers, orders, tickets, the agents' queue.

Customers, orders, order items, tickets and transcripts, and the agents' workflow
queue (agents, ticket audit trail).

These tables are read directly by BI and CRM tools; the README documents them.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeMeta, Mapped, registry, relationship

from bot import clock

# Stable constraint names so Alembic migrations behave the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

mapper_registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))

# Ids are 32-bit integers on both databases: a larger number names no row, and
# SQLite cannot even bind one above 2**63 (OverflowError).
MAX_ID = 2**31 - 1


class Base(metaclass=DeclarativeMeta):
    """Declarative base (written out as a class so type checkers understand it)."""

    __abstract__ = True
    registry = mapper_registry
    metadata = mapper_registry.metadata
    __init__ = mapper_registry.constructor


def utcnow() -> dt.datetime:
    """Timezone-aware current UTC time, by the clock in use (`bot.clock`)."""
    return clock.now()


class UTCDateTime(TypeDecorator):  # type: ignore[type-arg]
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no time zones and would hand back naive datetimes; PostgreSQL would
    not. This makes both behave the same.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> Any:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value


class Segment(str, enum.Enum):
    STANDARD = "standard"
    VIP = "vip"


class OrderStatus(str, enum.Enum):
    PLACED = "placed"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class Channel(str, enum.Enum):
    WEB = "web"
    SMS = "sms"
    VOICE = "voice"


class TicketCategory(str, enum.Enum):
    PROBLEM = "problem"
    CANCELLATION = "cancellation"
    ORDER_CHANGE = "order_change"
    REFUND = "refund"
    ACCOUNT = "account"
    HANDOFF = "handoff"
    FEEDBACK = "feedback"


class TicketStatus(str, enum.Enum):
    NEW = "new"
    CLAIMED = "claimed"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketPriority(str, enum.Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# Lowest first: the queue ranks tickets by this order, and priority factors raise a
# ticket along it (bot/services/priority.py).
PRIORITY_LEVELS: tuple[TicketPriority, ...] = (
    TicketPriority.LOW,
    TicketPriority.NORMAL,
    TicketPriority.HIGH,
    TicketPriority.URGENT,
)


class AgentRole(str, enum.Enum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"


class TicketEventKind(str, enum.Enum):
    CREATED = "created"
    STATUS_CHANGED = "status_changed"
    CLAIMED = "claimed"
    REASSIGNED = "reassigned"
    NOTE = "note"
    PRIORITY_CHANGED = "priority_changed"
    FIRST_RESPONSE = "first_response"


class Sender(str, enum.Enum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


def enum_column(cls: type[enum.Enum], name: str) -> Enum:
    # VARCHAR + CHECK rather than a native enum type: portable and readable by BI tools.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = Column(Integer, primary_key=True)
    name: Mapped[str] = Column(String(200), nullable=False)
    email: Mapped[str] = Column(String(320), unique=True, nullable=False)
    phone: Mapped[str | None] = Column(String(20), unique=True, nullable=True)
    segment: Mapped[Segment] = Column(
        enum_column(Segment, "segment"), default=Segment.STANDARD, nullable=False
    )
    created_at: Mapped[dt.datetime] = Column(
        UTCDateTime(),
        default=utcnow,
        server_default=func.now(),
        nullable=False,
    )
    # Bumped when the customer signs out: a session cookie from before no longer
    # signs anyone in (bot/web/session_version.py).
    session_version: Mapped[int] = Column(
        Integer, default=0, server_default="0", nullable=False
    )
    # A demo account (`python -m bot seed`): the demo shop signs it in with the
    # password "demo". Customers loaded any other way never are.
    demo: Mapped[bool] = Column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    # IANA zone for quiet hours of proactive texts; null: the shop's.
    timezone: Mapped[str | None] = Column(String(64), nullable=True)

    orders: Mapped[list[Order]] = relationship("Order", back_populates="customer")

    def __repr__(self) -> str:
        return f"Customer(id={self.id!r}, email={self.email!r})"


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = Column(Integer, primary_key=True)
    number: Mapped[str] = Column(String(32), unique=True, nullable=False)
    customer_id: Mapped[int] = Column(
        Integer, ForeignKey("customers.id"), index=True, nullable=False
    )
    status: Mapped[OrderStatus] = Column(
        enum_column(OrderStatus, "order_status"),
        default=OrderStatus.PLACED,
        nullable=False,
    )
    carrier: Mapped[str | None] = Column(String(64), nullable=True)
    tracking_number: Mapped[str | None] = Column(String(64), nullable=True)
    estimated_delivery: Mapped[dt.date | None] = Column(Date, nullable=True)
    placed_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )
    updated_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )

    customer: Mapped[Customer] = relationship("Customer", back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        "OrderItem",
        back_populates="order",
        cascade="all, delete-orphan",
        order_by="OrderItem.id",
    )

    def __repr__(self) -> str:
        return f"Order(number={self.number!r}, status={self.status!r})"


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = Column(Integer, primary_key=True)
    order_id: Mapped[int] = Column(
        Integer, ForeignKey("orders.id"), index=True, nullable=False
    )
    sku: Mapped[str] = Column(String(64), nullable=False)
    description: Mapped[str] = Column(String(200), nullable=False)
    quantity: Mapped[int] = Column(Integer, default=1, nullable=False)
    unit_price_cents: Mapped[int] = Column(Integer, nullable=False)

    order: Mapped[Order] = relationship("Order", back_populates="items")


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = Column(Integer, primary_key=True)
    reference: Mapped[str] = Column(String(16), unique=True, nullable=False)
    customer_id: Mapped[int | None] = Column(
        ForeignKey("customers.id"), nullable=True, index=True
    )
    order_id: Mapped[int | None] = Column(
        ForeignKey("orders.id"), nullable=True, index=True
    )
    conversation_id: Mapped[str | None] = Column(Text, nullable=True, index=True)
    channel: Mapped[Channel] = Column(enum_column(Channel, "channel"), nullable=False)
    category: Mapped[TicketCategory] = Column(
        enum_column(TicketCategory, "ticket_category"), nullable=False
    )
    subject: Mapped[str] = Column(String(200), nullable=False)
    description: Mapped[str] = Column(Text, default="", nullable=False)
    contact: Mapped[str | None] = Column(String(320), nullable=True)
    status: Mapped[TicketStatus] = Column(
        enum_column(TicketStatus, "ticket_status"),
        default=TicketStatus.NEW,
        nullable=False,
    )
    priority: Mapped[TicketPriority] = Column(
        enum_column(TicketPriority, "ticket_priority"),
        default=TicketPriority.NORMAL,
        nullable=False,
    )
    handed_off: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    created_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )
    updated_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )
    # The workflow queue (bot/services/queue.py).
    assigned_agent_id: Mapped[int | None] = Column(
        ForeignKey("agents.id"), nullable=True, index=True
    )
    first_response_due_at: Mapped[dt.datetime | None] = Column(
        UTCDateTime(), nullable=True, index=True
    )
    first_responded_at: Mapped[dt.datetime | None] = Column(
        UTCDateTime(), nullable=True
    )
    # Why the ticket has its priority, in plain words ("VIP customer; problem report").
    priority_reason: Mapped[str | None] = Column(Text, nullable=True)
    # Handoff context (bot/services/handoff.py): what the assistant understood, as
    # JSON, and a one-paragraph summary for the agent.
    context: Mapped[str | None] = Column(Text, nullable=True)
    summary: Mapped[str | None] = Column(Text, nullable=True)

    customer: Mapped[Customer | None] = relationship("Customer")
    order: Mapped[Order | None] = relationship("Order")
    assigned_agent: Mapped[Agent | None] = relationship("Agent")
    events: Mapped[list[TicketEvent]] = relationship(
        "TicketEvent",
        back_populates="ticket",
        cascade="all, delete-orphan",
        order_by="TicketEvent.id",
    )
    messages: Mapped[list[TicketMessage]] = relationship(
        "TicketMessage",
        back_populates="ticket",
        cascade="all, delete-orphan",
        order_by="TicketMessage.id",
    )

    def __repr__(self) -> str:
        return f"Ticket(reference={self.reference!r}, status={self.status!r})"


class Delivery(str, enum.Enum):
    """Where a message to the customer (agent reply, notice) stands."""

    PENDING = "pending"  # not out yet: retried until it is
    DELIVERED = "delivered"  # handed to the customer's channel
    FAILED = "failed"  # cannot be delivered (opted out, no way to reach them)


class TicketMessage(Base):
    """One line of a ticket's conversation transcript.

    Lines the team sends to the customer (agent replies, resolve notices) carry a
    delivery state: they are stored first and delivered after, so a channel that is
    down delays them but never loses them.
    """

    __tablename__ = "ticket_messages"

    id: Mapped[int] = Column(Integer, primary_key=True)
    ticket_id: Mapped[int] = Column(
        Integer, ForeignKey("tickets.id"), index=True, nullable=False
    )
    sender: Mapped[Sender] = Column(enum_column(Sender, "sender"), nullable=False)
    text: Mapped[str] = Column(Text, nullable=False)
    sent_at: Mapped[dt.datetime] = Column(UTCDateTime(), default=utcnow, nullable=False)
    agent_id: Mapped[int | None] = Column(
        ForeignKey("agents.id"), nullable=True, index=True
    )
    # None for lines that are not sent anywhere (what the customer or bot said).
    delivery: Mapped[Delivery | None] = Column(
        enum_column(Delivery, "delivery"), nullable=True
    )
    attempts: Mapped[int] = Column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[dt.datetime | None] = Column(
        UTCDateTime(), nullable=True, index=True
    )
    delivered_at: Mapped[dt.datetime | None] = Column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = Column(Text, nullable=True)

    ticket: Mapped[Ticket] = relationship("Ticket", back_populates="messages")
    agent: Mapped[Agent | None] = relationship("Agent")


class ConversationHold(Base):
    """A conversation a person has taken over: the bot stays silent in it.

    While a row exists, the customer's messages in `conversation_id` go to the
    ticket's transcript (and the console) instead of the assistant. Resolving the
    ticket or returning it to the bot deletes the row.
    """

    __tablename__ = "conversation_holds"

    conversation_id: Mapped[str] = Column(String(255), primary_key=True)
    ticket_id: Mapped[int] = Column(
        Integer, ForeignKey("tickets.id"), index=True, nullable=False
    )
    held_at: Mapped[dt.datetime] = Column(UTCDateTime(), default=utcnow, nullable=False)

    ticket: Mapped[Ticket] = relationship("Ticket")


class VerificationAttempt(Base):
    """One try at proving who you are (order number or ticket reference + identifier).

    Kept in the database, not in the conversation, so that starting a new
    conversation does not reset the count.
    """

    __tablename__ = "verification_attempts"

    id: Mapped[int] = Column(Integer, primary_key=True)
    subject: Mapped[str] = Column(String(16), nullable=False)
    key: Mapped[str] = Column(String(32), nullable=False, index=True)
    identifier: Mapped[str] = Column(String(320), nullable=False, index=True)
    conversation_id: Mapped[str] = Column(Text, nullable=False, index=True)
    succeeded: Mapped[bool] = Column(Boolean, nullable=False)
    attempted_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False, index=True
    )
    # Who asked: "phone:+1...", "customer:12" (vouched by the channel) or
    # "conversation:<id>"; limits per key and per identifier count distinct requesters.
    requester: Mapped[str | None] = Column(String(320), nullable=True, index=True)
    # Refused unchecked (a limit was reached): counts for the requester, not the key.
    throttled: Mapped[bool] = Column(
        Boolean, default=False, server_default=false(), nullable=False
    )


class ConversationVerification(Base):
    """What a conversation proved, recorded by the action that checked it.

    Actions disclose an order or ticket, or link a customer, only when a row here
    says this conversation verified it and it has not expired: the slots Rasa sends
    along could have been written by anyone who reached the action server.
    """

    __tablename__ = "conversation_verifications"

    id: Mapped[int] = Column(Integer, primary_key=True)
    conversation_id: Mapped[str] = Column(String(255), nullable=False, index=True)
    subject: Mapped[str] = Column(String(16), nullable=False)
    key: Mapped[str] = Column(String(32), nullable=False)
    identifier: Mapped[str] = Column(String(320), nullable=False)
    verified_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )
    expires_at: Mapped[dt.datetime] = Column(UTCDateTime(), nullable=False, index=True)


class SmsOptOut(Base):
    """A phone number that texted STOP: Switchboard sends it nothing until START."""

    __tablename__ = "sms_opt_outs"

    phone: Mapped[str] = Column(String(20), primary_key=True)
    opted_out_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )


class ProcessedWebhook(Base):
    """Twilio message and call-step ids already handled (Twilio may retry)."""

    __tablename__ = "processed_webhooks"

    id: Mapped[str] = Column(String(64), primary_key=True)
    received_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False, index=True
    )


class ChannelChoice(Base):
    """The numbered choices last offered to a text or voice customer.

    "Reply 1 for ..." on SMS and "press 1 for ..." on the phone map back to the
    button payloads through this table.
    """

    __tablename__ = "channel_choices"

    conversation_id: Mapped[str] = Column(String(255), primary_key=True)
    payloads: Mapped[str] = Column(Text, nullable=False)  # JSON list
    offered_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


class ChatMessage(Base):
    """A message in a web chat conversation, as the widget shows it.

    The widget's history after a reload and the messages pushed to it later (agent
    replies) both come from this table.
    """

    __tablename__ = "chat_messages"

    id: Mapped[int] = Column(Integer, primary_key=True)
    conversation_id: Mapped[str] = Column(String(255), nullable=False, index=True)
    sender: Mapped[Sender] = Column(enum_column(Sender, "chat_sender"), nullable=False)
    text: Mapped[str] = Column(Text, nullable=False, default="")
    # Buttons, links or other structured content, as JSON (null when plain text).
    payload: Mapped[str | None] = Column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )


class Agent(Base):
    """A member of the support team who works the ticket queue."""

    __tablename__ = "agents"

    id: Mapped[int] = Column(Integer, primary_key=True)
    name: Mapped[str] = Column(String(200), nullable=False)
    email: Mapped[str] = Column(String(320), unique=True, nullable=False)
    # Werkzeug's "method$salt$hash" format (scrypt); never the password itself.
    password_hash: Mapped[str] = Column(String(255), nullable=False)
    role: Mapped[AgentRole] = Column(
        enum_column(AgentRole, "agent_role"), default=AgentRole.AGENT, nullable=False
    )
    active: Mapped[bool] = Column(Boolean, default=True, nullable=False)
    created_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )
    # Bumped when the agent signs out: a session cookie from before no longer
    # signs anyone in (bot/web/session_version.py).
    session_version: Mapped[int] = Column(
        Integer, default=0, server_default="0", nullable=False
    )

    def __repr__(self) -> str:
        return f"Agent(id={self.id!r}, email={self.email!r}, role={self.role!r})"


class TicketEvent(Base):
    """One entry of a ticket's audit trail: who did what, when, from which status."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = Column(Integer, primary_key=True)
    ticket_id: Mapped[int] = Column(
        Integer, ForeignKey("tickets.id"), index=True, nullable=False
    )
    # None when the bot or the system did it.
    actor_agent_id: Mapped[int | None] = Column(
        ForeignKey("agents.id"), nullable=True, index=True
    )
    kind: Mapped[TicketEventKind] = Column(
        enum_column(TicketEventKind, "ticket_event_kind"), nullable=False
    )
    from_status: Mapped[TicketStatus | None] = Column(
        enum_column(TicketStatus, "ticket_event_from_status"), nullable=True
    )
    to_status: Mapped[TicketStatus | None] = Column(
        enum_column(TicketStatus, "ticket_event_to_status"), nullable=True
    )
    detail: Mapped[str] = Column(Text, default="", nullable=False)
    created_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )

    ticket: Mapped[Ticket] = relationship("Ticket", back_populates="events")
    actor: Mapped[Agent | None] = relationship("Agent")


class Registration(Base):
    """A registration asked for in the chat, waiting for its email to be confirmed.

    No customer exists until the link mailed to `email` is opened, so nothing a
    registrant typed is used for verification, tickets or SMS identity before then.
    `phone` is what they typed: unproven, it is never copied to the customer unless
    the channel vouched for it (they registered by text from that number).
    """

    __tablename__ = "registrations"

    id: Mapped[int] = Column(Integer, primary_key=True)
    name: Mapped[str] = Column(String(200), nullable=False)
    email: Mapped[str] = Column(String(320), nullable=False, index=True)
    phone: Mapped[str | None] = Column(String(20), nullable=True, index=True)
    phone_vouched: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    conversation_id: Mapped[str] = Column(String(255), nullable=False, index=True)
    # The email already had an account: its owner was told, no link was sent.
    existing_account: Mapped[bool] = Column(Boolean, default=False, nullable=False)
    # Random, in the signed link: a link from a wiped database cannot confirm a new row.
    nonce: Mapped[str] = Column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False, index=True
    )
    confirmed_at: Mapped[dt.datetime | None] = Column(UTCDateTime(), nullable=True)
    customer_id: Mapped[int | None] = Column(
        ForeignKey("customers.id"), nullable=True, index=True
    )


class OutboxMail(Base):
    """An email waiting for the mail relay (`bot/mailer.py`); sent_at once handed on."""

    __tablename__ = "outbox"

    id: Mapped[int] = Column(Integer, primary_key=True)
    to_address: Mapped[str] = Column(String(320), nullable=False, index=True)
    subject: Mapped[str] = Column(String(200), nullable=False)
    body: Mapped[str] = Column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = Column(
        UTCDateTime(), default=utcnow, nullable=False
    )
    sent_at: Mapped[dt.datetime | None] = Column(UTCDateTime(), nullable=True)
