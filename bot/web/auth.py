"""Demo sign-in for the demo shop: the seeded customers, password "demo".

The signed-in customer's id lives only in the signed session cookie, so the browser
cannot change it; the chat API reads it here and vouches for it to Rasa.
"""

from __future__ import annotations

import hmac

from flask import session
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Customer
from bot.seed import DEMO_CUSTOMERS

CUSTOMER_KEY = "customer_id"
DEMO_PASSWORD = "demo"
# Only the demo customers: imported real customers can never be signed in as "demo".
DEMO_EMAILS = frozenset(c.email.lower() for c in DEMO_CUSTOMERS)


def authenticate(db: Session, email: str, password: str) -> Customer | None:
    """The demo customer with this email if the password is the demo password."""
    email = email.strip().lower()
    password_ok = hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode())
    if not password_ok or email not in DEMO_EMAILS:
        return None
    return db.scalars(select(Customer).where(Customer.email == email)).one_or_none()


def sign_in(customer: Customer) -> None:
    session[CUSTOMER_KEY] = customer.id


def sign_out() -> None:
    """Forget everything, the conversation too: the next person starts afresh."""
    session.clear()


def signed_in_customer_id() -> int | None:
    value = session.get(CUSTOMER_KEY)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def signed_in_customer(db: Session) -> Customer | None:
    customer_id = signed_in_customer_id()
    return db.get(Customer, customer_id) if customer_id is not None else None
