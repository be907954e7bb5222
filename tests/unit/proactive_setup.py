"""Customers, orders and rules for the proactive service's tests (a plain module)."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Customer, Order, OrderStatus, Segment
from bot.proactive.schema import ConsentChannel, ConsentSource
from bot.proactive.templates import load
from bot.services import consent
from bot.services.notifications import Rules
from bot.services.quiet_hours import QuietHours
from bot.settings import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "notification_templates"
_numbers = itertools.count(1)


def rules(
    quiet: str = "21:00-08:00", cap: int = 3, timezone: str = "America/New_York"
) -> Rules:
    return Rules(load(TEMPLATES), QuietHours.parse(quiet), cap, timezone)


def new_customer(
    session: Session,
    *,
    consents: tuple[ConsentChannel, ...] = (ConsentChannel.SMS, ConsentChannel.WEB),
    phone: bool = True,
    segment: Segment = Segment.STANDARD,
    timezone: str | None = None,
) -> Customer:
    """A customer of this test alone (own email and phone), with these consents."""
    n = next(_numbers)
    tag = uuid.uuid4().hex[:8]
    customer = Customer(
        name=f"Nora Test{n}",
        email=f"nora.{tag}@example.com",
        phone=f"+1202555{n % 10_000:04d}" if phone else None,
        segment=segment,
        timezone=timezone,
    )
    session.add(customer)
    session.flush()
    consent.grant_all(session, customer, consents, ConsentSource.CLI)
    return customer


def _free_order_number(session: Session) -> str:
    """A real-format (6 digit) order number no order has; 9xxxxx, clear of the demo."""
    while True:
        number = f"9{uuid.uuid4().int % 10**5:05d}"
        if session.scalar(select(Order.id).where(Order.number == number)) is None:
            return number


def new_order(
    session: Session,
    customer: Customer,
    status: OrderStatus = OrderStatus.PROCESSING,
    estimated_delivery: dt.date | None = None,
) -> Order:
    order = Order(
        number=_free_order_number(session),
        customer=customer,
        status=status,
        estimated_delivery=estimated_delivery,
    )
    session.add(order)
    session.flush()
    return order
