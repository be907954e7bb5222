"""Orders: verified look-up, status wording and direct cancellation."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from bot.models import Customer, Order, OrderStatus, utcnow

ORDER_NUMBER_RE = re.compile(r"^\d{6}$")

CARRIER_TRACKING_URLS = {
    "UPS": "https://www.ups.com/track?tracknum={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
}

STATUS_WORDS = {
    OrderStatus.PLACED: "has been placed and is waiting to be processed",
    OrderStatus.PROCESSING: "is being prepared in our warehouse",
    OrderStatus.SHIPPED: "has shipped",
    OrderStatus.OUT_FOR_DELIVERY: "is out for delivery today",
    OrderStatus.DELIVERED: "was delivered",
    OrderStatus.CANCELLED: "was cancelled",
    OrderStatus.RETURNED: "was returned to us",
}


def normalise_order_number(raw: str | None) -> str | None:
    """Digits of a 6-digit order number ("#104 257" -> "104257"), else None."""
    if raw is None:
        return None
    digits = re.sub(r"[\s#\-.]", "", str(raw)).removeprefix("no").removeprefix("No")
    return digits if ORDER_NUMBER_RE.match(digits) else None


def get_order(session: Session, number: str) -> Order | None:
    """The order with this number, with its customer and items loaded."""
    return session.scalars(
        select(Order)
        .where(Order.number == number)
        .options(selectinload(Order.items), selectinload(Order.customer))
    ).first()


def find_verified_order(
    session: Session,
    number: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    customer_id: int | None = None,
) -> Order | None:
    """The order only if the second identifier matches its customer.

    The identifier is the account's email, the phone the customer is texting or
    calling from, or the id of a customer signed in on the shop.

    An unknown number and a wrong pair give the same result (None), so nobody can
    probe which order numbers exist.
    """
    # One query whether or not the number exists, so timing tells nothing either.
    conditions = []
    if email:
        conditions.append(Customer.email == email.strip().lower())
    if phone:
        conditions.append(Customer.phone == phone)
    if customer_id is not None:
        conditions.append(Customer.id == customer_id)
    if not conditions:
        return None
    return session.scalars(
        select(Order)
        .join(Order.customer)
        .where(Order.number == number, or_(*conditions))
    ).first()


def humanise_date(day: dt.date, today: dt.date) -> str:
    """Say a date the way a person would: "today", "tomorrow", "on Friday, 27 November"."""
    delta = (day - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    weekday_and_date = f"{day.strftime('%A')}, {day.strftime('%B')} {day.day}"
    if day.year != today.year:
        weekday_and_date += f", {day.year}"
    return f"on {weekday_and_date}"


@dataclass(frozen=True)
class OrderSummary:
    """What the bot may tell a verified customer about an order."""

    number: str
    status: OrderStatus
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    estimated_delivery: dt.date | None
    items: tuple[str, ...]

    def sentence(self, today: dt.date, spoken: bool = False) -> str:
        """One or two plain sentences describing where the order is.

        `spoken` leaves out the tracking number, which nobody wants read aloud.
        """
        parts = [f"Your order {self.number} {STATUS_WORDS[self.status]}."]
        in_transit = self.status in (
            OrderStatus.SHIPPED,
            OrderStatus.OUT_FOR_DELIVERY,
            OrderStatus.DELIVERED,
        )
        if self.carrier and self.tracking_number and in_transit:
            if spoken:
                parts.append(f"It's travelling with {self.carrier}.")
            else:
                parts.append(
                    f"It's travelling with {self.carrier}, tracking number "
                    f"{self.tracking_number}."
                )
        already_said_today = (
            self.status == OrderStatus.OUT_FOR_DELIVERY
            and self.estimated_delivery == today
        )
        if (
            self.estimated_delivery
            and not already_said_today
            and self.status
            not in (OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED)
        ):
            when = humanise_date(self.estimated_delivery, today)
            if self.estimated_delivery < today:
                parts.append(
                    f"It was due {when} and is running late; sorry about that."
                )
            else:
                parts.append(f"We expect to deliver it {when}.")
        return " ".join(parts)


def summarise(order: Order) -> OrderSummary:
    """Build the disclosable summary of a verified order."""
    url_template = CARRIER_TRACKING_URLS.get(order.carrier or "")
    return OrderSummary(
        number=order.number,
        status=order.status,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        tracking_url=(
            url_template.format(order.tracking_number)
            if url_template and order.tracking_number
            else None
        ),
        estimated_delivery=order.estimated_delivery,
        items=tuple(f"{item.quantity} x {item.description}" for item in order.items),
    )


def can_cancel_directly(order: Order) -> bool:
    """Only orders not yet picked in the warehouse can be cancelled by the bot."""
    return order.status == OrderStatus.PLACED


def cancel_order(session: Session, order: Order) -> bool:
    """Cancel an order still in `placed`; False means a person must handle it.

    A conditional UPDATE, so an order the warehouse picks at the same moment is
    never reported as cancelled.
    """
    result = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PLACED)
        .values(status=OrderStatus.CANCELLED, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return bool(result.rowcount)
