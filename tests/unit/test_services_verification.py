"""What a conversation verified, recorded server-side (issue 8, item 1)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import ConversationVerification
from bot.services.verification import (
    contact_verified,
    is_verified,
    record_verification,
)

NOW = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)


def record(session: Session, conversation: str = "c1", at: dt.datetime = NOW) -> None:
    record_verification(
        session,
        conversation_id=conversation,
        subject="order",
        key="104257",
        identifier=" Jane.Doe@example.com ",
        valid_for=HOUR,
        now=at,
    )


def test_a_recorded_verification_counts_in_its_conversation(session: Session) -> None:
    record(session)
    assert is_verified(session, "c1", "order", "104257", NOW)
    assert contact_verified(session, "c1", "jane.doe@example.com", NOW)
    assert contact_verified(session, "c1", "JANE.DOE@example.com", NOW)


def test_nothing_else_counts(session: Session) -> None:
    record(session)
    assert not is_verified(session, "c2", "order", "104257", NOW)  # other conversation
    assert not is_verified(session, "c1", "order", "112233", NOW)  # other order
    assert not is_verified(session, "c1", "ticket", "104257", NOW)  # other subject
    assert not contact_verified(session, "c2", "jane.doe@example.com", NOW)
    assert not contact_verified(session, "c1", "sam.lee@example.com", NOW)


def test_a_verification_expires(session: Session) -> None:
    record(session)
    assert is_verified(session, "c1", "order", "104257", NOW + HOUR - dt.timedelta(1))
    assert not is_verified(session, "c1", "order", "104257", NOW + HOUR)
    assert not contact_verified(session, "c1", "jane.doe@example.com", NOW + HOUR)


def test_expired_records_are_removed(session: Session) -> None:
    record(session, "old", at=NOW - 2 * HOUR)
    record(session, "new")
    conversations = session.scalars(select(ConversationVerification.conversation_id))
    assert list(conversations) == ["new"]
    assert session.scalar(select(func.count(ConversationVerification.id))) == 1
