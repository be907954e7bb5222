"""Counting verification attempts so that guessing is bounded; recording what passed.

Attempts are stored in the database, so a new conversation, a `/restart` or a
session timeout does not reset them. Three limits apply (all configurable):
failures in this conversation, failures against one order number or ticket
reference, and failures with one email or phone, the last two over a time window.

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


def throttled(
    session: Session,
    key: str,
    identifier: str,
    limits: Limits,
    now: dt.datetime | None = None,
) -> bool:
    """True when `key` or `identifier` was guessed at too often recently."""
    since = (now or utcnow()) - limits.window
    recent = VerificationAttempt.attempted_at >= since
    return (
        _failures(session, recent, VerificationAttempt.key == key) >= limits.per_key
        or _failures(session, recent, VerificationAttempt.identifier == identifier)
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
) -> None:
    """Store one attempt (the audit trail, and what the limits count)."""
    session.add(
        VerificationAttempt(
            subject=subject,
            key=key,
            identifier=identifier.strip().lower(),
            conversation_id=conversation_id,
            succeeded=succeeded,
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
