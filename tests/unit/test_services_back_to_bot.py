"""Held conversations going back to the assistant: on request, and when unclaimed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.models import (
    Channel,
    ConversationHold,
    Delivery,
    Sender,
    Ticket,
    TicketEventKind,
    TicketStatus,
)
from bot.services import back_to_bot, handoff, queue
from bot.services.back_to_bot import Held, Released, Returned
from bot.services.messaging import sms_conversation_id
from tests.unit.holds import hold_for_a_person
from tests.unit.queue_setup import Team

S = TicketStatus
SECRET = "back-to-bot-secret"
T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.timezone.utc)
MIN = dt.timedelta(minutes=1)
WEB = "web-back-to-bot"
PHONE = "+14155550134"


def lines(ticket: Ticket) -> list[tuple[Sender, str]]:
    return [(m.sender, m.text) for m in ticket.messages]


def trail(session: Session, ticket: Ticket) -> list[tuple[TicketEventKind, str]]:
    """The audit trail after the ticket was opened: kind and detail."""
    return [(e.kind, e.detail) for e in queue.events(session, ticket)][1:]


def route(session: Session, text: str, conversation: str = WEB) -> object:
    return back_to_bot.route_customer_message(session, conversation, text, now=T0)


# --- the customer asks ------------------------------------------------------------


def test_a_held_message_goes_to_the_person(session: Session) -> None:
    ticket = hold_for_a_person(session, WEB)
    assert route(session, "is anybody there?") == Held(ticket.reference)
    assert lines(ticket) == [(Sender.CUSTOMER, "is anybody there?")]
    assert handoff.held_ticket(session, WEB) == ticket


def test_a_conversation_nobody_holds_goes_to_the_assistant(session: Session) -> None:
    assert route(session, "hello") is None
    # Asking for it anyway is answered here: the model would hand off to a person.
    assert route(session, "back to the bot") == back_to_bot.ALREADY
    assert back_to_bot.ALREADY.reference is None
    assert back_to_bot.ALREADY.notice == back_to_bot.ALREADY_NOTICE


def test_may_divert_says_yes_to_what_routing_might_divert(
    session: Session,
) -> None:
    """The hold gate's read: anything route_customer_message might divert says yes."""
    assert not back_to_bot.may_divert(session, WEB, "hello")
    assert back_to_bot.may_divert(session, WEB, "back to the bot")
    hold_for_a_person(session, WEB)
    assert back_to_bot.may_divert(session, WEB, "hello")
    assert not back_to_bot.may_divert(session, "web-someone-else", "hello")
    assert not session.new and not session.dirty  # nothing written


def test_asking_before_anyone_claimed_it_withdraws_the_request(
    session: Session,
) -> None:
    ticket = hold_for_a_person(session, WEB)
    returned = route(session, "Talk to the assistant, please")
    notice = back_to_bot.withdrawn_notice(ticket.reference)
    assert returned == Returned(ticket.reference, withdrawn=True, notice=notice)
    assert ticket.reference in notice and "withdrawn" in notice
    assert ticket.status == S.RESOLVED and ticket.assigned_agent_id is None
    assert handoff.held_ticket(session, WEB) is None
    # Nothing is lost: the words and the notice are in the transcript.
    assert lines(ticket) == [
        (Sender.CUSTOMER, "Talk to the assistant, please"),
        (Sender.SYSTEM, notice),
    ]
    assert ticket.messages[-1].delivery == Delivery.DELIVERED
    [(kind, detail)] = trail(session, ticket)
    assert (kind, detail) == (TicketEventKind.STATUS_CHANGED, back_to_bot.WITHDRAWN)
    event = queue.events(session, ticket)[-1]
    assert event.actor_agent_id is None and event.from_status == S.NEW
    # The assistant answers the next message.
    assert route(session, "where is my order 104257") is None


def test_a_claimed_ticket_stays_with_its_agent(session: Session, team: Team) -> None:
    ticket = hold_for_a_person(session, WEB)
    assert queue.claim(session, ticket.id, team.alice, now=T0)
    returned = route(session, "back to the bot")
    assert returned == Returned(
        ticket.reference, False, back_to_bot.kept_notice(ticket.reference)
    )
    session.refresh(ticket)
    assert ticket.status == S.CLAIMED and ticket.assigned_agent_id == team.alice.id
    assert handoff.held_ticket(session, WEB) is None
    assert trail(session, ticket)[-1] == (TicketEventKind.NOTE, back_to_bot.KEPT)
    assert lines(ticket)[-1] == (
        Sender.SYSTEM,
        back_to_bot.kept_notice(ticket.reference),
    )
    # The agent's reply takes the conversation over again.
    handoff.reply(session, ticket, team.alice, "Still there?", secret=SECRET, now=T0)
    assert handoff.held_ticket(session, WEB) == ticket
    assert route(session, "yes") == Held(ticket.reference)


def test_a_ticket_waiting_on_the_customer_goes_back_to_its_agent(
    session: Session, team: Team
) -> None:
    ticket = hold_for_a_person(session, WEB)
    queue.claim(session, ticket.id, team.alice, now=T0)
    queue.wait_on_customer(session, ticket, team.alice, now=T0)
    returned = route(session, "I'd rather talk to the bot")
    assert isinstance(returned, Returned) and not returned.withdrawn
    session.refresh(ticket)
    assert ticket.status == S.CLAIMED and ticket.assigned_agent_id == team.alice.id
    assert trail(session, ticket)[-1] == (
        TicketEventKind.STATUS_CHANGED,
        back_to_bot.KEPT,
    )


def test_a_claim_at_the_same_moment_keeps_the_ticket_with_the_agent(
    session: Session, team: Team
) -> None:
    ticket = hold_for_a_person(session, WEB)
    assert ticket.status == S.NEW  # what this session saw
    # Another agent's claim commits after that, behind this session's back.
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id)
        .values(status=S.CLAIMED, assigned_agent_id=team.bob.id)
        .execution_options(synchronize_session=False)
    )
    returned = route(session, "back to the assistant")
    assert isinstance(returned, Returned) and not returned.withdrawn
    assert ticket.status == S.CLAIMED and ticket.assigned_agent_id == team.bob.id
    assert handoff.held_ticket(session, WEB) is None


def test_a_hold_left_by_a_closed_ticket_is_no_hold(session: Session) -> None:
    ticket = hold_for_a_person(session, WEB)
    queue.resolve(session, ticket, None, now=T0)
    assert route(session, "back to the bot") == back_to_bot.ALREADY
    assert session.get(ConversationHold, WEB) is None
    assert lines(ticket) == []


# --- nobody claimed it in time ----------------------------------------------------


def release(session: Session, at: dt.datetime) -> list[Released]:
    return back_to_bot.release_unclaimed(session, 30 * MIN, secret=SECRET, now=at)


def test_an_unclaimed_conversation_goes_back_after_the_time_and_stays_queued(
    session: Session, team: Team
) -> None:
    conversation = sms_conversation_id(PHONE, SECRET)
    ticket = hold_for_a_person(session, conversation, Channel.SMS, PHONE, now=T0)
    assert release(session, T0 + 29 * MIN) == []
    assert handoff.held_ticket(session, conversation) == ticket

    [released] = release(session, T0 + 30 * MIN)
    assert handoff.held_ticket(session, conversation) is None
    assert ticket.status == S.NEW  # an agent still answers it
    [notice] = [m for m in ticket.messages if m.sender == Sender.SYSTEM]
    assert released == Released(ticket.reference, notice.id)
    assert notice.text == back_to_bot.unclaimed_notice(ticket.reference)
    assert "No one could pick up" in notice.text and ticket.reference in notice.text
    # Stored first, then delivered (and retried) like an agent's reply.
    assert notice.delivery == Delivery.PENDING
    assert notice.next_attempt_at == T0 + 30 * MIN
    [(kind, detail)] = trail(session, ticket)
    assert kind == TicketEventKind.NOTE
    assert detail.startswith("Nobody claimed the ticket within 30 min")
    assert release(session, T0 + 90 * MIN) == []  # once

    # An agent who claims it later and replies holds the conversation again.
    assert queue.claim(session, ticket.id, team.alice, now=T0 + 95 * MIN)
    handoff.reply(session, ticket, team.alice, "Sorry for the wait!", secret=SECRET)
    assert handoff.held_ticket(session, conversation) == ticket


def test_claimed_tickets_keep_their_conversation(session: Session, team: Team) -> None:
    ticket = hold_for_a_person(session, WEB, now=T0)
    queue.claim(session, ticket.id, team.alice, now=T0 + MIN)
    assert release(session, T0 + 10 * 60 * MIN) == []
    assert handoff.held_ticket(session, WEB) == ticket


def test_a_caller_is_not_texted_out_of_the_blue(session: Session) -> None:
    ticket = hold_for_a_person(session, "voice:CA1", Channel.VOICE, PHONE, now=T0)
    assert release(session, T0 + 31 * MIN) == [Released(ticket.reference, None)]
    assert handoff.held_ticket(session, "voice:CA1") is None
    assert ticket.messages == []


def test_released_ticket_tells_a_released_hold_from_one_never_made(
    session: Session,
) -> None:
    assert back_to_bot.released_ticket(session, WEB) is None  # never handed off
    ticket = hold_for_a_person(session, WEB, now=T0)
    assert back_to_bot.released_ticket(session, WEB) is None  # still held
    release(session, T0 + 30 * MIN)
    assert back_to_bot.released_ticket(session, WEB) == ticket
