"""Verification limits: per requester, and per key/identifier by distinct requesters."""

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.models import VerificationAttempt
from bot.services import verification
from tests.conftest import START

LIMITS = verification.Limits(per_conversation=3, per_key=5, per_identifier=5)


def attempt(
    session: Session,
    requester: str,
    *,
    key: str = "104257",
    identifier: str = "wrong@example.com",
    throttled: bool = False,
    at: dt.datetime = START,
) -> None:
    verification.record_attempt(
        session,
        subject="order",
        key=key,
        identifier=identifier,
        conversation_id=requester,
        succeeded=False,
        requester=f"conversation:{requester}",
        throttled=throttled,
    )
    session.execute(
        update(VerificationAttempt)
        .where(VerificationAttempt.attempted_at > at)
        .values(attempted_at=at)
    )


def is_throttled(session: Session, at: dt.datetime, requester: str = "other") -> bool:
    return verification.throttled(
        session,
        "104257",
        "jane.doe@example.com",
        LIMITS,
        now=at,
        requester=f"conversation:{requester}",
    )


def test_requesters_are_what_the_channel_vouches_for() -> None:
    assert verification.requester_of("c1", "+14155550134") == "phone:+14155550134"
    assert verification.requester_of("c1", None, 7) == "customer:7"
    assert verification.requester_of("c1") == "conversation:c1"


def test_one_requester_never_locks_a_key(session: Session) -> None:
    for _ in range(20):
        attempt(session, "attacker")
    assert not is_throttled(session, START)
    assert is_throttled(session, START, requester="attacker")  # its own limit


def test_one_requester_never_locks_an_email(session: Session) -> None:
    # Spraying the customer's email over many order numbers, from one requester.
    for n in range(20):
        attempt(
            session, "attacker", key=f"10{n:04d}", identifier="jane.doe@example.com"
        )
    assert not is_throttled(session, START)


def test_distinct_requesters_lock_a_key(session: Session) -> None:
    for n in range(4):
        attempt(session, f"guesser-{n}")
    assert not is_throttled(session, START)
    attempt(session, "guesser-4")
    assert is_throttled(session, START)


def test_refused_attempts_do_not_keep_a_lock_alive(session: Session) -> None:
    for n in range(5):
        attempt(session, f"guesser-{n}")
    later = START + dt.timedelta(minutes=50)
    for n in range(10):
        attempt(session, f"late-{n}", throttled=True, at=later)
    assert is_throttled(session, later)
    assert not is_throttled(session, START + dt.timedelta(minutes=61))
