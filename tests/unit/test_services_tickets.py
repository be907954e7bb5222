import pytest
from sqlalchemy.orm import Session

from bot.models import Channel, Sender, TicketCategory, TicketPriority, TicketStatus
from bot.services import tickets
from bot.services.customers import find_by_email
from bot.services.orders import get_order


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("T-000123", "T-000123"), ("t000123", "T-000123"), ("t-123", "T-000123"),
     ("T 45", "T-000045"), ("123", None), ("X-000123", None), ("", None)],
)  # fmt: skip
def test_normalise_reference(raw: str, expected: str | None) -> None:
    assert tickets.normalise_reference(raw) == expected


def open_problem(session: Session, **kwargs: object) -> tickets.Ticket:
    request = tickets.TicketRequest(
        channel=Channel.WEB,
        category=TicketCategory.PROBLEM,
        subject="Lamp arrived broken",
        description="The lamp arrived with a cracked shade.",
        conversation_id="conv-1",
        transcript=(
            tickets.TranscriptLine(Sender.CUSTOMER, "my lamp arrived broken"),
            tickets.TranscriptLine(Sender.BOT, "I'm sorry to hear that."),
        ),
        **kwargs,  # type: ignore[arg-type]
    )
    return tickets.open_ticket(session, request)


def test_ticket_gets_sequential_readable_reference_and_transcript(
    session: Session,
) -> None:
    first = open_problem(session)
    second = open_problem(session)
    assert first.reference == f"T-{first.id:06d}"
    assert second.reference == f"T-{first.id + 1:06d}"
    assert [(m.sender, m.text) for m in first.messages] == [
        (Sender.CUSTOMER, "my lamp arrived broken"),
        (Sender.BOT, "I'm sorry to hear that."),
    ]
    assert first.status == TicketStatus.NEW


def test_vip_customers_get_high_priority(session: Session) -> None:
    # The queue's rules (bot/services/queue.py): VIP raises one level and a problem
    # report raises one more, so a VIP's problem is urgent.
    vip = find_by_email(session, "sam.lee@example.com")
    standard = find_by_email(session, "jane.doe@example.com")
    assert open_problem(session, customer=vip).priority == TicketPriority.URGENT
    assert open_problem(session, customer=standard).priority == TicketPriority.HIGH
    refund = tickets.TicketRequest(
        channel=Channel.WEB, category=TicketCategory.REFUND, subject="Refund"
    )
    refund.customer = vip
    assert tickets.open_ticket(session, refund).priority == TicketPriority.HIGH
    refund.customer = standard
    assert tickets.open_ticket(session, refund).priority == TicketPriority.NORMAL


def test_ticket_status_needs_matching_email_or_phone(session: Session) -> None:
    jane = find_by_email(session, "jane.doe@example.com")
    ticket = open_problem(session, customer=jane, order=get_order(session, "104257"))
    ref = ticket.reference
    assert tickets.find_verified_ticket(session, ref, email="jane.doe@example.com")
    assert tickets.find_verified_ticket(session, ref, phone="+14155550134")
    assert (
        tickets.find_verified_ticket(session, ref, email="sam.lee@example.com") is None
    )
    assert (
        tickets.find_verified_ticket(session, "T-999999", email="jane.doe@example.com")
        is None
    )


def test_anonymous_ticket_verified_by_its_contact(session: Session) -> None:
    ticket = open_problem(session, contact="visitor@example.com")
    assert tickets.find_verified_ticket(
        session, ticket.reference, email="Visitor@example.com"
    )
    assert tickets.status_sentence(ticket) == (
        f"Your ticket {ticket.reference} (Lamp arrived broken) is waiting for a member "
        "of our team."
    )


def test_tickets_for_order_by_category(session: Session) -> None:
    order = get_order(session, "104257")
    assert order is not None
    open_problem(session, order=order)
    assert len(tickets.tickets_for_order(session, order)) == 1
    assert tickets.tickets_for_order(session, order, TicketCategory.REFUND) == []
