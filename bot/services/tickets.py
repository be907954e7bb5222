"""Tickets: creation with a quotable reference, transcripts and verified status."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import (
    Channel,
    Customer,
    Order,
    Sender,
    Ticket,
    TicketCategory,
    TicketMessage,
    TicketStatus,
)
from bot.services import priority

# References are random: knowing one ticket's reference tells nothing about another's.
# No 0/O, 1/I/L or U, so a reference read aloud or copied by hand survives.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 6
# Old tickets keep their sequential references (T-000123); new ones always mix
# letters and digits (T-7K4M9Q), so the two forms never overlap.
OLD_REFERENCE_RE = re.compile(r"^T-?(\d{1,9})$", re.IGNORECASE)
REFERENCE_RE = re.compile(
    rf"^T-?((?=[{REFERENCE_ALPHABET}]*\d)(?=[{REFERENCE_ALPHABET}]*[A-Z])"
    rf"[{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}})$"
)
MAX_REFERENCE_TRIES = 8

STATUS_WORDS = {
    TicketStatus.NEW: "is waiting for a member of our team",
    TicketStatus.CLAIMED: "is being handled by a member of our team",
    TicketStatus.WAITING_ON_CUSTOMER: "is waiting for a reply from you",
    TicketStatus.RESOLVED: "has been resolved",
    TicketStatus.CLOSED: "is closed",
}


def format_reference(ticket_id: int) -> str:
    """The old, sequential reference of a ticket id: 123 -> "T-000123"."""
    return f"T-{ticket_id:06d}"


def new_reference() -> str:
    """A random reference with letters and digits, e.g. "T-7K4M9Q"."""
    while True:
        code = "".join(
            secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH)
        )
        if REFERENCE_RE.match(f"T-{code}"):
            return f"T-{code}"


def normalise_reference(raw: str | None) -> str | None:
    """Canonical reference ("t123" -> "T-000123", "t7k4m9q" -> "T-7K4M9Q"), or None."""
    if not raw:
        return None
    text = raw.strip().replace(" ", "").upper()
    match = REFERENCE_RE.match(text)
    if match:
        return f"T-{match.group(1)}"
    old = OLD_REFERENCE_RE.match(text)
    return format_reference(int(old.group(1))) if old else None


@dataclass(frozen=True)
class TranscriptLine:
    sender: Sender
    text: str


@dataclass
class TicketRequest:
    """Everything needed to open a ticket."""

    channel: Channel
    category: TicketCategory
    subject: str
    description: str = ""
    customer: Customer | None = None
    order: Order | None = None
    conversation_id: str | None = None
    contact: str | None = None
    handed_off: bool = False
    transcript: tuple[TranscriptLine, ...] = ()


def open_ticket(session: Session, request: TicketRequest) -> Ticket:
    """Create a ticket with a random reference (T-7K4M9Q) and queue it."""
    ticket = Ticket(
        channel=request.channel,
        category=request.category,
        subject=request.subject[:200],
        description=request.description,
        customer=request.customer,
        order=request.order,
        conversation_id=request.conversation_id,
        contact=request.contact,
        handed_off=request.handed_off,
    )
    _insert_with_unique_reference(session, ticket)
    # Computed priority and reason, first-response due time, `created` audit row.
    priority.prioritise_new_ticket(session, ticket)
    add_transcript(ticket, request.transcript)
    session.flush()
    return ticket


def _insert_with_unique_reference(session: Session, ticket: Ticket) -> None:
    """Insert `ticket` under a fresh random reference, drawing again on a collision."""
    for _ in range(MAX_REFERENCE_TRIES):
        ticket.reference = new_reference()
        try:
            # A savepoint: a collision must not abort the caller's transaction (the
            # rollback takes the ticket out of the session again).
            with session.begin_nested():
                session.add(ticket)
                session.flush()
            return
        except IntegrityError:
            if get_ticket(session, ticket.reference) is None:
                raise  # another constraint failed: drawing again won't help
    raise RuntimeError("no free ticket reference after several tries")


def add_transcript(ticket: Ticket, lines: Iterable[TranscriptLine]) -> None:
    """Append conversation lines to a ticket's transcript."""
    for line in lines:
        if line.text.strip():
            ticket.messages.append(TicketMessage(sender=line.sender, text=line.text))


def get_ticket(session: Session, reference: str) -> Ticket | None:
    """The ticket with this canonical reference."""
    return session.scalars(select(Ticket).where(Ticket.reference == reference)).first()


def find_verified_ticket(
    session: Session,
    reference: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    customer_id: int | None = None,
) -> Ticket | None:
    """The ticket only if email/phone/signed-in customer matches its customer or contact.

    Unknown references and wrong pairs are indistinguishable (None).
    """
    ticket = get_ticket(session, reference)
    if ticket is None:
        return None
    if customer_id is not None and ticket.customer_id == customer_id:
        return ticket
    known: set[str] = set()
    if ticket.customer is not None:
        known.add(ticket.customer.email)
        if ticket.customer.phone:
            known.add(ticket.customer.phone)
    if ticket.contact:
        known.add(ticket.contact.strip().lower())
    if email and email.strip().lower() in known:
        return ticket
    if phone and phone in known:
        return ticket
    return None


def status_sentence(ticket: Ticket) -> str:
    """Plain wording of a ticket's status for the customer."""
    return (
        f"Your ticket {ticket.reference} ({ticket.subject}) "
        f"{STATUS_WORDS[ticket.status]}."
    )


def open_tickets_for_conversation(
    session: Session, conversation_id: str
) -> list[Ticket]:
    """Tickets of this conversation that are not resolved or closed."""
    return list(
        session.scalars(
            select(Ticket).where(
                Ticket.conversation_id == conversation_id,
                Ticket.status.not_in([TicketStatus.RESOLVED, TicketStatus.CLOSED]),
            )
        )
    )


def tickets_for_order(
    session: Session, order: Order, category: TicketCategory | None = None
) -> list[Ticket]:
    """Tickets about `order`, oldest first, optionally of one category."""
    query = select(Ticket).where(Ticket.order_id == order.id).order_by(Ticket.id)
    if category is not None:
        query = query.where(Ticket.category == category)
    return list(session.scalars(query))
