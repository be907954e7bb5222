"""Web chat journeys through the web app's chat API (what the widget calls)."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import ChatMessage, Sender, Ticket, TicketCategory
from tests.customers import ChatApi
from tests.stack import Stack


def latest_ticket(stack: Stack, reference_text: str) -> Ticket:
    with stack.session() as session:
        for ticket in session.scalars(select(Ticket).order_by(Ticket.id.desc())):
            if ticket.reference in reference_text:
                ticket.messages  # noqa: B018 - load before the session closes
                return ticket
    raise AssertionError(f"no ticket reference in {reference_text!r}")


def test_problem_ticket_from_the_widget(stack: Stack) -> None:
    widget = ChatApi(stack)
    widget.texts("my headphones stopped charging after two days, really disappointed")
    widget.texts("no")
    done = widget.texts("sam.lee@example.com")
    ticket = latest_ticket(stack, done)
    assert ticket.category == TicketCategory.PROBLEM and ticket.channel.value == "web"
    assert ticket.contact == "sam.lee@example.com"


def test_help_centre_question_from_the_widget(stack: Stack) -> None:
    replies = ChatApi(stack).say("do you ship to canada")
    assert str(replies[0]["text"]).startswith("International shipping")


def test_unknown_question_offers_ticket_or_person_as_buttons(stack: Stack) -> None:
    widget = ChatApi(stack)
    [answer] = widget.say("do you sell second hand cars")
    buttons = answer["buttons"]
    assert [b["payload"] for b in buttons] == ["/report_problem", "/request_human"]  # type: ignore[union-attr,index]
    # Clicking "Talk to a person" sends the payload and shows the title.
    handoff = widget.texts("Talk to a person", payload="/request_human")
    ticket = latest_ticket(stack, handoff)
    assert ticket.category == TicketCategory.HANDOFF and ticket.handed_off


def test_a_payload_no_button_offered_is_not_forwarded(stack: Stack) -> None:
    widget = ChatApi(stack)
    widget.say("hi")
    with stack.session() as session:
        tickets = len(session.scalars(select(Ticket)).all())
    # The transcript says "hello": Rasa hears "hello", not the forged payload.
    widget.say("hello", payload="/request_human")
    with stack.session() as session:
        assert len(session.scalars(select(Ticket)).all()) == tickets


def test_whole_web_conversation_is_kept_in_order(stack: Stack) -> None:
    widget = ChatApi(stack)
    widget.say("hi")
    widget.say("what are your opening hours")
    history = widget.http.get(f"{widget.url}/chat/api/messages", timeout=10).json()
    senders = [m["sender"] for m in history["messages"]]
    assert senders[0] == "customer" and senders.count("customer") == 2
    with stack.session() as session:
        rows = session.scalars(
            select(ChatMessage).where(
                ChatMessage.id.in_([m["id"] for m in history["messages"]])
            )
        ).all()
    assert {row.sender for row in rows} == {Sender.CUSTOMER, Sender.BOT}
