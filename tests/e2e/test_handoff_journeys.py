"""Human handoff end to end.

A customer asks for a person, an agent takes over in the console, they talk on the
customer's channel, and the agent hands back to the bot.

Customers use the real widget in headless Chromium, or text through signed Twilio
webhooks; agents use the console over HTTP; outbound SMS go to the fake Twilio.
"""

from __future__ import annotations

import time
import uuid

from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import select

from bot.models import (
    ChatMessage,
    Delivery,
    Sender,
    Ticket,
    TicketEvent,
    TicketEventKind,
    TicketMessage,
    TicketStatus,
)
from tests.customers import fresh_number, text
from tests.e2e.browser import Widget, conversation_of
from tests.e2e.console import (
    REPLY_KEY,
    Console,
    eventually,
    new_agent,
    reference_in,
)
from tests.stack import Stack

SILENCE = 3.0  # how long to watch for a bot reply that must not come


def signed_in_console(stack: Stack) -> tuple[Console, str]:
    name, email, password = new_agent(stack)
    console = Console(stack.web_url)
    console.sign_in(email, password)
    return console, name


def test_web_chat_customer_is_helped_by_an_agent_and_handed_back(
    stack: Stack, browser: WebDriver
) -> None:
    browser.get(stack.web_url)
    widget = Widget(browser)
    widget.open()
    widget.say("I want to talk to a person")
    handoff = widget.wait_for("bot", "support team as ticket")
    reference = reference_in([handoff.text])

    # The ticket is in the queue with its transcript and summary.
    console, agent_name = signed_in_console(stack)
    row = console.queued(reference)
    assert row["status"] == "new" and row["channel"] == "web"
    assert "asked to talk to a person" in row["summary"]
    page = console.page(f"/console/tickets/{reference}")
    assert page.status_code == 200
    assert "I want to talk to a person" in page.text
    assert "Handed off because" in page.text

    # While nobody has answered, the bot stays silent and the agent sees the message.
    bot_lines = len(widget.messages("bot"))
    widget.say("Is anybody there?")
    console.customer_said(reference, "Is anybody there?")
    time.sleep(SILENCE)
    assert len(widget.messages("bot")) == bot_lines

    console.act(reference, "claim")
    reply = f"Hi, this is {agent_name}. How can I help? ({uuid.uuid4().hex[:6]})"
    console.act(reference, "reply", text=reply)
    pushed = widget.wait_for("agent", reply, timeout=20)
    assert agent_name in pushed.text

    widget.say("My lamp arrived broken")
    console.customer_said(reference, "My lamp arrived broken")
    time.sleep(SILENCE)
    assert len(widget.messages("bot")) == bot_lines

    console.act(reference, "resolve")
    widget.wait_for("system", f"{reference} is resolved", timeout=20)
    assert console.ticket(reference)["ticket"]["status"] == "resolved"

    # The bot answers the customer's next message again.
    widget.say("where is my order 104257")
    widget.wait_for("bot", "what's the email address on your account?")

    with stack.session() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.reference == reference)
        ).one()
        assert ticket.conversation_id == conversation_of(browser, stack)
        assert ticket.first_responded_at is not None
        lines = [(m.sender, m.text) for m in ticket.messages]
        assert (Sender.AGENT, reply) in lines
        assert (Sender.CUSTOMER, "My lamp arrived broken") in lines
        assert all(
            m.delivery == Delivery.DELIVERED
            for m in ticket.messages
            if m.sender in (Sender.AGENT, Sender.SYSTEM)
        )
        kinds = [e.kind for e in ticket.events]
        assert TicketEventKind.CLAIMED in kinds
        assert [e.to_status for e in ticket.events if e.to_status][-1] == (
            TicketStatus.RESOLVED
        )
        # The widget's transcript has the agent's reply marked as the agent's.
        widget_rows = session.scalars(
            select(ChatMessage).where(
                ChatMessage.conversation_id == ticket.conversation_id
            )
        ).all()
        assert any(r.sender == Sender.AGENT and r.text == reply for r in widget_rows)


def test_sms_customer_is_helped_by_an_agent_and_handed_back(stack: Stack) -> None:
    number = fresh_number()
    answer = text(stack, "I want to talk to a person", number)
    reference = reference_in(answer)
    assert any("A person will text you back" in line for line in answer)

    # Held: the bot answers nothing, the agent gets the message.
    assert text(stack, "hello? my parcel never came", number) == []
    console, agent_name = signed_in_console(stack)
    assert console.queued(reference)["channel"] == "sms"
    console.customer_said(reference, "hello? my parcel never came")

    console.act(reference, "claim")
    reply = f"Sorry about that! Which order is it? ({uuid.uuid4().hex[:6]})"
    key = REPLY_KEY.search(console.page(f"/console/tickets/{reference}").text)
    assert key is not None
    console.act(reference, "reply", text=reply, reply_key=key.group(1))
    sent = eventually(lambda: [b for b in stack.twilio.bodies_to(number) if reply in b])
    assert sent[0].startswith(agent_name)
    # The same form sent again (a double click) sends nothing more.
    console.act(reference, "reply", text=reply, reply_key=key.group(1))
    time.sleep(1)
    assert len([b for b in stack.twilio.bodies_to(number) if reply in b]) == 1

    assert text(stack, "order 104257", number) == []
    console.customer_said(reference, "order 104257")

    console.act(reference, "resolve")
    eventually(
        lambda: [b for b in stack.twilio.bodies_to(number) if "is resolved" in b]
    )
    # Back with the bot: it answers again.
    assert text(stack, "what are your opening hours?", number) != []


def test_undelivered_sms_reply_is_kept_marked_and_retried(stack: Stack) -> None:
    number = fresh_number()
    reference = reference_in(text(stack, "I want to talk to a person", number))
    console, _ = signed_in_console(stack)
    console.queued(reference)
    console.act(reference, "claim")

    stack.twilio.fail_next = 1  # Twilio is down for the next send
    reply = f"Checking your order now ({uuid.uuid4().hex[:6]})."
    console.act(reference, "reply", text=reply)
    undelivered = console.ticket(reference)["undelivered"]
    assert [m["text"] for m in undelivered] == [reply]
    assert undelivered[0]["delivery"] == "pending" and undelivered[0]["last_error"]
    assert "undelivered" in console.page(f"/console/tickets/{reference}").text.lower()

    # The worker sends it once Twilio is back.
    eventually(lambda: reply in " ".join(stack.twilio.bodies_to(number)), timeout=60)
    eventually(lambda: console.ticket(reference)["undelivered"] == [], timeout=10)
    with stack.session() as session:
        message = session.scalars(
            select(TicketMessage).where(TicketMessage.text == reply)
        ).one()
        assert message.delivery == Delivery.DELIVERED and message.attempts == 2


def test_return_to_bot_without_resolving(stack: Stack) -> None:
    number = fresh_number()
    reference = reference_in(text(stack, "I want to talk to a person", number))
    console, _ = signed_in_console(stack)
    console.queued(reference)
    console.act(reference, "claim")
    console.act(reference, "return")
    eventually(
        lambda: [b for b in stack.twilio.bodies_to(number) if "back with our" in b]
    )
    assert text(stack, "what are your opening hours?", number) != []
    with stack.session() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.reference == reference)
        ).one()
        assert ticket.status == TicketStatus.CLAIMED
        notes = session.scalars(
            select(TicketEvent.detail).where(
                TicketEvent.ticket_id == ticket.id,
                TicketEvent.kind == TicketEventKind.NOTE,
            )
        ).all()
        assert any("handed back to the assistant" in note for note in notes)
