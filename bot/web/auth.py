"""Demo sign-in for the demo shop: the demo customers, password "demo".

Only customers marked as demo accounts in the database (`Customer.demo`, set by
`python -m bot seed`) can sign in: imported real customers never can.

The signed-in customer's id lives only in the signed session cookie, so the browser
cannot change it; the chat API reads it here and vouches for it to Rasa.

Signing in starts a new session: everything from before (the anonymous conversation,
the form token) is dropped and issued afresh, so a cookie copied or planted before
sign-in (session fixation) never reaches the signed-in customer's conversation. A
sign-in lasts at most PERMANENT_SESSION_LIFETIME, however active the session is.
Signing out ends the sign-in on the server too (session_version.py): a cookie saved
before sign-out no longer signs anyone in.
"""

from __future__ import annotations

import hmac
import time

from flask import Flask, current_app, session
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Customer, utcnow
from bot.services import notifications
from bot.web.conversation import new_conversation_id
from bot.web.database import session_factory
from bot.web.security import new_csrf_token
from bot.web.session_version import end_sessions, stamp

CUSTOMER_KEY = "customer_id"
SIGNED_IN_AT_KEY = "signed_in_at"
VERSION_KEY = "customer_session"
DEMO_PASSWORD = "demo"


def authenticate(db: Session, email: str, password: str) -> Customer | None:
    """The demo customer with this email if the password is the demo password."""
    email = email.strip().lower()
    if not hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode()):
        return None
    if "\x00" in email:  # no email has one, and PostgreSQL cannot compare it
        return None
    return db.scalars(
        select(Customer).where(Customer.email == email, Customer.demo.is_(True))
    ).one_or_none()


def sign_in(customer: Customer) -> None:
    """A new session for `customer`: new conversation id, new form token.

    The new conversation is where the customer's web updates go from now on, and
    it starts with the recent ones (bot/services/notifications.py).
    """
    session.clear()
    session[CUSTOMER_KEY] = customer.id
    session[SIGNED_IN_AT_KEY] = int(time.time())
    session[VERSION_KEY] = stamp(customer)
    conversation = new_conversation_id()
    new_csrf_token()
    session.permanent = True
    with session_factory().begin() as db:
        notifications.show_on_sign_in(db, customer.id, conversation, utcnow())


def sign_out() -> None:
    """End the customer's sessions on the server, then forget everything here.

    The conversation goes too: the next person starts afresh.
    """
    customer_id = signed_in_customer_id()
    if customer_id is not None:
        with session_factory()() as db:
            end_sessions(db, Customer, customer_id)
    session.clear()


def signed_in_customer_id() -> int | None:
    value = session.get(CUSTOMER_KEY)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def signed_in_customer(db: Session) -> Customer | None:
    customer_id = signed_in_customer_id()
    return db.get(Customer, customer_id) if customer_id is not None else None


def _sign_in_still_valid() -> bool:
    signed_in_at = session.get(SIGNED_IN_AT_KEY)
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    if not isinstance(signed_in_at, int) or time.time() - signed_in_at > lifetime:
        return False
    with session_factory()() as db:
        customer = signed_in_customer(db)
        return customer is not None and session.get(VERSION_KEY) == stamp(customer)


def _end_stale_sign_in() -> None:
    """Forget a sign-in (and its conversation) that is too old or was signed out."""
    if CUSTOMER_KEY in session and not _sign_in_still_valid():
        session.clear()


def init_app(app: Flask) -> None:
    app.before_request(_end_stale_sign_in)
