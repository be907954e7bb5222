"""Who a conversation is with, and what that contact did before and after it.

A conversation's contact (`contact_key`) is the customer a channel or a
verification proved (`customer:12`), else the phone a channel vouched for
(`phone:+1...`), else its own sender (`sender:<id>`: the same chat or REST
client). Whenever a conversation gets a contact, the links with that contact's
other conversations are made, in both directions, whatever order events arrive in:

- repeat contact: another conversation started in the 7 days before it
  (`repeat_contact`), which is then `contacted_again`;
- a person involved: the contact was handed off within 24 h after a
  conversation's last event (`person_later_at`), so that one was not contained.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from bot.insights.schema import InsightConversation
from bot.models import Customer

REPEAT_WINDOW = dt.timedelta(days=7)
PERSON_WINDOW = dt.timedelta(hours=24)

C = InsightConversation
_SYNC = {"synchronize_session": "evaluate"}


def identify_by_contact(session: Session, conversation: C, contact: str) -> None:
    """The customer of an email, phone or `customer:<id>` a verification proved."""
    if contact.startswith("customer:") and contact[9:].isdigit():
        identify(session, conversation, int(contact[9:]), None)
        return
    column = Customer.email if "@" in contact else Customer.phone
    customer_id = session.scalar(
        select(Customer.id).where(column == contact.strip().lower())
    )
    if customer_id is not None:
        identify(session, conversation, customer_id, None)


def identify(
    session: Session, conversation: C, customer_id: int | None, phone: str | None
) -> None:
    """Record who the conversation is with: a customer (by id or phone), or a phone.

    The first customer proved stays; a phone counts only until a customer is known.
    """
    customer = None
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
    elif phone:
        customer = session.scalars(
            select(Customer).where(Customer.phone == phone)
        ).first()
    if customer is not None:
        if conversation.customer_id is not None:
            return
        conversation.customer_id = customer.id
        conversation.segment = customer.segment.value
        key = f"customer:{customer.id}"
    elif phone and conversation.contact_key.startswith("sender:"):
        key = f"phone:{phone}"
    else:
        return
    if key != conversation.contact_key:
        conversation.contact_key = key
        link(session, conversation)


def link(session: Session, conversation: C, opened: bool = False) -> None:
    """Mark repeat contacts and later handoffs between the contact's conversations.

    A conversation just `opened` by its sender's first event can only follow
    others: nothing of that sender comes after it yet.
    """
    same = and_(C.contact_key == conversation.contact_key, C.id != conversation.id)
    start = conversation.started_at
    before = and_(same, C.started_at >= start - REPEAT_WINDOW, C.started_at <= start)
    session.flush()
    if session.scalar(select(C.id).where(before).limit(1)) is not None:
        conversation.repeat_contact = True
        session.execute(
            update(C).where(before).values(contacted_again=True),
            execution_options=_SYNC,
        )
    if opened:
        return
    after = and_(same, C.started_at > start, C.started_at <= start + REPEAT_WINDOW)
    if session.scalar(select(C.id).where(after).limit(1)) is not None:
        conversation.contacted_again = True
        session.execute(
            update(C).where(after).values(repeat_contact=True), execution_options=_SYNC
        )
    if conversation.handed_off and conversation.handed_off_at is not None:
        person_involved(session, conversation, conversation.handed_off_at)
        return
    later = session.scalar(
        select(C.handed_off_at)
        .where(
            same,
            C.handed_off.is_(True),
            C.handed_off_at >= start,
            C.handed_off_at <= conversation.last_event_at + PERSON_WINDOW,
        )
        .order_by(C.handed_off_at)
        .limit(1)
    )
    if later is not None:
        conversation.person_later_at = later


def person_involved(session: Session, conversation: C, at: dt.datetime) -> None:
    """The contact's other conversations that ended in the 24 h before `at` had one."""
    session.flush()
    session.execute(
        update(C)
        .where(
            C.contact_key == conversation.contact_key,
            C.id != conversation.id,
            C.handed_off.is_(False),
            C.person_later_at.is_(None),
            C.last_event_at >= at - PERSON_WINDOW,
            C.started_at <= at,
        )
        .values(person_later_at=at),
        execution_options=_SYNC,
    )
