import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Customer, Segment
from bot.services.contact import InvalidContact, normalise_phone
from bot.services.customers import (
    CustomerExists,
    NewCustomer,
    register_customer,
    upsert_customer,
)


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Customer)) or 0


def test_register_normalises_name_email_and_phone(session: Session) -> None:
    before = count(session)
    customer = register_customer(
        session, NewCustomer("  ada   lovelace ", "Ada@Example.COM", "(415) 555-0199")
    )
    assert (customer.name, customer.email, customer.phone) == (
        "ada lovelace",
        "ada@example.com",
        "+14155550199",
    )
    assert customer.segment == Segment.STANDARD
    assert count(session) == before + 1


@pytest.mark.parametrize(
    ("email", "phone", "field"),
    [
        ("JANE.DOE@example.com", None, "email"),
        ("new@example.com", "415-555-0134", "phone"),
    ],
)
def test_register_refuses_existing_email_or_phone(
    session: Session, email: str, phone: str | None, field: str
) -> None:
    before = count(session)
    with pytest.raises(CustomerExists) as caught:
        register_customer(session, NewCustomer("Someone", email, phone))
    assert caught.value.field == field
    assert count(session) == before


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", ""])
def test_register_rejects_bad_email(session: Session, email: str) -> None:
    with pytest.raises(InvalidContact):
        register_customer(session, NewCustomer("Someone", email))


@pytest.mark.parametrize("phone", ["12345", "555-0134", "call me", "+1 000 000 0000"])
def test_invalid_phone_numbers_are_refused(phone: str) -> None:
    with pytest.raises(InvalidContact):
        normalise_phone(phone)


def test_upsert_updates_existing_customer(session: Session) -> None:
    customer = upsert_customer(
        session, NewCustomer("Jane Q. Doe", "jane.doe@example.com", None, Segment.VIP)
    )
    assert customer.name == "Jane Q. Doe"
    assert customer.segment == Segment.VIP
    assert customer.phone == "+14155550134"  # kept when not given


def test_upsert_refuses_phone_of_another_customer(session: Session) -> None:
    with pytest.raises(CustomerExists):
        upsert_customer(
            session, NewCustomer("Jane Doe", "jane.doe@example.com", "+14155550178")
        )
