"""Human handoff: a person takes the conversation over and hands it back.

While a conversation is *held* (a `conversation_holds` row), the assistant stays
silent in it: every message of every channel reaches `receive_customer_message`
(through `back_to_bot.route_customer_message`) before the assistant sees it, in the
Rasa server (bot/rasa_server.py), and for web chat and SMS also before asking Rasa;
a held conversation's messages go to the ticket's transcript, where the console
shows them live. Agents answer with `reply`; the reply is stored first (pending) and then
delivered on the customer's channel by bot/services/delivery.py, so nothing is lost
when a channel is down. `hand_back` (Resolve, or Return to bot) deletes the hold and
tells the customer that the assistant is back; the customer asking for it, and a
hold nobody claimed in time, end in bot/services/back_to_bot.py.

The handoff also carries what the assistant understood (`HandoffContext`) and a
one-paragraph summary the agent can read in five seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import (
    Agent,
    Channel,
    ConversationHold,
    Delivery,
    Sender,
    Ticket,
    TicketEventKind,
    TicketMessage,
    TicketStatus,
    utcnow,
)
from bot.services import queue
from bot.services import tickets as ticket_service
from bot.services.contact import try_normalise_phone
from bot.services.messaging import sms_conversation_id

S = TicketStatus
logger = logging.getLogger(__name__)

# Twilio concatenates at most 10 segments; the console refuses longer replies.
MAX_REPLY_LENGTH = 1600
MAX_CUSTOMER_MESSAGE_LENGTH = 4000
HANDED_BACK = "Conversation handed back to the assistant"

CHANNEL_WORDS = {Channel.WEB: "web chat", Channel.SMS: "SMS", Channel.VOICE: "phone"}


class ReplyError(queue.QueueError):
    """The reply cannot be sent; the message says why (safe to show the agent)."""


# --- what the assistant understood ------------------------------------------------


@dataclass(frozen=True)
class HandoffContext:
    """What the assistant knew when it handed off, for the agent."""

    reason: str
    intent: str | None = None
    confidence: float | None = None
    entities: dict[str, str] = field(default_factory=dict)
    last_message: str | None = None
    verified: bool = False
    customer_messages: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> HandoffContext | None:
        """The stored context, or None when there is none (or it is unreadable)."""
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("reason"), str):
            return None
        entities = data.get("entities")
        confidence = data.get("confidence")
        messages = data.get("customer_messages")
        return cls(
            reason=data["reason"],
            intent=data.get("intent") if isinstance(data.get("intent"), str) else None,
            # NaN and infinities (json.loads accepts them) cannot be shown as a %.
            confidence=min(max(float(confidence), 0.0), 1.0)
            if isinstance(confidence, int | float)
            and not isinstance(confidence, bool)
            and math.isfinite(confidence)
            else None,
            entities={
                str(k): str(v)
                for k, v in entities.items()
                if isinstance(v, str | int | float)
            }
            if isinstance(entities, dict)
            else {},
            last_message=data.get("last_message")
            if isinstance(data.get("last_message"), str)
            else None,
            verified=data.get("verified") is True,
            customer_messages=max(messages, 0)
            if isinstance(messages, int) and not isinstance(messages, bool)
            else 0,
        )


def _intent_words(intent: str | None) -> str | None:
    # nlu_fallback means the assistant did not understand: the reason says so.
    if not intent or intent == "nlu_fallback":
        return None
    return intent.replace("_", " ")


def _quote(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"


def summarise(ticket: Ticket, context: HandoffContext) -> str:
    """One paragraph: who, on which channel, about what, why a person is needed."""
    customer = ticket.customer
    if customer is not None:
        details = [customer.email]
        if customer.segment.value == "vip":
            details.append("VIP")
        if context.verified:
            details.append("verified")
        who = f"{customer.name} ({', '.join(details)})"
    elif ticket.contact:
        who = f"An unverified customer ({ticket.contact})"
    else:
        who = "An anonymous visitor"
    sentences = [
        f"{who} wrote on {CHANNEL_WORDS[ticket.channel]}"
        f" ({context.customer_messages} message"
        f"{'' if context.customer_messages == 1 else 's'})."
    ]
    topic = _intent_words(context.intent)
    if topic:
        confidence = (
            f", {round(context.confidence * 100)}% sure"
            if context.confidence is not None
            else ""
        )
        sentences.append(f"The assistant understood: {topic}{confidence}.")
    if ticket.order is not None:
        order = ticket.order
        sentences.append(
            f"Order {order.number} is {order.status.value.replace('_', ' ')}."
        )
    elif context.entities.get("order_number"):
        sentences.append(
            f"Mentioned order {context.entities['order_number']} (not verified)."
        )
    if context.entities.get("ticket_reference"):
        sentences.append(f"Mentioned ticket {context.entities['ticket_reference']}.")
    if context.last_message:
        sentences.append(f"Last message: {_quote(context.last_message)}.")
    sentences.append(f"Handed off because: {context.reason.rstrip('.')}.")
    return " ".join(sentences)


def record_context(ticket: Ticket, context: HandoffContext) -> None:
    """Store the context and its summary on the ticket."""
    ticket.context = context.to_json()
    ticket.summary = summarise(ticket, context)


# --- the handoff ticket -----------------------------------------------------------


def ensure_ticket(
    session: Session,
    conversation_id: str,
    new_ticket: Callable[[], ticket_service.TicketRequest],
    *,
    again: Iterable[ticket_service.TranscriptLine] = (),
    contact: str | None = None,
) -> Ticket:
    """The conversation's open handoff ticket, or one opened from `new_ticket()`.

    One handoff ticket per conversation: asking again reuses it, adding `again` to
    its transcript and `contact` (how to reach the customer) if it has none.
    """
    for ticket in ticket_service.open_tickets_for_conversation(
        session, conversation_id
    ):
        if ticket.handed_off:
            if ticket.contact is None and contact:
                ticket.contact = contact
            ticket_service.add_transcript(ticket, again)
            return ticket
    return ticket_service.open_ticket(session, new_ticket())


# --- holding a conversation ----------------------------------------------------


class ConversationTaken(ReplyError):
    """Another open ticket already holds the conversation."""


def _holder(session: Session, conversation_id: str, ticket: Ticket) -> Ticket | None:
    """The other *open* ticket holding `conversation_id`, if any."""
    other = held_ticket(session, conversation_id)
    if other is None or other.id == ticket.id:
        return None
    return other if other.status in queue.OPEN_STATUSES else None


def check_can_hold(session: Session, ticket: Ticket, conversation_id: str) -> None:
    """Raise ConversationTaken if another open ticket holds the conversation."""
    other = _holder(session, conversation_id, ticket)
    if other is not None:
        raise ConversationTaken(
            f"a person is already talking with this customer under ticket "
            f"{other.reference}; answer there, or resolve or return it to the bot first"
        )


def hold(
    session: Session,
    ticket: Ticket,
    conversation_id: str,
    *,
    now: dt.datetime | None = None,
) -> None:
    """From now on the bot is silent in `conversation_id`; messages go to `ticket`.

    A conversation has one holder: another open ticket's hold is never taken over
    (ConversationTaken), so its agent keeps receiving the customer's messages; a
    hold left by a resolved or closed ticket is.
    """
    check_can_hold(session, ticket, conversation_id)
    existing = session.get(ConversationHold, conversation_id)
    if existing is not None:
        existing.ticket_id = ticket.id
        existing.held_at = now or utcnow()
        session.flush()
        return
    try:
        with session.begin_nested():
            session.add(
                ConversationHold(
                    conversation_id=conversation_id,
                    ticket_id=ticket.id,
                    held_at=now or utcnow(),
                )
            )
    except IntegrityError:
        # Held by someone else at the same moment: theirs stands unless it's ours.
        check_can_hold(session, ticket, conversation_id)
        raise ConversationTaken(
            "someone else took this conversation over at the same moment; reload"
        ) from None


def held_ticket(session: Session, conversation_id: str) -> Ticket | None:
    """The ticket a person is handling this conversation under, if any."""
    return session.scalars(
        select(Ticket)
        .join(ConversationHold, ConversationHold.ticket_id == Ticket.id)
        .where(ConversationHold.conversation_id == conversation_id)
    ).first()


def held_conversations(session: Session, ticket: Ticket) -> list[str]:
    return list(
        session.scalars(
            select(ConversationHold.conversation_id).where(
                ConversationHold.ticket_id == ticket.id
            )
        )
    )


def release(session: Session, ticket: Ticket) -> int:
    """The bot answers the ticket's conversations again; how many were held."""
    result = session.execute(
        delete(ConversationHold).where(ConversationHold.ticket_id == ticket.id)
    )
    return int(result.rowcount or 0)


def customer_line(text: str, now: dt.datetime) -> TicketMessage:
    """A transcript line of what the customer wrote while held."""
    return TicketMessage(
        sender=Sender.CUSTOMER,
        # NUL can't be stored in PostgreSQL text; nothing else is changed.
        text=text.replace("\x00", "")[:MAX_CUSTOMER_MESSAGE_LENGTH],
        sent_at=now,
    )


def receive_customer_message(
    session: Session,
    conversation_id: str,
    text: str,
    *,
    now: dt.datetime | None = None,
) -> Ticket | None:
    """Route a customer's message to the person handling the conversation.

    Returns the ticket when the conversation is held (the message is then in its
    transcript and the bot must stay silent), None when the bot should answer.
    A ticket waiting on the customer goes back to its agent.
    """
    ticket = held_ticket(session, conversation_id)
    if ticket is None:
        return None
    if ticket.status not in queue.OPEN_STATUSES:
        # A hold that outlived its ticket (closed elsewhere): the bot answers.
        release(session, ticket)
        return None
    now = now or utcnow()
    ticket.messages.append(customer_line(text, now))
    if ticket.status == S.WAITING_ON_CUSTOMER:
        try:
            queue.transition(
                session,
                ticket,
                S.CLAIMED,
                None,
                detail="the customer answered",
                now=now,
            )
        except queue.InvalidTransition as exc:
            # Changed meanwhile (or nobody to give it back to): the message is kept
            # in the transcript either way, which is what matters to the customer.
            logger.info("ticket %s not moved back to claimed: %s", ticket.id, exc)
    else:
        ticket.updated_at = now
    session.flush()
    return ticket


# --- writing to the customer ------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """Where messages to a ticket's customer go."""

    channel: Channel  # WEB (the widget) or SMS; voice tickets are answered by SMS
    address: str  # the web conversation id, or the phone number (E.164)
    conversation_id: str  # the conversation the customer answers in

    def describe(self) -> str:
        return (
            "the web chat" if self.channel == Channel.WEB else f"SMS to {self.address}"
        )


def destination(ticket: Ticket, secret: str, region: str = "US") -> Destination | None:
    """How to reach the ticket's customer, or None when there is no way."""
    if ticket.channel == Channel.WEB:
        if ticket.conversation_id:
            return Destination(
                Channel.WEB, ticket.conversation_id, ticket.conversation_id
            )
        return None
    phone = try_normalise_phone(ticket.contact, region) or (
        ticket.customer.phone if ticket.customer is not None else None
    )
    if phone is None:
        return None
    return Destination(Channel.SMS, phone, sms_conversation_id(phone, secret))


def _check_open(ticket: Ticket) -> None:
    if ticket.status not in queue.OPEN_STATUSES:
        raise ReplyError(
            f"ticket {ticket.reference} is {ticket.status.value}; reopen it to reply"
        )


def _outgoing(
    ticket: Ticket, sender: Sender, text: str, agent: Agent | None, now: dt.datetime
) -> TicketMessage:
    message = TicketMessage(
        sender=sender,
        text=text,
        sent_at=now,
        agent_id=agent.id if agent is not None else None,
        delivery=Delivery.PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    ticket.messages.append(message)
    return message


def reply(
    session: Session,
    ticket: Ticket,
    agent: Agent,
    text: str,
    *,
    secret: str,
    region: str = "US",
    now: dt.datetime | None = None,
) -> TicketMessage:
    """Queue an agent's answer to the customer (delivery.deliver sends it).

    A new ticket is claimed by the replying agent; the conversation is held, so the
    customer's answer comes back to the agent rather than the bot; the first reply
    counts as the first response (SLA).
    """
    now = now or utcnow()
    text = text.strip()
    if not text:
        raise ReplyError("type a reply before sending")
    _check_open(ticket)
    target = destination(ticket, secret, region)
    if target is None:
        raise ReplyError(
            f"there is no way to write to this customer on "
            f"{CHANNEL_WORDS[ticket.channel]} (no phone number); call them back and "
            "log the call as a note"
        )
    # An SMS carries the agent's name in front: the whole text must fit.
    limit = MAX_REPLY_LENGTH
    if target.channel == Channel.SMS:
        limit -= len(sms_prefix(agent))
    if len(text) > limit:
        raise ReplyError(f"this reply can be at most {limit} characters long")
    queue.check_may_change(ticket, agent)
    check_can_hold(session, ticket, target.conversation_id)
    if ticket.status == S.NEW:
        queue.transition(session, ticket, S.CLAIMED, agent, now=now)
    else:
        queue.check_may_change(ticket, agent)
    message = _outgoing(ticket, Sender.AGENT, text, agent, now)
    hold(session, ticket, target.conversation_id, now=now)
    queue.record_first_response(session, ticket, agent, now=now)
    session.flush()
    return message


def sms_prefix(agent: Agent) -> str:
    """What an agent's text starts with, so the customer knows who writes."""
    return f"{agent.name} (support): "


def notify(
    session: Session,
    ticket: Ticket,
    text: str,
    *,
    secret: str,
    region: str = "US",
    now: dt.datetime | None = None,
) -> TicketMessage | None:
    """Queue a notice from the team (resolved, back to the assistant), if reachable."""
    if destination(ticket, secret, region) is None:
        return None
    message = _outgoing(ticket, Sender.SYSTEM, text, None, now or utcnow())
    session.flush()
    return message


def resolved_notice(ticket: Ticket) -> str:
    return (
        f"Your request {ticket.reference} is resolved. If you need anything else, "
        "just write: our assistant is here again, and you can ask for a person at "
        "any time."
    )


def returned_notice(ticket: Ticket) -> str:
    return (
        "You're back with our assistant. Ask it anything, or ask for a person again "
        "at any time."
    )


def hand_back(
    session: Session,
    ticket: Ticket,
    agent: Agent,
    *,
    resolve: bool,
    secret: str,
    region: str = "US",
    now: dt.datetime | None = None,
) -> TicketMessage | None:
    """Resolve (or only return to the bot) and let the assistant answer again.

    The customer is told; the returned message is that notice (None when the
    customer cannot be reached).
    """
    now = now or utcnow()
    if resolve:
        if ticket.status == S.WAITING_ON_CUSTOMER:
            queue.transition(session, ticket, S.CLAIMED, agent, now=now)
        queue.resolve(session, ticket, agent, detail="resolved in the console", now=now)
    else:
        _check_open(ticket)
        queue.check_may_change(ticket, agent)
    released = release(session, ticket)
    queue.record_event(
        session,
        ticket,
        agent,
        TicketEventKind.NOTE,
        detail=f"{HANDED_BACK} ({released} conversation{'' if released == 1 else 's'})",
        now=now,
    )
    if not may_text(session, ticket):
        return None
    text = resolved_notice(ticket) if resolve else returned_notice(ticket)
    return notify(session, ticket, text, secret=secret, region=region, now=now)


def may_text(session: Session, ticket: Ticket) -> bool:
    """Whether a notice may be sent to the ticket's customer unasked.

    A caller who was never texted by an agent gets no text out of the blue (and
    the number may be a spoofed caller ID): the agent's callback tells them.
    """
    return ticket.channel != Channel.VOICE or _texted_by_agent(session, ticket)


def _texted_by_agent(session: Session, ticket: Ticket) -> bool:
    return (
        session.scalar(
            select(TicketMessage.id)
            .where(
                TicketMessage.ticket_id == ticket.id,
                TicketMessage.sender == Sender.AGENT,
                TicketMessage.delivery == Delivery.DELIVERED,
            )
            .limit(1)
        )
        is not None
    )


def transcript(session: Session, ticket: Ticket, after: int = 0) -> list[TicketMessage]:
    """The ticket's transcript lines with an id above `after`, oldest first."""
    return list(
        session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket.id, TicketMessage.id > after)
            .order_by(TicketMessage.id)
        )
    )


def message_json(message: TicketMessage) -> dict[str, Any]:
    """A transcript line as the console's live view gets it."""
    return {
        "id": message.id,
        "sender": message.sender.value,
        "text": message.text,
        "sent_at": message.sent_at.isoformat(),
        "agent_name": message.agent.name if message.agent is not None else None,
        "delivery": message.delivery.value if message.delivery is not None else None,
        "attempts": message.attempts,
        "last_error": message.last_error,
    }
