"""Delivering the team's messages (agent replies, notices) on the customer's channel.

Messages are stored as pending transcript lines first (bot/services/handoff.py) and
delivered here: web chat replies become widget messages (pushed to the browser by
the chat stream), SMS and voice customers get a text through the Twilio client.

Delivery is at-least-once and safe with several senders (the console right after a
reply, the worker process on its timer): a conditional UPDATE *leases* a message
(`next_attempt_at` moved ahead) before it is sent, so two senders never send the
same message at the same time. A failure leaves the message pending with the error
and a later `next_attempt_at` (backing off up to every 15 minutes); the console
shows it as undelivered until it goes out. Permanent failures (the customer texted
STOP, there is no number to text) are marked failed with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioRestException

from bot.models import (
    Channel,
    ChatMessage,
    Delivery,
    Sender,
    TicketMessage,
    utcnow,
)
from bot.services.handoff import destination, sms_prefix
from bot.services.messaging import OptedOut, SmsSender, send_text

logger = logging.getLogger(__name__)

RETRY_DELAYS = (
    dt.timedelta(seconds=15),
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
)
# How long a sender holds a message it is sending (longer than Twilio's timeout).
LEASE = dt.timedelta(seconds=60)
BATCH = 50
MAX_ERROR_LENGTH = 500
# Twilio errors that no retry can fix (https://www.twilio.com/docs/api/errors).
PERMANENT_TWILIO_ERRORS = {
    21211: "the customer's phone number is not valid",
    21610: "the customer unsubscribed from our texts (STOP at Twilio)",
    21614: "the customer's phone number cannot receive texts",
    21408: "texts to the customer's country are not enabled for our account",
    21612: "Twilio cannot text the customer's number from ours",
    21617: "the text is longer than Twilio accepts (1,600 characters)",
}


class Undeliverable(Exception):
    """The message can never be delivered (the reason is safe to show)."""


@dataclass(frozen=True)
class Outcome:
    message_id: int
    delivery: Delivery
    error: str | None = None


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait before the next try after `attempts` failed ones."""
    return RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]


def _lease(session: Session, message_id: int, now: dt.datetime) -> bool:
    result = session.execute(
        update(TicketMessage)
        .where(
            TicketMessage.id == message_id,
            TicketMessage.delivery == Delivery.PENDING,
            TicketMessage.next_attempt_at <= now,
        )
        # The previous try's error goes while this one runs: `retry_now` only
        # touches messages with an error, so it can never break a live lease.
        .values(
            next_attempt_at=now + LEASE,
            attempts=TicketMessage.attempts + 1,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _sms_body(message: TicketMessage) -> str:
    if message.sender == Sender.AGENT and message.agent is not None:
        return f"{sms_prefix(message.agent)}{message.text}"
    return message.text


def _send(
    session: Session, message: TicketMessage, sms: SmsSender, secret: str, region: str
) -> None:
    """Hand the message to the customer's channel (raises on failure)."""
    target = destination(message.ticket, secret, region)
    if target is None:
        raise Undeliverable("there is no phone number or conversation to write to")
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
    send_text(session, sms, target.address, _sms_body(message))


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
    now = now or utcnow()
    with factory() as session:
        with session.begin():
            if not _lease(session, message_id, now):
                return None
        with session.begin():
            message = session.get(TicketMessage, message_id)
            assert message is not None
            try:
                _send(session, message, sms, secret, region)
            except OptedOut:
                session.rollback()
                reason = "the customer texted STOP: no SMS may be sent to them"
                return _finish(factory, message_id, Delivery.FAILED, now, reason)
            except Undeliverable as exc:
                session.rollback()
                return _finish(factory, message_id, Delivery.FAILED, now, str(exc))
            except TwilioRestException as exc:
                session.rollback()
                if exc.code in PERMANENT_TWILIO_ERRORS:
                    reason = PERMANENT_TWILIO_ERRORS[exc.code]
                    return _finish(factory, message_id, Delivery.FAILED, now, reason)
                # Not str(exc): on a terminal that is a coloured, multi-line banner.
                error = f"Twilio error {exc.code or exc.status}: {exc.msg}"
                logger.warning("delivery of message %s failed: %s", message_id, error)
                return _finish(factory, message_id, Delivery.PENDING, now, error)
            except Exception as exc:  # any other channel failure is retried
                session.rollback()
                logger.warning("delivery of message %s failed: %s", message_id, exc)
                return _finish(factory, message_id, Delivery.PENDING, now, str(exc))
            message.delivery = Delivery.DELIVERED
            message.delivered_at = now
            message.next_attempt_at = None
            message.last_error = None
    return Outcome(message_id, Delivery.DELIVERED)


def _finish(
    factory: sessionmaker[Session],
    message_id: int,
    delivery: Delivery,
    now: dt.datetime,
    error: str,
) -> Outcome:
    error = error[:MAX_ERROR_LENGTH] or "unknown error"
    with factory.begin() as session:
        message = session.get(TicketMessage, message_id)
        assert message is not None
        message.delivery = delivery
        message.last_error = error
        message.next_attempt_at = (
            now + retry_delay(message.attempts)
            if delivery == Delivery.PENDING
            else None
        )
    return Outcome(message_id, delivery, error)


def due(session: Session, now: dt.datetime, limit: int = BATCH) -> list[int]:
    """Ids of pending messages whose next attempt is due, oldest first."""
    return list(
        session.scalars(
            select(TicketMessage.id)
            .where(
                TicketMessage.delivery == Delivery.PENDING,
                TicketMessage.next_attempt_at <= now,
            )
            .order_by(TicketMessage.id)
            .limit(limit)
        )
    )


def deliver_due(
    factory: sessionmaker[Session],
    sms: SmsSender,
    *,
    secret: str,
    region: str = "US",
    now: dt.datetime | None = None,
) -> list[Outcome]:
    """Deliver every due message (the worker's job); what happened to each.

    Without `now`, each message is leased from the time its own try starts: a
    batch can take longer than a lease, and a lease counted from the batch's start
    could have run out before the message is even sent.
    """
    with factory() as session:
        ids = due(session, now or utcnow())
    outcomes = []
    for message_id in ids:
        outcome = deliver(
            factory, message_id, sms, secret=secret, region=region, now=now
        )
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


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
