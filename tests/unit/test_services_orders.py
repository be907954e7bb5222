import datetime as dt

import pytest
from sqlalchemy.orm import Session

from bot.models import OrderStatus
from bot.services import orders
from tests.conftest import TODAY


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("104257", "104257"), ("#104257", "104257"), ("104 257", "104257"),
     ("104-257", "104257"), ("10425", None), ("1042577", None), ("abc", None),
     ("", None), (None, None)],
)  # fmt: skip
def test_normalise_order_number(raw: str | None, expected: str | None) -> None:
    assert orders.normalise_order_number(raw) == expected


def test_verified_by_email_of_the_customer(session: Session) -> None:
    order = orders.find_verified_order(
        session, "104257", email=" Jane.Doe@Example.com "
    )
    assert order is not None and order.number == "104257"


def test_verified_by_phone_of_the_customer(session: Session) -> None:
    order = orders.find_verified_order(session, "104257", phone="+14155550134")
    assert order is not None


@pytest.mark.parametrize(
    ("number", "email", "phone"),
    [
        ("104257", "sam.lee@example.com", None),  # another customer's email
        ("104257", None, "+14155550178"),  # another customer's phone
        ("999999", "jane.doe@example.com", None),  # unknown order
        ("104257", None, None),  # no second identifier
    ],
)
def test_wrong_pairs_and_unknown_numbers_look_the_same(
    session: Session, number: str, email: str | None, phone: str | None
) -> None:
    assert orders.find_verified_order(session, number, email=email, phone=phone) is None


def test_customer_without_phone_cannot_be_matched_by_empty_phone(
    session: Session,
) -> None:
    assert orders.find_verified_order(session, "113377", phone="") is None


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0, "today"), (1, "tomorrow"), (-1, "yesterday"),
     (2, "on Sunday, November 22"), (45, "on Monday, January 4, 2027")],
)  # fmt: skip
def test_humanise_date(days: int, expected: str) -> None:
    assert orders.humanise_date(TODAY + dt.timedelta(days=days), TODAY) == expected


def test_shipped_order_sentence_has_status_carrier_tracking_and_date(
    session: Session,
) -> None:
    order = orders.get_order(session, "104257")
    assert order is not None
    summary = orders.summarise(order)
    assert summary.sentence(TODAY) == (
        "Your order 104257 has shipped. It's travelling with UPS, tracking number "
        "1Z999AA10123456784. We expect to deliver it on Sunday, November 22."
    )
    assert (
        summary.tracking_url == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    )
    assert summary.items == ("1 x Brass desk lamp",)


def test_delivered_order_has_no_expected_date(session: Session) -> None:
    order = orders.get_order(session, "100318")
    assert order is not None
    sentence = orders.summarise(order).sentence(TODAY)
    assert sentence.startswith("Your order 100318 was delivered.")
    assert "expect" not in sentence


def test_only_placed_orders_can_be_cancelled_directly(session: Session) -> None:
    placed = orders.get_order(session, "112233")
    shipped = orders.get_order(session, "104257")
    assert placed is not None and shipped is not None
    assert orders.cancel_order(session, placed) is True
    assert placed.status == OrderStatus.CANCELLED
    assert orders.cancel_order(session, placed) is False  # already cancelled
    assert orders.cancel_order(session, shipped) is False
    assert shipped.status == OrderStatus.SHIPPED


def test_late_order_says_so(session: Session) -> None:
    order = orders.get_order(session, "104257")
    assert order is not None
    sentence = orders.summarise(order).sentence(TODAY + dt.timedelta(days=5))
    assert "It was due on Sunday, November 22 and is running late" in sentence


def test_out_for_delivery_today_is_said_once(session: Session) -> None:
    order = orders.get_order(session, "108842")
    assert order is not None
    assert orders.summarise(order).sentence(TODAY) == (
        "Your order 108842 is out for delivery today. It's travelling with FedEx, "
        "tracking number 612999AA10123456."
    )
