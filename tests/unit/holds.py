"""A conversation a person holds, as the handoff action leaves it, for channel tests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Channel, Sender, Ticket, TicketCategory, TicketMessage
from bot.services import handoff
from bot.services import tickets as ticket_service


def hold_for_a_person(
    session: Session,
    conversation: str,
    channel: Channel = Channel.WEB,
    contact: str | None = None,
    now: dt.datetime | None = None,
) -> Ticket:
    """Open a handoff ticket for `conversation` and let it hold it (from `now`)."""
    ticket = ticket_service.open_ticket(
        session,
        ticket_service.TicketRequest(
            channel=channel,
            category=TicketCategory.HANDOFF,
            subject="handed off",
            conversation_id=conversation,
            contact=contact,
            handed_off=True,
        ),
    )
    handoff.hold(session, ticket, conversation, now=now)
    return ticket


def customer_lines(session: Session, ticket_id: int) -> list[str]:
    """What the customer wrote in the ticket's transcript, oldest first."""
    return list(
        session.scalars(
            select(TicketMessage.text)
            .where(
                TicketMessage.ticket_id == ticket_id,
                TicketMessage.sender == Sender.CUSTOMER,
            )
            .order_by(TicketMessage.id)
        )
    )
