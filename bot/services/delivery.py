"""Delivering the team's messages (agent replies, notices) on the customer's channel.

Messages are stored as pending transcript lines first (bot/services/handoff.py) and
delivered here: web chat replies become widget messages (pushed to the browser by
the chat stream), SMS and voice customers get a text through the Twilio client.

Delivery is at-least-once and safe with several senders (the console right after a
reply, the worker process on its timer): `ticket_messages` is an outbox
(bot/services/outbox.py), each message leased before it is sent. A failure leaves
the message pending with the error and a later `next_attempt_at` (backing off up to
every 15 minutes); the console shows it as undelivered until it goes out, and
"Retry now" makes it due at once. Permanent failures (the customer texted STOP,
there is no number to text, a permanent Twilio error) are marked failed with the
reason.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import partial

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.models import (
    Channel,
    ChatMessage,
    Delivery,
    Sender,
    TicketMessage,
    utcnow,
)
from bot.services import outbox
from bot.services.handoff import destination, sms_prefix
from bot.services.messaging import OptedOut, SmsSender, send_text
from bot.services.outbox import Outbox, Settle

REPLIES: Outbox[TicketMessage, Delivery] = Outbox(
    model=TicketMessage,
    status=TicketMessage.delivery,
    error=TicketMessage.last_error,
    done_at=TicketMessage.delivered_at,
    waiting=Delivery.PENDING,
    done=Delivery.DELIVERED,
    failed=Delivery.FAILED,
    label="message",
)


@dataclass(frozen=True)
class Outcome:
    message_id: int
    delivery: Delivery
    error: str | None = None

    @classmethod
    def of(cls, outcome: outbox.Outcome[Delivery]) -> Outcome:
        return cls(outcome.row_id, outcome.status, outcome.error)


def _sms_body(message: TicketMessage) -> str:
    if message.sender == Sender.AGENT and message.agent is not None:
        return f"{sms_prefix(message.agent)}{message.text}"
    return message.text


def _send(
    session: Session,
    message: TicketMessage,
    now: dt.datetime,
    *,
    sms: SmsSender,
    secret: str,
    region: str,
) -> None:
    """Hand the message to the customer's channel (raises on failure)."""
    target = destination(message.ticket, secret, region)
    if target is None:
        raise Settle(
            Delivery.FAILED, "there is no phone number or conversation to write to"
        )
    if target.channel == Channel.WEB:
        extra = {"agent_name": message.agent.name} if message.agent else {}
        session.add(
            ChatMessage(
                conversation_id=target.address,
                sender=message.sender,
                text=message.text,
                payload=json.dumps(extra) if extra else None,
            )
        )
        session.flush()
        return
    try:
        send_text(session, sms, target.address, _sms_body(message))
    except OptedOut:
        reason = "the customer texted STOP: no SMS may be sent to them"
        raise Settle(Delivery.FAILED, reason) from None


def deliver(
    factory: sessionmaker[Session],
    message_id: int,
    sms: SmsSender,
    *,
    secret: str,
    region: str = "US",
    now: dt.datetime | None = None,
) -> Outcome | None:
    """Try to deliver one pending message.

    Returns:
        What happened, or None when it is not due or someone else is sending it.
    """
    send = partial(_send, sms=sms, secret=secret, region=region)
    outcome = REPLIES.deliver(factory, message_id, send, now)
    return None if outcome is None else Outcome.of(outcome)


def deliver_due(
    factory: sessionmaker[Session],
    sms: SmsSender,
    *,
    secret: str,
    region: str = "US",
    now: dt.datetime | None = None,
) -> list[Outcome]:
    """Deliver every due message (the worker's job); what happened to each."""
    send = partial(_send, sms=sms, secret=secret, region=region)
    return [Outcome.of(outcome) for outcome in REPLIES.deliver_due(factory, send, now)]


def retry_now(
    session: Session, message_id: int, now: dt.datetime | None = None
) -> bool:
    """Make an undelivered message due at once ("Retry now" in the console).

    Pending messages after a failed try (one without an error may be mid-send), and
    failed ones: the agent may have fixed the cause (the customer texted START).
    """
    result = session.execute(
        update(TicketMessage)
        .where(
            TicketMessage.id == message_id,
            TicketMessage.last_error.is_not(None),
            TicketMessage.delivery.in_([Delivery.PENDING, Delivery.FAILED]),
        )
        .values(delivery=Delivery.PENDING, next_attempt_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
