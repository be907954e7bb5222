"""Consent to proactive messages: per customer and channel, with where it came from.

Nobody gets an update unasked unless they said yes on that channel (at registration,
in the web chat, by texting UPDATES, or as loaded by the CLI or a CSV import: the
source is recorded with the time). A no, or STOP (`sms_opt_outs`, which wins over
any consent and is checked again just before every text), means nothing is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Customer, utcnow
from bot.proactive.schema import ConsentChannel, ConsentSource, ContactConsent
from bot.services import messaging

# What a customer texts to ask for order updates by SMS (STOP ends them).
UPDATES_KEYWORDS = frozenset({"updates", "notify"})


def record(
    session: Session,
    customer: Customer,
    channel: ConsentChannel,
    granted: bool,
    source: ConsentSource,
    now: dt.datetime | None = None,
) -> ContactConsent:
    """Record the customer's latest yes or no for `channel`."""
    row = session.scalars(
        select(ContactConsent).where(
            ContactConsent.customer_id == customer.id,
            ContactConsent.channel == channel,
        )
    ).one_or_none()
    if row is None:
        row = ContactConsent(customer_id=customer.id, channel=channel)
        session.add(row)
    row.granted = granted
    row.source = source
    row.recorded_at = now or utcnow()
    session.flush()
    return row


def grant_all(
    session: Session,
    customer: Customer,
    channels: Iterable[ConsentChannel],
    source: ConsentSource,
) -> None:
    """Record a yes for each of `channels` (CLI, CSV import, registration)."""
    for channel in channels:
        record(session, customer, channel, True, source)


def reachable_channels(customer: Customer) -> list[ConsentChannel]:
    """The channels an update could reach the customer on (SMS needs a phone)."""
    return [c for c in ConsentChannel if c != ConsentChannel.SMS or customer.phone]


def answer_all(
    session: Session, customer: Customer, granted: bool, source: ConsentSource
) -> list[ConsentChannel]:
    """One yes or no for every channel the customer can be reached on (registration)."""
    channels = reachable_channels(customer)
    for channel in channels:
        record(session, customer, channel, granted, source)
    return channels


def choose(
    session: Session,
    customer: Customer,
    chosen: dict[ConsentChannel, bool],
    source: ConsentSource,
) -> None:
    """Record the customer's explicit choices (ValueError: SMS without a phone)."""
    if chosen.get(ConsentChannel.SMS) and customer.phone is None:
        raise ValueError("add a phone number to your account to get updates by text")
    for channel, granted in chosen.items():
        record(session, customer, channel, granted, source)


def choices(session: Session, customer_id: int) -> dict[ConsentChannel, bool]:
    """The customer's latest word per channel (False where they never said yes)."""
    rows = session.scalars(
        select(ContactConsent).where(ContactConsent.customer_id == customer_id)
    )
    said = {row.channel: row.granted for row in rows}
    return {channel: said.get(channel, False) for channel in ConsentChannel}


def parse_channels(raw: str) -> list[ConsentChannel]:
    """Channels written "sms|web" or "sms,web" (ValueError naming a bad one)."""
    names = [part.strip().lower() for part in raw.replace(",", "|").split("|")]
    try:
        return [ConsentChannel(name) for name in names if name]
    except ValueError as exc:
        allowed = ", ".join(c.value for c in ConsentChannel)
        raise ValueError(f"consent channels are {allowed}, got {raw!r}") from exc


def has_consent(session: Session, customer_id: int, channel: ConsentChannel) -> bool:
    """True when the customer's latest word for `channel` is yes."""
    granted = session.scalar(
        select(ContactConsent.granted).where(
            ContactConsent.customer_id == customer_id,
            ContactConsent.channel == channel,
        )
    )
    return bool(granted)


def agreed_channels(session: Session, customer_id: int) -> list[str]:
    """The channels the customer agreed to updates on, in words, with the source."""
    rows = session.scalars(
        select(ContactConsent)
        .where(ContactConsent.customer_id == customer_id, ContactConsent.granted)
        .order_by(ContactConsent.channel)
    )
    return [f"{channel_words(row.channel)} ({row.source.value})" for row in rows]


def refusal(
    session: Session, customer: Customer, channel: ConsentChannel
) -> str | None:
    """Why nothing may be sent to `customer` on `channel` now, or None when it may."""
    if channel == ConsentChannel.SMS:
        if customer.phone is None:
            return "the customer has no phone number"
        if messaging.is_opted_out(session, customer.phone):
            return "the customer texted STOP"
    if not has_consent(session, customer.id, channel):
        return f"the customer has not agreed to updates by {channel_words(channel)}"
    return None


def channel_words(channel: ConsentChannel) -> str:
    return "SMS" if channel == ConsentChannel.SMS else "web chat"


def is_updates_keyword(text: str) -> bool:
    """True when the whole message asks for updates by SMS ("UPDATES")."""
    return "".join(text.split()).lower().strip(".!") in UPDATES_KEYWORDS


def opt_in_by_text(session: Session, phone: str) -> bool:
    """The customer with this (vouched) phone texted UPDATES: a yes for SMS.

    False when no customer has the number (nothing is recorded).
    """
    customer = session.scalars(
        select(Customer).where(Customer.phone == phone)
    ).one_or_none()
    if customer is None:
        return False
    record(session, customer, ConsentChannel.SMS, True, ConsentSource.SMS_KEYWORD)
    return True
