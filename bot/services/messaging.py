"""Rules shared by the text and voice channels: opt-outs, retries, numbered choices."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.models import ChannelChoice, ProcessedWebhook, SmsOptOut, utcnow

STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout"}
START_WORDS = {"start", "unstop", "yes", "subscribe"}
HELP_WORDS = {"help", "info"}


def sms_conversation_id(phone: str, secret: str) -> str:
    """The conversation of a texting number: keyed, so it cannot be guessed.

    Rasa's REST channel lets clients choose a conversation id; a guessable
    "sms:+1..." id would let anyone write into a customer's conversation.
    """
    digest = hmac.new(secret.encode(), f"sms:{phone}".encode(), hashlib.sha256)
    return f"sms-{digest.hexdigest()[:32]}"


def keyword(text: str) -> str | None:
    """The carrier keyword ("stop", "start" or "help") the whole message is, if any."""
    word = "".join(text.split()).lower().strip(".!")
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None


def opt_out(session: Session, phone: str) -> None:
    """Record that `phone` texted STOP."""
    if session.get(SmsOptOut, phone) is None:
        session.add(SmsOptOut(phone=phone))
        session.flush()


def opt_in(session: Session, phone: str) -> None:
    """Record that `phone` texted START."""
    session.execute(delete(SmsOptOut).where(SmsOptOut.phone == phone))


def is_opted_out(session: Session, phone: str) -> bool:
    """True when `phone` texted STOP (and not START since)."""
    return session.get(SmsOptOut, phone) is not None


class OptedOut(Exception):
    """The number texted STOP; nothing may be sent to it."""


class SmsSender(Protocol):
    """What sending needs of bot.twilio_client.TwilioClient (tests use fakes)."""

    def send_sms(self, to: str, body: str) -> str: ...


def send_text(session: Session, sender: SmsSender, to: str, body: str) -> str:
    """Text `body` to `to` unless the number opted out; returns the message SID.

    Raises:
        OptedOut: `to` texted STOP; nothing was sent.
    """
    if is_opted_out(session, to):
        raise OptedOut(to)
    return sender.send_sms(to, body)


def first_delivery(session: Session, *webhook_ids: str) -> bool:
    """True the first time a Twilio request is seen; False for retries and replays.

    A request may have several ids (its Sid and its signature's digest): it is new
    only if none was seen before, and all of them are recorded either way. Each is
    one INSERT ... ON CONFLICT DO NOTHING inside the caller's transaction: two
    deliveries at the same moment get exactly one True, and if handling fails the
    rows are rolled back with everything else, so Twilio's retry is not lost.
    """
    if not webhook_ids:
        raise ValueError("a webhook needs at least one id to be de-duplicated")
    fresh = [_record_webhook(session, webhook_id) for webhook_id in webhook_ids]
    return all(fresh)


def _record_webhook(session: Session, webhook_id: str) -> bool:
    key = (
        webhook_id
        if len(webhook_id) <= 64
        else hashlib.sha256(webhook_id.encode()).hexdigest()
    )
    insert = (
        postgresql_insert if session.get_bind().dialect.name == "postgresql"
        else sqlite_insert
    )  # fmt: skip
    result = session.execute(
        insert(ProcessedWebhook)
        .values(id=key, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return bool(result.rowcount)


def remember_choices(
    session: Session, conversation_id: str, payloads: list[str]
) -> None:
    """Store the payloads behind "1", "2", ... for this conversation's next message."""
    row = session.get(ChannelChoice, conversation_id)
    if not payloads:
        if row is not None:
            session.delete(row)
            session.flush()
        return
    if row is None:
        session.add(
            ChannelChoice(
                conversation_id=conversation_id, payloads=json.dumps(payloads)
            )
        )
    else:
        row.payloads = json.dumps(payloads)
    session.flush()


def resolve_choice(session: Session, conversation_id: str, text: str) -> str:
    """The payload for a numbered answer ("2"), or the text unchanged."""
    answer = text.strip().rstrip(".#")
    if not (answer.isascii() and answer.isdigit()):  # "²".isdigit() is True
        return text
    row = session.get(ChannelChoice, conversation_id)
    if row is None:
        return text
    payloads = json.loads(row.payloads)
    index = int(answer) - 1
    return payloads[index] if 0 <= index < len(payloads) else text
