"""Held conversations going back to the assistant, end to end.

The customer asks for it (web chat API, SMS, Rasa's REST channel through the hold
gate), or nobody claims the ticket within UNCLAIMED_HOLD_MINUTES and the worker
gives the conversation back. The phone queue's way back is covered by
tests/unit/test_voice_handoff.py: this stack has no agents' queue configured.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update

from bot import clock
from bot.models import (
    ConversationHold,
    Ticket,
    TicketEvent,
    TicketEventKind,
    TicketStatus,
)
from bot.services import back_to_bot
from tests.customers import ChatApi, fresh_number, text
from tests.e2e.console import Console, eventually, new_agent, reference_in
from tests.stack import Stack


def ticket_of(stack: Stack, reference: str) -> tuple[TicketStatus, list[str], bool]:
    """The ticket's status, its audit trail's details, and whether it holds a chat."""
    with stack.session() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.reference == reference)
        ).one()
        details = session.scalars(
            select(TicketEvent.detail)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.id)
        ).all()
        held = session.scalars(
            select(ConversationHold).where(ConversationHold.ticket_id == ticket.id)
        ).first()
        return ticket.status, list(details), held is not None


def test_a_web_chat_customer_nobody_answered_yet_gets_the_assistant_back(
    stack: Stack,
) -> None:
    chat = ChatApi(stack)
    handed = chat.post("I want to talk to a person")
    reference = reference_in([str(m["text"]) for m in handed["messages"]])
    assert chat.post("hello? anyone?")["held"] is True

    back = chat.post("back to the bot please")
    assert "held" not in back
    notice = back["messages"][1]
    assert notice["sender"] == "system"
    assert notice["text"] == back_to_bot.withdrawn_notice(reference)
    status, details, held = ticket_of(stack, reference)
    assert status == TicketStatus.RESOLVED and not held
    assert details[-1] == back_to_bot.WITHDRAWN

    # The assistant answers again (the NLU model, not the hold gate).
    answer = chat.post("where is my order 104257")
    assert [m["sender"] for m in answer["messages"]] == ["customer", "bot"]
    assert "email" in str(answer["messages"][1]["text"])


def test_a_texting_customer_leaves_the_agent_who_sees_it_live(stack: Stack) -> None:
    number = fresh_number()
    reference = reference_in(text(stack, "I want to talk to a person", number))
    name, email, password = new_agent(stack)
    console = Console(stack.web_url)
    console.sign_in(email, password)
    console.queued(reference)
    console.act(reference, "claim")
    assert console.ticket(reference)["ticket"]["held"] is True

    assert text(stack, "talk to the assistant", number) == [
        back_to_bot.kept_notice(reference)
    ]
    live = console.ticket(reference)
    assert live["ticket"]["held"] is False
    assert live["ticket"]["status"] == "claimed" and live["ticket"]["assignee"] == name
    lines = [(m["sender"], m["text"]) for m in live["messages"]]
    assert lines[-2:] == [
        ("customer", "talk to the assistant"),
        ("system", back_to_bot.kept_notice(reference)),
    ]
    assert text(stack, "what are your opening hours?", number) != []

    # The agent's reply takes the conversation over again.
    reply = f"Still need help? ({uuid.uuid4().hex[:6]})"
    console.act(reference, "reply", text=reply)
    eventually(lambda: [b for b in stack.twilio.bodies_to(number) if reply in b])
    assert text(stack, "yes please", number) == []
    console.customer_said(reference, "yes please")


def test_the_rest_channel_passes_the_same_gate(stack: Stack) -> None:
    sender = f"rest-{uuid.uuid4().hex}"
    reference = reference_in(stack.texts(sender, "can I talk to a human"))
    assert stack.say(sender, "is anybody there?") == []
    assert stack.texts(sender, "I'd rather talk to the bot") == [
        back_to_bot.withdrawn_notice(reference)
    ]
    assert stack.say(sender, "where is my order 104257") != []
    # Asked again with the assistant in charge: no handoff (the model's reading).
    assert stack.texts(sender, "talk to the assistant") == [back_to_bot.ALREADY_NOTICE]


def test_a_conversation_nobody_claimed_goes_back_and_the_customer_is_told(
    stack: Stack,
) -> None:
    number = fresh_number()
    reference = reference_in(text(stack, "I want to talk to a person", number))
    assert text(stack, "hello?", number) == []
    # Half an hour passes (UNCLAIMED_HOLD_MINUTES, 30 by default): the servers run
    # on the machine's clock, so the hold is dated back rather than waited for.
    with stack.session() as session, session.begin():
        session.execute(
            update(ConversationHold)
            .where(
                ConversationHold.ticket_id
                == select(Ticket.id)
                .where(Ticket.reference == reference)
                .scalar_subquery()
            )
            .values(held_at=clock.system_clock() - dt.timedelta(minutes=31))
            .execution_options(synchronize_session=False)
        )
    notice = back_to_bot.unclaimed_notice(reference)
    eventually(lambda: notice in stack.twilio.bodies_to(number), timeout=30)
    status, details, held = ticket_of(stack, reference)
    assert status == TicketStatus.NEW and not held  # still in the queue
    assert details[-1].startswith("Nobody claimed the ticket within 30 min")
    with stack.session() as session:
        kinds = session.scalars(
            select(TicketEvent.kind)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(Ticket.reference == reference)
        ).all()
        assert TicketEventKind.NOTE in kinds
    assert text(stack, "what are your opening hours?", number) != []
