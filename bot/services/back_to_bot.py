"""A held conversation going back to the assistant without an agent handing it back.

An agent hands a conversation back with `handoff.hand_back`; two more ways lead back:

================================  ===============================  ====================
who                               the ticket                       the customer is told
================================  ===============================  ====================
the customer asks ("back to the   new: resolved by the system      at once, on their
bot", `customer_returns`)         (the request is withdrawn);      channel
                                  claimed or waiting: stays with   (`Returned.notice`)
                                  its agent (claimed), who sees
                                  it in the transcript and the
                                  audit trail
nobody claimed it within          stays new in the queue, so a     by the delivery
UNCLAIMED_HOLD_MINUTES            person still answers it later    worker (stored first,
(`release_unclaimed`)                                              retried)
================================  ===============================  ====================

Either way the hold is released (the assistant answers the next message), the audit
trail says why, and the transcript keeps the customer's words and the notice. An
agent's later reply holds the conversation again (`handoff.reply`). Each channel
routes a customer's message through `route_customer_message` before the assistant
may see it (web chat, SMS, and the hold gate of bot/rasa_server.py); asking for the
assistant where it has the conversation already is answered there too (`ALREADY`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.durations import describe_duration
from bot.models import (
    ConversationHold,
    Delivery,
    Sender,
    Ticket,
    TicketEventKind,
    TicketMessage,
    TicketStatus,
    utcnow,
)
from bot.services import handoff, queue
from bot.services.assistant_request import asks_for_the_assistant

S = TicketStatus
logger = logging.getLogger(__name__)

BATCH = 50
WITHDRAWN = (
    "The customer went back to the assistant before anyone claimed the ticket: "
    "their request for a person is withdrawn"
)
KEPT = (
    "The customer went back to the assistant; the ticket stays with its agent, "
    "and a reply holds the conversation again"
)


def withdrawn_notice(reference: str) -> str:
    return (
        "You're back with our assistant: ask it anything. Your request for a person "
        f"({reference}) is withdrawn; you can ask for a person again at any time."
    )


def kept_notice(reference: str) -> str:
    return (
        "You're back with our assistant: ask it anything. A member of our team still "
        f"has your ticket {reference} and may write to you here."
    )


# Asked for the assistant where nobody held the conversation: the NLU model, never
# trained for it, would take "talk to the assistant" for a request for a person.
ALREADY_NOTICE = (
    "You're talking with our assistant already: ask it anything, or ask for a "
    "person at any time."
)


def unclaimed_notice(reference: str) -> str:
    return (
        "No one could pick up your conversation yet, so you're back with our "
        f"assistant: ask it anything. Your ticket {reference} stays open and a "
        "person will reply here."
    )


# --- the customer asks ------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """A person holds the conversation: the message is in the ticket's transcript."""

    reference: str


@dataclass(frozen=True)
class Returned:
    """The customer asked for the assistant and has it: `notice` answers them.

    `reference` is the ticket that held the conversation; None when nothing did
    (the assistant had it already).
    """

    reference: str | None
    withdrawn: bool  # nobody had claimed the ticket: it is resolved
    notice: str


ALREADY = Returned(None, False, ALREADY_NOTICE)


def route_customer_message(
    session: Session,
    conversation_id: str,
    text: str,
    *,
    now: dt.datetime | None = None,
) -> Held | Returned | None:
    """Where a customer's message goes; None: the assistant's model answers it.

    In a held conversation it goes to the person (`Held`), unless it asks for the
    assistant back (`Returned`). Asking for the assistant where it has the
    conversation already is answered here too (`ALREADY`).
    """
    now = now or utcnow()
    if asks_for_the_assistant(text):
        return customer_returns(session, conversation_id, text, now=now) or ALREADY
    ticket = handoff.receive_customer_message(session, conversation_id, text, now=now)
    return Held(ticket.reference) if ticket is not None else None


def may_divert(session: Session, conversation_id: str, text: str) -> bool:
    """Whether `route_customer_message` might take this message from the model.

    Reads only: it asks for the assistant, or a hold names the conversation.
    """
    return (
        asks_for_the_assistant(text)
        or handoff.held_ticket(session, conversation_id) is not None
    )


def customer_returns(
    session: Session,
    conversation_id: str,
    said: str,
    *,
    now: dt.datetime | None = None,
) -> Returned | None:
    """The customer asked for the assistant: release the hold and settle the ticket.

    `said` (their words, or the key they pressed) and the notice they get go to the
    transcript. None when no open ticket holds the conversation.
    """
    now = now or utcnow()
    ticket = handoff.held_ticket(session, conversation_id)
    if ticket is None:
        return None
    if ticket.status not in queue.OPEN_STATUSES:
        handoff.release(session, ticket)  # a hold that outlived its ticket
        return None
    ticket.messages.append(handoff.customer_line(said, now))
    withdrawn = _settle(session, ticket, now)
    handoff.release(session, ticket)
    reference = ticket.reference
    notice = withdrawn_notice(reference) if withdrawn else kept_notice(reference)
    # Answered on the customer's channel right away, not through delivery.py.
    ticket.messages.append(
        TicketMessage(
            sender=Sender.SYSTEM,
            text=notice,
            sent_at=now,
            delivery=Delivery.DELIVERED,
            attempts=1,
            delivered_at=now,
        )
    )
    session.flush()
    return Returned(reference, withdrawn, notice)


def released_ticket(session: Session, conversation_id: str) -> Ticket | None:
    """The conversation's latest handoff ticket once it no longer holds it.

    None while an open ticket holds the conversation, or if it was never handed off.
    """
    held = handoff.held_ticket(session, conversation_id)
    if held is not None and held.status in queue.OPEN_STATUSES:
        return None
    return session.scalars(
        select(Ticket)
        .where(Ticket.conversation_id == conversation_id, Ticket.handed_off.is_(True))
        .order_by(Ticket.id.desc())
        .limit(1)
    ).first()


def _settle(session: Session, ticket: Ticket, now: dt.datetime) -> bool:
    """Withdraw a request nobody took (True); a claimed one stays with its agent."""
    if ticket.status == S.NEW:
        try:
            queue.resolve(session, ticket, None, detail=WITHDRAWN, now=now)
            return True
        except queue.ConcurrentChange:
            pass  # an agent claimed it this very moment: it is theirs now
    if ticket.status == S.WAITING_ON_CUSTOMER:
        try:
            queue.transition(session, ticket, S.CLAIMED, None, detail=KEPT, now=now)
            return False
        except queue.InvalidTransition as exc:
            logger.info("ticket %s not moved back to claimed: %s", ticket.id, exc)
    queue.record_event(
        session, ticket, None, TicketEventKind.NOTE, detail=KEPT, now=now
    )
    return False


# --- nobody claimed it in time ----------------------------------------------------


@dataclass(frozen=True)
class Released:
    """A ticket whose conversation went back to the assistant unclaimed."""

    reference: str
    notice_id: int | None  # the notice queued for the customer (None: not texted)


def release_unclaimed(
    session: Session,
    unclaimed_for: dt.timedelta,
    *,
    secret: str,
    region: str = "US",
    now: dt.datetime | None = None,
) -> list[Released]:
    """Give the assistant back every conversation held longer by a new ticket.

    The ticket stays new in the queue; the customer is told by a notice stored for
    delivery (`handoff.notify`; callers are never texted unasked). Each hold is
    released by one conditional DELETE that still requires the ticket to be new, so
    a claim at the same moment keeps its hold, and two workers never both notify.
    """
    now = now or utcnow()
    cutoff = now - unclaimed_for
    due = list(
        session.scalars(
            select(ConversationHold.ticket_id)
            .join(Ticket, Ticket.id == ConversationHold.ticket_id)
            .where(ConversationHold.held_at <= cutoff, Ticket.status == S.NEW)
            .distinct()
            .order_by(ConversationHold.ticket_id)
            .limit(BATCH)
        )
    )
    released = []
    for ticket_id in due:
        still_new = (
            select(Ticket.id)
            .where(Ticket.id == ticket_id, Ticket.status == S.NEW)
            .exists()
        )
        result = session.execute(
            delete(ConversationHold)
            .where(
                ConversationHold.ticket_id == ticket_id,
                ConversationHold.held_at <= cutoff,
                still_new,
            )
            .execution_options(synchronize_session=False)
        )
        ticket = session.get(Ticket, ticket_id)
        if not result.rowcount or ticket is None:
            continue
        queue.record_event(
            session,
            ticket,
            None,
            TicketEventKind.NOTE,
            detail=(
                f"Nobody claimed the ticket within {describe_duration(unclaimed_for)}: "
                "the conversation went back to the assistant and the ticket stays in "
                "the queue; a reply holds the conversation again"
            ),
            now=now,
        )
        notice = None
        if handoff.may_text(session, ticket):
            notice = handoff.notify(
                session,
                ticket,
                unclaimed_notice(ticket.reference),
                secret=secret,
                region=region,
                now=now,
            )
        released.append(Released(ticket.reference, notice.id if notice else None))
    return released
