"""Registration in the chat: a customer exists only once their email is confirmed.

The chat answers the same whether or not the email already has an account ("we've
sent a link to ... to finish"), so registering tells nobody who is a customer:

- a new email gets a `registrations` row and a mail with a signed one-time link;
  opening it (bot/web/registration.py) creates the customer, so nothing typed in
  the chat is used for verification, tickets or SMS identity before then;
- a known email gets nothing but a mail to its owner: someone tried to register
  with your address; if it was you, reset your password here.

A phone number typed at registration is not proof of owning it: it stays on the
registration row and becomes the customer's (used to vouch for SMS and calls) only
when the channel vouched for it, i.e. they registered by texting from that number.
(Confirming a typed number by an SMS code is not built yet.)

Attempts are counted in the database (the `registrations` rows) per conversation and
per email and phone, so nobody can mail-bomb an address or enumerate from one chat.
"""

from __future__ import annotations

import datetime as dt
import enum
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.mailer import MailOutbox
from bot.models import MAX_ID, Registration, utcnow
from bot.proactive.schema import ConsentSource
from bot.services import consent
from bot.services.contact import normalise_email, normalise_phone
from bot.services.customers import (
    CustomerExists,
    NewCustomer,
    find_by_email,
    find_by_phone,
    register_customer,
)
from bot.signing import serializer

# Derives a key for these links only: no other SECRET_KEY signature is ever valid here.
LINK_SALT = "switchboard.registration.confirm"
LINK_VALID = dt.timedelta(hours=24)


@dataclass(frozen=True)
class RegistrationLimits:
    per_conversation: int = 3
    per_contact: int = 3  # per email and per phone
    window: dt.timedelta = dt.timedelta(hours=1)


DEFAULT_LIMITS = RegistrationLimits()


@dataclass(frozen=True)
class Links:
    """What the mails link to, and the secret that signs confirmation links."""

    secret: str
    confirm_url: str
    reset_url: str


class RegistrationThrottled(Exception):
    """Too many registrations from this conversation or with this email/phone."""


class Confirmation(str, enum.Enum):
    CONFIRMED = "confirmed"
    USED = "used"  # opened before: the account exists
    EXPIRED = "expired"
    INVALID = "invalid"  # not a link we made
    ACCOUNT_EXISTS = "account_exists"  # the email got an account some other way


@dataclass(frozen=True)
class ConfirmResult:
    outcome: Confirmation
    name: str | None = None


def _serializer(secret: str) -> URLSafeSerializer:
    if not secret:
        raise ValueError("confirmation links need SECRET_KEY")
    return serializer(secret, LINK_SALT)


def confirmation_token(registration: Registration, secret: str) -> str:
    """The signed token in the confirmation link of `registration`."""
    return str(
        _serializer(secret).dumps({"r": registration.id, "n": registration.nonce})
    )


def _count(session: Session, since: dt.datetime, condition: Any) -> int:
    query = (
        select(func.count())
        .select_from(Registration)
        .where(Registration.created_at >= since, condition)
    )
    return session.scalar(query) or 0


def throttled(
    session: Session,
    conversation_id: str,
    email: str,
    phone: str | None,
    limits: RegistrationLimits,
    now: dt.datetime,
) -> bool:
    """True when this conversation, email or phone registered too often recently."""
    since = now - limits.window
    return (
        _count(session, since, Registration.conversation_id == conversation_id)
        >= limits.per_conversation
        or _count(session, since, Registration.email == email) >= limits.per_contact
        or (
            phone is not None
            and _count(session, since, Registration.phone == phone)
            >= limits.per_contact
        )
    )


def start_registration(
    session: Session,
    new: NewCustomer,
    *,
    conversation_id: str,
    vouched_phone: str | None,
    links: Links,
    region: str = "US",
    limits: RegistrationLimits = DEFAULT_LIMITS,
) -> Registration:
    """Record a registration and mail its link, or warn the owner of a known email.

    Raises:
        InvalidContact: email or phone is malformed.
        RegistrationThrottled: too many attempts; nothing is stored or mailed.
    """
    name = " ".join(new.name.split())
    if not name:
        raise ValueError("name must not be empty")
    email = normalise_email(new.email)
    phone = normalise_phone(new.phone, region) if new.phone else None
    now = utcnow()
    if throttled(session, conversation_id, email, phone, limits, now):
        raise RegistrationThrottled()
    owner = find_by_email(session, email)
    registration = Registration(
        name=name,
        email=email,
        phone=phone,
        phone_vouched=phone is not None and phone == vouched_phone,
        conversation_id=conversation_id,
        existing_account=owner is not None,
        nonce=secrets.token_urlsafe(16),
        created_at=now,
    )
    session.add(registration)
    session.flush()
    outbox = MailOutbox(session)
    if owner is not None:
        outbox.send(email, *_existing_account_mail(owner.name, links.reset_url))
    else:
        link = f"{links.confirm_url.rstrip('/')}/"
        link += confirmation_token(registration, links.secret)
        outbox.send(email, *_confirmation_mail(name, link))
    return registration


def _confirmation_mail(name: str, link: str) -> tuple[str, str]:
    hours = int(LINK_VALID.total_seconds() // 3600)
    return (
        "Finish creating your account",
        f"Hello {name},\n\nSomeone, hopefully you, asked our assistant to create an "
        f"account with this email address. To finish, open this link within "
        f"{hours} hours:\n\n{link}\n\nIf it wasn't you, ignore this email: no "
        "account is created.\n",
    )


def _existing_account_mail(name: str, reset_url: str) -> tuple[str, str]:
    return (
        "Someone tried to register with your email address",
        f"Hello {name},\n\nSomeone asked our assistant to create a new account with "
        "this email address, which already has an account. If it was you, you can "
        f"get back into your account by resetting your password here:\n\n{reset_url}"
        "\n\nIf it wasn't you, you can ignore this email: nothing has changed.\n",
    )


def _load(token: str, secret: str) -> tuple[int, str] | None:
    try:
        data = _serializer(secret).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    registration_id, nonce = data.get("r"), data.get("n")
    if not isinstance(registration_id, int) or not isinstance(nonce, str):
        return None
    if not 0 < registration_id <= MAX_ID:
        return None
    return registration_id, nonce


def confirm_registration(
    session: Session,
    token: str,
    secret: str,
    region: str = "US",
    updates: bool | None = None,
) -> ConfirmResult:
    """Create the customer of the registration this link was mailed for, once.

    `updates` is the form's answer to "send me updates about my orders", recorded
    for every channel the new customer can be reached on (None: not asked).
    """
    loaded = _load(token, secret)
    if loaded is None:
        return ConfirmResult(Confirmation.INVALID)
    registration = session.get(Registration, loaded[0])
    if (
        registration is None
        or registration.existing_account
        or not hmac.compare_digest(registration.nonce, loaded[1])
    ):
        return ConfirmResult(Confirmation.INVALID)
    now = utcnow()
    if registration.confirmed_at is not None:
        return ConfirmResult(Confirmation.USED)
    if now - registration.created_at > LINK_VALID:
        return ConfirmResult(Confirmation.EXPIRED)
    # Compare-and-set: of two clicks at once, exactly one creates the customer.
    claimed = session.execute(
        update(Registration)
        .where(Registration.id == registration.id, Registration.confirmed_at.is_(None))
        .values(confirmed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return ConfirmResult(Confirmation.USED)
    session.expire(registration, ["confirmed_at"])
    phone = registration.phone if registration.phone_vouched else None
    if phone and find_by_phone(session, phone) is not None:
        phone = None  # vouched, but another customer has it: an agent sorts it out
    new = NewCustomer(name=registration.name, email=registration.email, phone=phone)
    try:
        customer = register_customer(session, new, region)
    except CustomerExists:
        return ConfirmResult(Confirmation.ACCOUNT_EXISTS)
    registration.customer_id = customer.id
    if updates is not None:
        consent.answer_all(session, customer, updates, ConsentSource.REGISTRATION)
    session.flush()
    return ConfirmResult(Confirmation.CONFIRMED, customer.name)
