import pytest
from sqlalchemy.orm import Session

from bot.models import Channel, Sender, TicketCategory, TicketPriority, TicketStatus
from bot.services import tickets
from bot.services.customers import find_by_email
from bot.services.orders import get_order


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("T-000123", "T-000123"), ("t000123", "T-000123"), ("t-123", "T-000123"),
     ("T 45", "T-000045"), ("123", None), ("X-000123", None), ("", None),
     ("T-7K4M9Q", "T-7K4M9Q"), ("t7k4m9q", "T-7K4M9Q"), ("T-7K4 M9Q", "T-7K4M9Q"),
     ("T-ABCDEF", None), ("T-7K4M9O", None), ("T-7K4M9", None)],
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


def test_ticket_gets_random_readable_reference_and_transcript(
    session: Session,
) -> None:
    first = open_problem(session)
    second = open_problem(session)
    assert tickets.normalise_reference(first.reference) == first.reference
    assert first.reference.startswith("T-") and len(first.reference) == 8
    assert first.reference[2:].isalnum() and not first.reference[2:].isdigit()
    assert tickets.get_ticket(session, second.reference) is second
    assert [(m.sender, m.text) for m in first.messages] == [
        (Sender.CUSTOMER, "my lamp arrived broken"),
        (Sender.BOT, "I'm sorry to hear that."),
    ]
    assert first.status == TicketStatus.NEW


def test_references_are_not_sequential() -> None:
    # The attack: knowing your own ticket's reference, guess your neighbour's.
    drawn = {tickets.new_reference() for _ in range(2000)}
    assert len(drawn) == 2000
    assert all(tickets.normalise_reference(r) == r for r in drawn)
    assert not any(r[2:].isdigit() for r in drawn)  # never mistaken for an old one
    assert set("".join(r[2:] for r in drawn)) == set(tickets.REFERENCE_ALPHABET)


def test_a_colliding_reference_is_drawn_again(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = open_problem(session).reference
    draws = iter([taken, taken, "T-22222A"])
    monkeypatch.setattr(tickets, "new_reference", lambda: next(draws))
    ticket = open_problem(session)
    assert ticket.reference == "T-22222A"
    assert tickets.get_ticket(session, taken) is not ticket


def test_old_sequential_references_still_resolve(session: Session) -> None:
    ticket = open_problem(session, contact="visitor@example.com")
    ticket.reference = "T-000123"  # as tickets were numbered before
    session.flush()
    canonical = tickets.normalise_reference("t-123")
    assert canonical == "T-000123"
    assert (
        tickets.find_verified_ticket(session, canonical, email="visitor@example.com")
        is ticket
    )


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
