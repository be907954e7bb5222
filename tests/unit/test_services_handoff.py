"""Human handoff: holding conversations, the context and summary, replies, handing back."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from bot.models import (
    Agent,
    AgentRole,
    Channel,
    ConversationHold,
    Customer,
    Delivery,
    Sender,
    Ticket,
    TicketCategory,
    TicketEventKind,
    TicketMessage,
    TicketStatus,
)
from bot.services import handoff, queue, tickets
from bot.services.customers import find_by_email
from bot.services.handoff import HandoffContext, ReplyError
from bot.services.messaging import sms_conversation_id
from bot.services.orders import get_order

S = TicketStatus
SECRET = "handoff-secret"
T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.timezone.utc)
MIN = dt.timedelta(minutes=1)
JANE_PHONE = "+14155550134"


@dataclass
class Team:
    alice: Agent
    bob: Agent
    sue: Agent  # supervisor


@pytest.fixture
def team(session: Session) -> Team:
    def agent(name: str, role: AgentRole = AgentRole.AGENT) -> Agent:
        member = Agent(
            name=name,
            email=f"{name.lower()}@support.example.com",
            password_hash="not-used-here",
            role=role,
        )
        session.add(member)
        return member

    members = Team(agent("Alice"), agent("Bob"), agent("Sue", AgentRole.SUPERVISOR))
    session.flush()
    return members


def jane(session: Session) -> Customer:
    customer = find_by_email(session, "jane.doe@example.com")
    assert customer is not None
    return customer


def sam(session: Session) -> Customer:  # VIP
    customer = find_by_email(session, "sam.lee@example.com")
    assert customer is not None
    return customer


def handed_off(
    session: Session,
    channel: Channel = Channel.WEB,
    *,
    conversation: str | None = "web-conversation-1",
    contact: str | None = None,
    customer: Customer | None = None,
) -> Ticket:
    return tickets.open_ticket(
        session,
        tickets.TicketRequest(
            channel=channel,
            category=TicketCategory.HANDOFF,
            subject="Conversation handed off to a person",
            customer=customer,
            conversation_id=conversation,
            contact=contact,
            handed_off=True,
            transcript=(tickets.TranscriptLine(Sender.CUSTOMER, "a person please"),),
        ),
    )


def reply(
    session: Session, ticket: Ticket, agent: Agent, text: str = "Hi, I'm here."
) -> TicketMessage:
    return handoff.reply(session, ticket, agent, text, secret=SECRET, now=T0)


# --- the context and the summary -----------------------------------------------------


FULL = HandoffContext(
    reason="Customer asked to talk to a person.",
    intent="order_status",
    confidence=0.87,
    entities={"order_number": "104257", "email": "jane.doe@example.com"},
    last_message="where is my order 104257",
    verified=True,
    customer_messages=3,
)


def test_context_json_round_trip() -> None:
    assert HandoffContext.from_json(FULL.to_json()) == FULL
    minimal = HandoffContext(reason="r")
    assert HandoffContext.from_json(minimal.to_json()) == minimal


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "[]",
        "42",
        '"text"',
        "{}",
        '{"reason": 5}',
        "{'reason': 1}",
    ],
)
def test_unreadable_context_is_none(raw: str | None) -> None:
    assert HandoffContext.from_json(raw) is None


def test_garbage_fields_are_dropped_not_trusted() -> None:
    raw = json.dumps(
        {
            "reason": "r",
            "intent": ["order_status"],
            "confidence": "high",
            "entities": {"order_number": 104257, "email": {"x": 1}, "name": None},
            "last_message": 7,
            "verified": "yes",
            "customer_messages": "many",
        }
    )
    assert HandoffContext.from_json(raw) == HandoffContext(
        reason="r", entities={"order_number": "104257"}
    )
    for weird, expected in (("NaN", None), ("Infinity", None), ("2.5", 1.0)):
        parsed = HandoffContext.from_json(f'{{"reason": "r", "confidence": {weird}}}')
        assert parsed is not None and parsed.confidence == expected
    parsed = HandoffContext.from_json(
        '{"reason": "r", "entities": [1], "customer_messages": -3}'
    )
    assert parsed == HandoffContext(reason="r")


def test_summary_of_a_known_verified_customer(session: Session) -> None:
    ticket = handed_off(session, customer=jane(session))
    ticket.order = get_order(session, "104257")
    summary = handoff.summarise(ticket, FULL)
    assert summary == (
        "Jane Doe (jane.doe@example.com, verified) wrote on web chat (3 messages). "
        "The assistant understood: order status, 87% sure. "
        "Order 104257 is shipped. "
        "Last message: “where is my order 104257”. "
        "Handed off because: Customer asked to talk to a person."
    )


def test_summary_of_a_vip_and_of_unknown_customers(session: Session) -> None:
    vip = handed_off(session, Channel.SMS, customer=sam(session))
    context = HandoffContext(reason="r", customer_messages=1)
    assert handoff.summarise(vip, context).startswith(
        "Sam Lee (sam.lee@example.com, VIP) wrote on SMS (1 message)."
    )
    texting = handed_off(session, Channel.SMS, contact="+14155550999")
    unverified = HandoffContext(
        reason="The assistant could not understand the customer twice in a row.",
        intent="nlu_fallback",
        confidence=0.2,
        entities={"order_number": "999999", "ticket_reference": "T-000042"},
        last_message="  blorp\n  zzzt  ",
        customer_messages=2,
    )
    assert handoff.summarise(texting, unverified) == (
        "An unverified customer (+14155550999) wrote on SMS (2 messages). "
        "Mentioned order 999999 (not verified). Mentioned ticket T-000042. "
        "Last message: “blorp zzzt”. "
        "Handed off because: The assistant could not understand the customer twice "
        "in a row."
    )
    caller = handed_off(session, Channel.VOICE, conversation="voice:CA1")
    assert handoff.summarise(caller, HandoffContext(reason="r")).startswith(
        "An anonymous visitor wrote on phone (0 messages)."
    )


def test_a_long_last_message_is_shortened(session: Session) -> None:
    context = HandoffContext(reason="r", last_message="word " * 100)
    summary = handoff.summarise(handed_off(session), context)
    quoted = summary.split("Last message: ")[1].split(". Handed off")[0]
    assert len(quoted) == 122 and quoted.endswith("…”")


def test_record_context_stores_json_and_summary(session: Session) -> None:
    ticket = handed_off(session, customer=jane(session))
    handoff.record_context(ticket, FULL)
    session.flush()
    session.expire(ticket)
    assert HandoffContext.from_json(ticket.context) == FULL
    assert ticket.summary == handoff.summarise(ticket, FULL)


# --- the handoff ticket -------------------------------------------------------------


def request(conversation: str, contact: str | None = None) -> tickets.TicketRequest:
    return tickets.TicketRequest(
        channel=Channel.VOICE,
        category=TicketCategory.HANDOFF,
        subject="Call handed off to a person",
        conversation_id=conversation,
        contact=contact,
        handed_off=True,
    )


def test_one_handoff_ticket_per_conversation(session: Session) -> None:
    first = handoff.ensure_ticket(
        session, "voice:CA1", lambda: request("voice:CA1", JANE_PHONE)
    )
    asked = [tickets.TranscriptLine(Sender.SYSTEM, "Customer asked again.")]
    again = handoff.ensure_ticket(
        session, "voice:CA1", lambda: pytest.fail("not opened twice"), again=asked
    )
    assert again is first and first.contact == JANE_PHONE
    assert [m.text for m in first.messages] == ["Customer asked again."]
    other = handoff.ensure_ticket(session, "voice:CA2", lambda: request("voice:CA2"))
    assert other is not first


def test_a_reused_ticket_gets_a_contact_only_when_it_has_none(session: Session) -> None:
    ticket = handed_off(session, Channel.VOICE, conversation="voice:CA3")
    assert ticket.contact is None
    handoff.ensure_ticket(session, "voice:CA3", lambda: request(""), contact="+1")
    handoff.ensure_ticket(session, "voice:CA3", lambda: request(""), contact="+2")
    assert ticket.contact == "+1"


def test_a_resolved_ticket_is_not_reused(session: Session) -> None:
    ticket = handed_off(session, Channel.VOICE, conversation="voice:CA4")
    ticket.status = S.RESOLVED
    session.flush()
    new = handoff.ensure_ticket(session, "voice:CA4", lambda: request("voice:CA4"))
    assert new is not ticket


# --- holding a conversation ------------------------------------------------------------


def test_hold_release_and_held_ticket(session: Session) -> None:
    ticket = handed_off(session)
    assert handoff.held_ticket(session, "web-conversation-1") is None
    handoff.hold(session, ticket, "web-conversation-1", now=T0)
    handoff.hold(session, ticket, "sms-other")
    assert handoff.held_ticket(session, "web-conversation-1") == ticket
    assert sorted(handoff.held_conversations(session, ticket)) == [
        "sms-other",
        "web-conversation-1",
    ]
    hold = session.get(ConversationHold, "web-conversation-1")
    assert hold is not None and hold.held_at == T0
    assert handoff.release(session, ticket) == 2
    assert handoff.held_ticket(session, "web-conversation-1") is None
    assert handoff.release(session, ticket) == 0


def test_holding_again_keeps_one_holder_and_refuses_a_second_open_ticket(
    session: Session,
) -> None:
    first, second = handed_off(session), handed_off(session)
    handoff.hold(session, first, "web-conversation-1")
    handoff.hold(session, first, "web-conversation-1")  # again: no change
    with pytest.raises(handoff.ConversationTaken, match=first.reference):
        handoff.hold(session, second, "web-conversation-1")
    session.flush()
    assert handoff.held_ticket(session, "web-conversation-1") == first
    assert handoff.held_conversations(session, second) == []


def test_messages_of_a_conversation_that_is_not_held_go_to_the_bot(
    session: Session,
) -> None:
    ticket = handed_off(session)
    assert handoff.receive_customer_message(session, "web-conversation-1", "hi") is None
    assert [m.text for m in ticket.messages] == ["a person please"]


def test_messages_of_a_held_conversation_go_to_the_ticket(session: Session) -> None:
    ticket = handed_off(session)
    handoff.hold(session, ticket, "web-conversation-1")
    got = handoff.receive_customer_message(
        session, "web-conversation-1", "still there?", now=T0
    )
    assert got == ticket
    line = ticket.messages[-1]
    assert (line.sender, line.text, line.sent_at, line.delivery) == (
        Sender.CUSTOMER,
        "still there?",
        T0,
        None,
    )
    assert ticket.updated_at == T0 and ticket.status == S.NEW
    long = handoff.receive_customer_message(session, "web-conversation-1", "x" * 5000)
    assert long is not None
    assert len(ticket.messages[-1].text) == handoff.MAX_CUSTOMER_MESSAGE_LENGTH


def test_the_customer_answering_gives_a_waiting_ticket_back_to_its_agent(
    session: Session, team: Team
) -> None:
    ticket = handed_off(session)
    reply(session, ticket, team.alice)
    queue.wait_on_customer(session, ticket, team.alice, now=T0)
    assert handoff.receive_customer_message(
        session, "web-conversation-1", "here is the photo", now=T0 + MIN
    )
    assert ticket.status == S.CLAIMED and ticket.assigned_agent_id == team.alice.id
    change = queue.events(session, ticket)[-1]
    assert (change.from_status, change.to_status, change.actor_agent_id) == (
        S.WAITING_ON_CUSTOMER,
        S.CLAIMED,
        None,
    )
    assert change.detail == "the customer answered"


def test_a_message_is_kept_when_the_ticket_cannot_go_back_to_claimed(
    session: Session, team: Team
) -> None:
    """Nobody to give it back to (or changed meanwhile): the message still counts."""
    ticket = handed_off(session)
    reply(session, ticket, team.alice)
    queue.wait_on_customer(session, ticket, team.alice)
    ticket.assigned_agent_id = None  # e.g. the agent was unassigned meanwhile
    session.flush()
    got = handoff.receive_customer_message(session, "web-conversation-1", "hello?")
    assert got == ticket and ticket.messages[-1].text == "hello?"
    assert ticket.status == S.WAITING_ON_CUSTOMER


def test_a_hold_that_outlived_its_ticket_is_dropped(
    session: Session, team: Team
) -> None:
    ticket = handed_off(session)
    handoff.hold(session, ticket, "web-conversation-1")
    queue.resolve(session, ticket, team.alice)
    assert handoff.receive_customer_message(session, "web-conversation-1", "hi") is None
    assert session.get(ConversationHold, "web-conversation-1") is None


# --- where replies go ---------------------------------------------------------------


def test_destinations(session: Session) -> None:
    web = handoff.destination(handed_off(session), SECRET)
    assert web == handoff.Destination(
        Channel.WEB, "web-conversation-1", "web-conversation-1"
    )
    assert web.describe() == "the web chat"
    assert handoff.destination(handed_off(session, conversation=None), SECRET) is None
    texting = handed_off(
        session, Channel.SMS, conversation="x", contact="(415) 555-0134"
    )
    sms = handoff.destination(texting, SECRET)
    assert sms == handoff.Destination(
        Channel.SMS, JANE_PHONE, sms_conversation_id(JANE_PHONE, SECRET)
    )
    assert sms.describe() == f"SMS to {JANE_PHONE}"
    # A known customer's own number when the contact is an email address.
    known = handed_off(
        session, Channel.SMS, contact="jane.doe@example.com", customer=jane(session)
    )
    assert handoff.destination(known, SECRET) == sms
    withheld = handed_off(session, Channel.VOICE, conversation="voice:CA1")
    assert handoff.destination(withheld, SECRET) is None
    caller = handed_off(
        session, Channel.VOICE, conversation="voice:CA2", contact=JANE_PHONE
    )
    assert handoff.destination(caller, SECRET) == sms


# --- replying ---------------------------------------------------------------------------


def test_a_reply_claims_a_new_ticket_holds_and_counts_as_first_response(
    session: Session, team: Team
) -> None:
    ticket = handed_off(session)
    message = reply(session, ticket, team.alice, "  Hi Jane, Alice here.  ")
    assert (message.sender, message.text, message.agent_id) == (
        Sender.AGENT,
        "Hi Jane, Alice here.",
        team.alice.id,
    )
    assert (message.delivery, message.attempts, message.next_attempt_at) == (
        Delivery.PENDING,
        0,
        T0,
    )
    assert ticket.status == S.CLAIMED and ticket.assigned_agent_id == team.alice.id
    assert ticket.first_responded_at == T0
    assert handoff.held_ticket(session, "web-conversation-1") == ticket
    kinds = [e.kind for e in queue.events(session, ticket)]
    assert kinds[-2:] == [TicketEventKind.CLAIMED, TicketEventKind.FIRST_RESPONSE]
    # A second reply is not a first response again.
    reply(session, ticket, team.alice, "Anything else?")
    assert [e.kind for e in queue.events(session, ticket)] == kinds


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "type a reply"),
        ("   \n ", "type a reply"),
        ("x" * (handoff.MAX_REPLY_LENGTH + 1), "at most 1600 characters"),
    ],
)
def test_empty_and_too_long_replies_are_refused(
    session: Session, team: Team, text: str, error: str
) -> None:
    ticket = handed_off(session)
    with pytest.raises(ReplyError, match=error):
        reply(session, ticket, team.alice, text)
    assert ticket.status == S.NEW and len(ticket.messages) == 1
    reply(session, ticket, team.alice, "x" * handoff.MAX_REPLY_LENGTH)  # the limit


def test_no_reply_on_a_resolved_or_closed_ticket(session: Session, team: Team) -> None:
    ticket = handed_off(session)
    queue.resolve(session, ticket, team.alice)
    with pytest.raises(ReplyError, match="is resolved; reopen it to reply"):
        reply(session, ticket, team.alice)
    queue.close(session, ticket, team.alice)
    with pytest.raises(ReplyError, match="is closed"):
        reply(session, ticket, team.alice)


def test_another_agents_ticket_is_refused_but_a_supervisor_may(
    session: Session, team: Team
) -> None:
    ticket = handed_off(session)
    reply(session, ticket, team.alice)
    with pytest.raises(queue.NotAllowed, match="assigned to another agent"):
        reply(session, ticket, team.bob, "Bob here")
    assert [m.text for m in ticket.messages if m.sender == Sender.AGENT] == [
        "Hi, I'm here."
    ]
    reply(session, ticket, team.sue, "Sue, supervisor, here")
    assert ticket.assigned_agent_id == team.alice.id


def test_a_voice_ticket_without_a_number_cannot_be_answered(
    session: Session, team: Team
) -> None:
    ticket = handed_off(session, Channel.VOICE, conversation="voice:CA1")
    with pytest.raises(ReplyError, match="no phone number"):
        reply(session, ticket, team.alice)
    assert ticket.status == S.NEW


def test_a_voice_ticket_with_a_number_is_answered_by_sms_and_holds_that_conversation(
    session: Session, team: Team
) -> None:
    ticket = handed_off(
        session, Channel.VOICE, conversation="voice:CA1", contact=JANE_PHONE
    )
    reply(session, ticket, team.alice, "We tried to call you back.")
    texting = sms_conversation_id(JANE_PHONE, SECRET)
    assert handoff.held_conversations(session, ticket) == [texting]
    assert handoff.receive_customer_message(session, texting, "call me at 5") == ticket


def test_notify_only_reachable_customers(session: Session) -> None:
    ticket = handed_off(session)
    notice = handoff.notify(session, ticket, "Back soon", secret=SECRET, now=T0)
    assert notice is not None
    assert (notice.sender, notice.agent_id, notice.delivery) == (
        Sender.SYSTEM,
        None,
        Delivery.PENDING,
    )
    unreachable = handed_off(session, Channel.VOICE, conversation="voice:CA1")
    assert handoff.notify(session, unreachable, "x", secret=SECRET) is None
    assert len(unreachable.messages) == 1


# --- handing back -------------------------------------------------------------------


def test_resolving_tells_the_customer_and_the_bot_answers_again(
    session: Session, team: Team
) -> None:
    ticket = handed_off(session)
    reply(session, ticket, team.alice)
    notice = handoff.hand_back(
        session, ticket, team.alice, resolve=True, secret=SECRET, now=T0 + MIN
    )
    assert ticket.status == S.RESOLVED
    assert notice is not None and notice.text == handoff.resolved_notice(ticket)
    assert ticket.reference in notice.text and notice.delivery == Delivery.PENDING
    note = queue.events(session, ticket)[-1]
    assert (note.kind, note.actor_agent_id, note.detail) == (
        TicketEventKind.NOTE,
        team.alice.id,
        f"{handoff.HANDED_BACK} (1 conversation)",
    )
    assert handoff.receive_customer_message(session, "web-conversation-1", "hi") is None


def test_resolving_a_ticket_waiting_on_the_customer(
    session: Session, team: Team
) -> None:
    ticket = handed_off(session)
    reply(session, ticket, team.alice)
    queue.wait_on_customer(session, ticket, team.alice)
    handoff.hand_back(session, ticket, team.alice, resolve=True, secret=SECRET)
    assert ticket.status == S.RESOLVED


def test_returning_to_the_bot_keeps_the_ticket_open(
    session: Session, team: Team
) -> None:
    ticket = handed_off(session)
    reply(session, ticket, team.alice)
    notice = handoff.hand_back(
        session, ticket, team.alice, resolve=False, secret=SECRET
    )
    assert ticket.status == S.CLAIMED
    assert notice is not None and notice.text == handoff.returned_notice(ticket)
    assert handoff.held_conversations(session, ticket) == []
    with pytest.raises(queue.NotAllowed):
        handoff.hand_back(session, ticket, team.bob, resolve=False, secret=SECRET)
    queue.resolve(session, ticket, team.alice)
    with pytest.raises(ReplyError, match="is resolved"):
        handoff.hand_back(session, ticket, team.alice, resolve=False, secret=SECRET)
    with pytest.raises(queue.InvalidTransition):
        handoff.hand_back(session, ticket, team.alice, resolve=True, secret=SECRET)


def test_handing_back_an_unreachable_customer_sends_nothing(
    session: Session, team: Team
) -> None:
    ticket = handed_off(session, Channel.VOICE, conversation="voice:CA1")
    notice = handoff.hand_back(session, ticket, team.alice, resolve=True, secret=SECRET)
    assert notice is None and ticket.status == S.RESOLVED
    assert queue.events(session, ticket)[-1].detail == (
        f"{handoff.HANDED_BACK} (0 conversations)"
    )


# --- the transcript for the console -------------------------------------------------


def test_transcript_after_and_message_json(session: Session, team: Team) -> None:
    ticket = handed_off(session)
    first = ticket.messages[0]
    message = reply(session, ticket, team.alice)
    assert handoff.transcript(session, ticket) == [first, message]
    assert handoff.transcript(session, ticket, after=first.id) == [message]
    assert handoff.transcript(session, ticket, after=message.id) == []
    assert handoff.message_json(message) == {
        "id": message.id,
        "sender": "agent",
        "text": "Hi, I'm here.",
        "sent_at": T0.isoformat(),
        "agent_name": "Alice",
        "delivery": "pending",
        "attempts": 0,
        "last_error": None,
    }
    assert handoff.message_json(first)["delivery"] is None
    assert handoff.message_json(first)["agent_name"] is None


# --- one holder per conversation (review fixes) -------------------------------------


def test_another_open_ticket_never_takes_over_a_held_conversation(
    session: Session, team: Team
) -> None:
    sms_ticket = handed_off(
        session, Channel.SMS, conversation=sms_conversation_id(JANE_PHONE, SECRET),
        contact=JANE_PHONE,
    )  # fmt: skip
    handoff.hold(session, sms_ticket, sms_ticket.conversation_id or "")
    queue.claim(session, sms_ticket.id, team.alice, now=T0)
    # A voice ticket of the same number: its SMS reply would go to that conversation.
    call = handed_off(
        session, Channel.VOICE, conversation="voice:CA1", contact=JANE_PHONE
    )
    with pytest.raises(handoff.ConversationTaken, match=sms_ticket.reference):
        reply(session, call, team.bob)
    # Nothing was changed: Bob's reply isn't stored, the ticket isn't claimed, and
    # the customer's texts still reach Alice's ticket.
    session.refresh(call)
    assert call.status == S.NEW and call.messages[-1].sender == Sender.CUSTOMER
    got = handoff.receive_customer_message(
        session, sms_ticket.conversation_id or "", "still there?"
    )
    assert got is not None and got.id == sms_ticket.id


def test_a_hold_left_by_a_resolved_ticket_is_taken_over(
    session: Session, team: Team
) -> None:
    old = handed_off(session, conversation="web-x")
    handoff.hold(session, old, "web-x")
    queue.resolve(session, old, team.alice, now=T0)  # resolved without a hand-back
    new = handed_off(session, conversation="web-x")
    reply(session, new, team.bob)
    assert handoff.held_ticket(session, "web-x") == new


def test_an_sms_reply_with_the_agent_prefix_must_fit_twilio_limit(
    session: Session, team: Team
) -> None:
    ticket = handed_off(session, Channel.SMS, conversation="sms-y", contact=JANE_PHONE)
    limit = handoff.MAX_REPLY_LENGTH - len(handoff.sms_prefix(team.alice))
    with pytest.raises(ReplyError, match=f"at most {limit} characters"):
        reply(session, ticket, team.alice, "x" * (limit + 1))
    assert reply(session, ticket, team.alice, "x" * limit).text == "x" * limit
    # Web chat replies have no prefix: the full length is allowed.
    web = handed_off(session, conversation="web-y")
    assert len(
        reply(session, web, team.alice, "y" * handoff.MAX_REPLY_LENGTH).text
    ) == (handoff.MAX_REPLY_LENGTH)


def test_a_caller_never_texted_gets_no_text_at_hand_back(
    session: Session, team: Team
) -> None:
    call = handed_off(
        session, Channel.VOICE, conversation="voice:CA2", contact=JANE_PHONE
    )
    queue.claim(session, call.id, team.alice, now=T0)
    notice = handoff.hand_back(
        session, call, team.alice, resolve=True, secret=SECRET, now=T0 + MIN
    )
    assert notice is None
    assert call.status == S.RESOLVED


def test_a_caller_the_agent_texted_is_told_at_hand_back(
    session: Session, team: Team
) -> None:
    call = handed_off(
        session, Channel.VOICE, conversation="voice:CA3", contact=JANE_PHONE
    )
    message = reply(session, call, team.alice)
    message.delivery = Delivery.DELIVERED
    session.flush()
    notice = handoff.hand_back(
        session, call, team.alice, resolve=True, secret=SECRET, now=T0 + MIN
    )
    assert notice is not None and "is resolved" in notice.text


def test_nul_characters_are_dropped_from_held_customer_messages(
    session: Session,
) -> None:
    ticket = handed_off(session, conversation="web-nul")
    handoff.hold(session, ticket, "web-nul")
    handoff.receive_customer_message(session, "web-nul", "hi\x00there")
    session.flush()
    assert ticket.messages[-1].text == "hithere"
