"""Counting verification attempts so that guessing is bounded; recording what passed.

Attempts are stored in the database, so a new conversation, a `/restart` or a
session timeout does not reset them. The limits (all configurable):

- per conversation: failures in it, ever (the bot then offers a person);
- per requester: failures by whoever asks (the phone or signed-in customer the
  channel vouches for, else the conversation) within the window;
- per key (order number, ticket reference) and per identifier (email, phone):
  the number of *distinct requesters* that failed with it within the window.

One requester alone therefore never locks a key or an email for others: its own
limit stops it first, and attempts refused unchecked (`throttled`) count against the
requester only, never against the key or identifier, so nobody keeps a lock alive by
hammering it. Conversations are free on the REST channel, so an attacker with several
conversations still counts as several requesters; what keeps the customer in then is
that proofs an attacker cannot forge (a phone vouched by the SMS or voice channel, a
signed-in shop customer) are checked whatever these limits say.

A verification that passes is recorded for its conversation (`record_verification`)
and checked before anything is disclosed (`is_verified`, `contact_verified`): the
slots that travel with each action call prove nothing on their own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.models import ConversationVerification, VerificationAttempt, utcnow


@dataclass(frozen=True)
class Limits:
    per_conversation: int = 3
    per_key: int = 5
    per_identifier: int = 5
    window: dt.timedelta = dt.timedelta(hours=1)


def _failures(session: Session, *conditions: object) -> int:
    query = (
        select(func.count())
        .select_from(VerificationAttempt)
        .where(VerificationAttempt.succeeded.is_(False), *conditions)
    )
    return session.scalar(query) or 0


def conversation_failures(session: Session, conversation_id: str) -> int:
    """Failed attempts in this conversation, ever."""
    return _failures(session, VerificationAttempt.conversation_id == conversation_id)


def conversation_locked(session: Session, conversation_id: str, limits: Limits) -> bool:
    """True once this conversation used up its attempts."""
    return conversation_failures(session, conversation_id) >= limits.per_conversation


def requester_of(
    conversation_id: str, phone: str | None = None, customer_id: int | None = None
) -> str:
    """Who is asking: the vouched phone or customer, else the conversation."""
    if phone:
        return f"phone:{phone}"
    if customer_id is not None:
        return f"customer:{customer_id}"
    return f"conversation:{conversation_id}"


def _counted(since: dt.datetime) -> tuple[object, ...]:
    """Recent failures that were checked (not refused by a limit)."""
    return (
        VerificationAttempt.succeeded.is_(False),
        VerificationAttempt.throttled.is_(False),
        VerificationAttempt.attempted_at >= since,
    )


def _requesters(session: Session, since: dt.datetime, *conditions: object) -> int:
    query = select(func.count(func.distinct(VerificationAttempt.requester))).where(
        *_counted(since), *conditions
    )
    return session.scalar(query) or 0


def requester_failures(session: Session, requester: str, since: dt.datetime) -> int:
    """Checked failures by `requester` since `since`."""
    return _failures(
        session, *_counted(since), VerificationAttempt.requester == requester
    )


def throttled(
    session: Session,
    key: str,
    identifier: str,
    limits: Limits,
    now: dt.datetime | None = None,
    *,
    requester: str | None = None,
) -> bool:
    """True when the requester, `key` or `identifier` failed too often recently.

    Key and identifier limits count distinct requesters, so that no single
    requester can lock them for everyone else.
    """
    since = (now or utcnow()) - limits.window
    if (
        requester is not None
        and requester_failures(session, requester, since) >= limits.per_conversation
    ):
        return True
    return (
        _requesters(session, since, VerificationAttempt.key == key) >= limits.per_key
        or _requesters(
            session,
            since,
            VerificationAttempt.identifier == identifier.strip().lower(),
        )
        >= limits.per_identifier
    )


def record_attempt(
    session: Session,
    *,
    subject: str,
    key: str,
    identifier: str,
    conversation_id: str,
    succeeded: bool,
    requester: str | None = None,
    throttled: bool = False,
) -> None:
    """Store one attempt (the audit trail, and what the limits count).

    `throttled` marks an attempt refused unchecked because a limit was reached.
    """
    session.add(
        VerificationAttempt(
            subject=subject,
            key=key,
            identifier=identifier.strip().lower(),
            conversation_id=conversation_id,
            succeeded=succeeded,
            requester=requester or requester_of(conversation_id),
            throttled=throttled,
        )
    )
    session.flush()


# --- What a conversation verified ---------------------------------------------------


def record_verification(
    session: Session,
    *,
    conversation_id: str,
    subject: str,
    key: str,
    identifier: str,
    valid_for: dt.timedelta,
    now: dt.datetime | None = None,
) -> None:
    """Record that `conversation_id` proved `key` with `identifier`, for `valid_for`."""
    moment = now or utcnow()
    # Expired records prove nothing any more; keep the table small.
    session.execute(
        delete(ConversationVerification).where(
            ConversationVerification.expires_at <= moment
        )
    )
    session.add(
        ConversationVerification(
            conversation_id=conversation_id,
            subject=subject,
            key=key,
            identifier=identifier.strip().lower(),
            verified_at=moment,
            expires_at=moment + valid_for,
        )
    )
    session.flush()


def _verified(
    session: Session, conversation_id: str, now: dt.datetime | None, *conditions: object
) -> bool:
    query = (
        select(ConversationVerification.id)
        .where(
            ConversationVerification.conversation_id == conversation_id,
            ConversationVerification.expires_at > (now or utcnow()),
            *conditions,
        )
        .limit(1)
    )
    return session.scalar(query) is not None


def is_verified(
    session: Session,
    conversation_id: str,
    subject: str,
    key: str,
    now: dt.datetime | None = None,
) -> bool:
    """True when this conversation verified `key` (an order number, a ticket) lately."""
    return _verified(
        session,
        conversation_id,
        now,
        ConversationVerification.subject == subject,
        ConversationVerification.key == key,
    )


def contact_verified(
    session: Session,
    conversation_id: str,
    identifier: str,
    now: dt.datetime | None = None,
) -> bool:
    """True when this conversation proved something lately with this email or phone."""
    return _verified(
        session,
        conversation_id,
        now,
        ConversationVerification.identifier == identifier.strip().lower(),
    )
