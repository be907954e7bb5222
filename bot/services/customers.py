"""Customers: registration and look-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import Customer, Segment
from bot.services.contact import normalise_email, normalise_phone


class CustomerExists(Exception):
    """An account already uses this email or phone."""

    def __init__(self, field: str) -> None:
        super().__init__(f"an account with this {field} already exists")
        self.field = field


@dataclass(frozen=True)
class NewCustomer:
    name: str
    email: str
    phone: str | None = None
    segment: Segment = Segment.STANDARD


def find_by_email(session: Session, email: str) -> Customer | None:
    """The customer with this (normalised) email, if any."""
    return session.scalars(
        select(Customer).where(Customer.email == email.strip().lower())
    ).first()


def find_by_phone(session: Session, phone: str) -> Customer | None:
    """The customer with this E.164 phone, if any."""
    return session.scalars(select(Customer).where(Customer.phone == phone)).first()


def conflict_field(
    session: Session, email: str | None, phone: str | None
) -> str | None:
    """Which of email/phone already belongs to an account, if either."""
    if email and find_by_email(session, email):
        return "email"
    if phone and find_by_phone(session, phone):
        return "phone"
    return None


def register_customer(
    session: Session, new: NewCustomer, region: str = "US"
) -> Customer:
    """Create a customer after validating and de-duplicating email and phone.

    Raises:
        InvalidContact: email or phone is malformed.
        CustomerExists: email or phone already has an account.
    """
    name = " ".join(new.name.split())
    if not name:
        raise ValueError("name must not be empty")
    email = normalise_email(new.email)
    phone = normalise_phone(new.phone, region) if new.phone else None
    field = conflict_field(session, email, phone)
    if field:
        raise CustomerExists(field)
    customer = Customer(name=name, email=email, phone=phone, segment=new.segment)
    session.add(customer)
    try:
        # A savepoint, so a concurrent duplicate does not poison the caller's transaction.
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise CustomerExists("email or phone") from exc
    return customer


def upsert_customer(session: Session, new: NewCustomer, region: str = "US") -> Customer:
    """Create or update the customer identified by email (operator data loads)."""
    email = normalise_email(new.email)
    phone = normalise_phone(new.phone, region) if new.phone else None
    customer = find_by_email(session, email)
    if customer is None:
        return register_customer(session, new, region)
    if phone and phone != customer.phone:
        other = find_by_phone(session, phone)
        if other is not None and other.id != customer.id:
            raise CustomerExists("phone")
    customer.name = " ".join(new.name.split()) or customer.name
    customer.phone = phone or customer.phone
    customer.segment = new.segment
    session.flush()
    return customer
