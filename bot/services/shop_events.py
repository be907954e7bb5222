"""Events about orders and tickets, from every source, received once.

The shop's signed webhook (bot/web/shop_events.py), `python -m bot order --status`
and CSV imports, the console (a ticket's status), and the worker's check for late
orders all end here: `receive` stores the event under its key (a key seen before is
a duplicate: nothing more happens), applies it to the order, and plans its
messages (bot/services/notifications.py). Everything runs in the caller's
transaction, so a refused event leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import (
    Channel,
    Order,
    OrderStatus,
    Segment,
    Ticket,
    TicketCategory,
    TicketStatus,
    utcnow,
)
from bot.proactive.schema import EventKind, EventSource, Notification, ShopEvent
from bot.services import notifications
from bot.services.notifications import Rules
from bot.services.tickets import TicketRequest, open_ticket

ORDER_EVENTS = (
    EventKind.SHIPPED,
    EventKind.OUT_FOR_DELIVERY,
    EventKind.DELIVERED,
    EventKind.DELAYED,
    EventKind.CANCELLED,
    EventKind.REFUND_ISSUED,
)
# The order status an event moves the order to.
NEW_STATUS = {
    EventKind.SHIPPED: OrderStatus.SHIPPED,
    EventKind.OUT_FOR_DELIVERY: OrderStatus.OUT_FOR_DELIVERY,
    EventKind.DELIVERED: OrderStatus.DELIVERED,
    EventKind.CANCELLED: OrderStatus.CANCELLED,
}
STATUS_EVENTS = {status: kind for kind, status in NEW_STATUS.items()}
# Orders that can still be late.
UNDELIVERED = (
    OrderStatus.PLACED,
    OrderStatus.PROCESSING,
    OrderStatus.SHIPPED,
    OrderStatus.OUT_FOR_DELIVERY,
)
MAX_KEY = 128
MAX_TEXT_FIELD = 64
MAX_AMOUNT_CENTS = 10**9


class BadEvent(ValueError):
    """An event we cannot take: `code` for the caller, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class UnknownOrder(BadEvent):
    def __init__(self, number: str) -> None:
        super().__init__("unknown_order", f"no order with the number {number!r}")


@dataclass(frozen=True)
class OrderEvent:
    """An order event as the shop describes it (checked by `parse`)."""

    key: str
    kind: EventKind
    order_number: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    event: ShopEvent
    duplicate: bool
    notifications: tuple[Notification, ...] = ()


def _text(data: dict[str, Any], name: str, limit: int = MAX_TEXT_FIELD) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadEvent(
            "invalid_field", f"'{name}' must be text of 1 to {limit} characters"
        )
    if not value.isprintable():
        raise BadEvent("invalid_field", f"'{name}' must be printable text")
    return value.strip()


def _details(kind: EventKind, data: Any) -> dict[str, Any]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadEvent("invalid_field", "'data' must be an object")
    if kind == EventKind.SHIPPED:
        return {
            "carrier": _text(data, "carrier"),
            "tracking_number": _text(data, "tracking_number"),
        }
    if kind == EventKind.DELAYED:
        raw = _text(data, "new_date", 10)
        try:
            return {"new_date": dt.date.fromisoformat(raw).isoformat()}
        except ValueError as exc:
            raise BadEvent("invalid_field", "'new_date' must be YYYY-MM-DD") from exc
    if kind == EventKind.REFUND_ISSUED and "amount_cents" in data:
        cents = data["amount_cents"]
        if type(cents) is not int or not 0 <= cents <= MAX_AMOUNT_CENTS:
            raise BadEvent("invalid_field", "'amount_cents' must be a whole number")
        return {"amount_cents": cents}
    return {}


def parse(payload: Any) -> OrderEvent:
    """The webhook's JSON as an order event (BadEvent says what is wrong)."""
    if not isinstance(payload, dict):
        raise BadEvent("malformed", 'send a JSON object like {"id": ..., "type": ...}')
    key = _text(payload, "id", MAX_KEY)
    raw_kind = payload.get("type")
    try:
        kind = EventKind(raw_kind)
    except (ValueError, TypeError) as exc:
        raise BadEvent("unknown_event", f"unknown event type {raw_kind!r}; types are: "
                       + ", ".join(k.value for k in ORDER_EVENTS)) from exc  # fmt: skip
    if kind not in ORDER_EVENTS:
        raise BadEvent("unknown_event", f"{kind.value} is not an order event")
    number = _text(payload, "order", 32)
    return OrderEvent(key, kind, number, _details(kind, payload.get("data")))


def _existing(session: Session, key: str) -> ShopEvent | None:
    return session.scalars(select(ShopEvent).where(ShopEvent.event_key == key)).first()


def _apply(order: Order, event: OrderEvent, now: dt.datetime) -> None:
    if event.kind in NEW_STATUS:
        order.status = NEW_STATUS[event.kind]
    if event.kind == EventKind.SHIPPED:
        order.carrier = event.data["carrier"]
        order.tracking_number = event.data["tracking_number"]
    if event.kind == EventKind.DELAYED:
        order.estimated_delivery = dt.date.fromisoformat(event.data["new_date"])
    order.updated_at = now


def receive(
    session: Session,
    event: OrderEvent,
    source: EventSource,
    rules: Rules,
    now: dt.datetime | None = None,
) -> Received:
    """Store an order event once, apply it to the order and plan its messages.

    Raises:
        UnknownOrder: no order has the number (nothing is stored).
    """
    now = now or utcnow()
    seen = _existing(session, event.key)
    if seen is not None:
        return Received(seen, duplicate=True)
    order = session.scalars(
        select(Order).where(Order.number == event.order_number)
    ).first()
    if order is None:
        raise UnknownOrder(event.order_number)
    _apply(order, event, now)
    return _store(session, event.key, event.kind, source, rules, now, order=order,
                  data=event.data)  # fmt: skip


def _store(
    session: Session,
    key: str,
    kind: EventKind,
    source: EventSource,
    rules: Rules,
    now: dt.datetime,
    *,
    order: Order | None = None,
    ticket: Ticket | None = None,
    data: dict[str, Any] | None = None,
    told: str | None = None,
) -> Received:
    customer = order.customer if order is not None else ticket.customer  # type: ignore[union-attr]
    stored = ShopEvent(
        event_key=key, kind=kind, source=source, customer=customer, order=order,
        ticket=ticket, data=json.dumps(data or {}), received_at=now,
    )  # fmt: skip
    session.add(stored)
    session.flush()
    planned = notifications.plan(session, stored, rules, now, told=told)
    return Received(stored, duplicate=False, notifications=tuple(planned))


def new_key(source: EventSource, subject: str) -> str:
    """A fresh key for an event we noticed ourselves (CLI, import, console)."""
    return f"{source.value}:{subject}:{uuid.uuid4().hex}"


def order_changed(
    session: Session,
    order: Order,
    before: tuple[OrderStatus | None, dt.date | None],
    source: EventSource,
    rules: Rules,
    now: dt.datetime | None = None,
) -> Received | None:
    """The event an edit to an order makes (CLI, CSV import), if it makes one.

    A new status that customers hear about (shipped, out for delivery, delivered,
    cancelled) or, for an order still on its way, a later estimated delivery
    (delayed). A new order or an unchanged one makes none.
    """
    now = now or utcnow()
    old_status, old_date = before
    if old_status is None:
        return None
    kind, data = None, {}
    if order.status != old_status and order.status in STATUS_EVENTS:
        kind = STATUS_EVENTS[order.status]
        if kind == EventKind.SHIPPED:
            data = {"carrier": order.carrier, "tracking_number": order.tracking_number}
    elif (
        order.status in UNDELIVERED
        and old_date is not None
        and order.estimated_delivery is not None
        and order.estimated_delivery > old_date
    ):
        kind = EventKind.DELAYED
        data = {"new_date": order.estimated_delivery.isoformat()}
    if kind is None:
        return None
    key = new_key(source, order.number)
    return _store(session, key, kind, source, rules, now, order=order, data=data)


def ticket_changed(
    session: Session,
    ticket: Ticket,
    rules: Rules,
    now: dt.datetime | None = None,
    *,
    told_in_conversation: bool = False,
) -> Received | None:
    """The event an agent's status change makes (a customer's ticket only).

    When the conversation's own notice already told the customer (Resolve in a
    conversation the customer can be reached in), the update is kept but
    suppressed, so nobody hears the same news twice.
    """
    if ticket.customer is None or ticket.status not in (
        TicketStatus.WAITING_ON_CUSTOMER,
        TicketStatus.RESOLVED,
    ):
        return None
    kind = (
        EventKind.TICKET_RESOLVED
        if ticket.status == TicketStatus.RESOLVED
        else EventKind.TICKET_UPDATED
    )
    told = (
        "the customer was told in the ticket's conversation"
        if told_in_conversation
        else None
    )
    key = new_key(EventSource.CONSOLE, ticket.reference)
    return _store(session, key, kind, EventSource.CONSOLE, rules, now or utcnow(),
                  ticket=ticket, data={"status": ticket.status.value}, told=told)  # fmt: skip


def late_orders(
    session: Session, rules: Rules, today: dt.date, now: dt.datetime | None = None
) -> list[Received]:
    """One "delayed" event per order past its estimated delivery (the worker's check).

    Keyed by the order and the date it missed, so it is made once however often
    the check runs (a new date that is missed again makes a new one). A VIP
    customer's late order also gets a ticket, so a person looks before they ask.
    """
    now = now or utcnow()
    late = session.scalars(
        select(Order)
        .where(Order.status.in_(UNDELIVERED), Order.estimated_delivery < today)
        .order_by(Order.id)
    )
    made = []
    for order in late:
        assert order.estimated_delivery is not None
        key = f"late:{order.number}:{order.estimated_delivery.isoformat()}"
        if _existing(session, key) is not None:
            continue
        received = _store(session, key, EventKind.DELAYED, EventSource.WORKER, rules,
                          now, order=order)  # fmt: skip
        if order.customer.segment == Segment.VIP:
            _flag_for_a_person(session, order)
        made.append(received)
    return made


def _flag_for_a_person(session: Session, order: Order) -> Ticket:
    due = order.estimated_delivery
    return open_ticket(
        session,
        TicketRequest(
            channel=Channel.SMS if order.customer.phone else Channel.WEB,
            category=TicketCategory.PROBLEM,
            subject=f"VIP order {order.number} is late",
            description=(
                f"Order {order.number} was due on {due} and is still "
                f"{order.status.value.replace('_', ' ')}. The customer was sent a delay "
                "update (if they agreed to updates); please check with the carrier "
                "before they ask."
            ),
            customer=order.customer,
            order=order,
            contact=order.customer.phone or order.customer.email,
        ),
    )
