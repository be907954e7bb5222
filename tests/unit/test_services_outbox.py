"""The outbox: due rows, leases, sending, back-off, settling, giving up, crashes.

Tried on a table of letters of its own (not the app's), so what is tested is the
mechanism alone; replies and updates are tested through it in
test_services_delivery.py and test_services_notifications.py. The outbox commits
its own transactions, so these tests use a database of their own (SQLite file and
PostgreSQL), emptied after each test.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest
from sqlalchemy import Column, Enum, ForeignKey, Integer, String, Text, delete, select
from sqlalchemy.orm import Session, declarative_base, sessionmaker
from twilio.base.exceptions import TwilioRestException

from bot import clock
from bot.models import UTCDateTime
from bot.services import outbox
from bot.services.outbox import LEASE, Outbox, Outcome, Settle
from tests.conftest import own_database

T0 = dt.datetime(2025, 11, 20, 15, 0, tzinfo=dt.timezone.utc)
S = dt.timedelta(seconds=1)

Base = declarative_base()  # not the app's metadata: these tables are the tests' own


class Post(str, enum.Enum):
    WAITING = "waiting"
    POSTED = "posted"
    RETURNED = "returned"
    HELD = "held"


class Letter(Base):  # type: ignore[valid-type, misc]
    __tablename__ = "test_outbox_letters"

    id = Column(Integer, primary_key=True)
    to = Column(String(50), nullable=False)
    status = Column(Enum(Post, native_enum=False, length=20), nullable=False)
    problem = Column(Text, nullable=True)
    posted_at = Column(UTCDateTime(), nullable=True)
    attempts = Column(Integer, default=0, nullable=False)
    next_attempt_at = Column(UTCDateTime(), nullable=True)


class Stamp(Base):  # type: ignore[valid-type, misc]
    """What a send writes beside its row: commits with the row's mark or not at all."""

    __tablename__ = "test_outbox_stamps"

    id = Column(Integer, primary_key=True)
    letter_id = Column(Integer, ForeignKey(Letter.id), nullable=False)


LETTERS: Outbox[Letter, Post] = Outbox(
    model=Letter,
    status=Letter.status,
    error=Letter.problem,
    done_at=Letter.posted_at,
    waiting=Post.WAITING,
    done=Post.POSTED,
    failed=Post.RETURNED,
    label="letter",
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    """Sessions on a database of this module's own, with the letters' tables."""
    with own_database(request.param, tmp_path_factory.mktemp("outbox")) as made:
        engine = made.kw["bind"]
        Base.metadata.create_all(engine)
        yield made
        Base.metadata.drop_all(engine)


@pytest.fixture(autouse=True)
def empty(factory: sessionmaker[Session]) -> Iterator[None]:
    yield
    with factory.begin() as session:
        session.execute(delete(Stamp))
        session.execute(delete(Letter))


class Crash(BaseException):
    """The process dies mid-send (nothing below `except Exception` sees it)."""


@dataclass
class Postman:
    """A send function: stamps each letter, or fails with `error`."""

    sent: list[tuple[str, dt.datetime]] = field(default_factory=list)
    error: BaseException | None = None
    sending: threading.Event = field(default_factory=threading.Event)
    release: threading.Event | None = None  # block inside the send until set

    def __call__(self, session: Session, letter: Letter, now: dt.datetime) -> None:
        self.sending.set()
        if self.release is not None:
            assert self.release.wait(10)
        session.add(Stamp(letter_id=letter.id))
        session.flush()
        if self.error is not None:
            raise self.error
        self.sent.append((letter.to, now))


def letter(
    factory: sessionmaker[Session], to: str = "Ada", at: dt.datetime = T0
) -> int:
    with factory.begin() as session:
        row = Letter(to=to, status=Post.WAITING, attempts=0, next_attempt_at=at)
        session.add(row)
        session.flush()
        return int(row.id)


def state(
    factory: sessionmaker[Session], letter_id: int
) -> tuple[Post, int, dt.datetime | None, str | None]:
    with factory() as session:
        row = session.get(Letter, letter_id)
        assert row is not None
        return row.status, row.attempts, row.next_attempt_at, row.problem


def stamps(factory: sessionmaker[Session]) -> list[int]:
    with factory() as session:
        return list(session.scalars(select(Stamp.letter_id).order_by(Stamp.id)))


# --- sending ----------------------------------------------------------------------


def test_a_due_row_is_sent_and_marked_done_with_what_send_wrote(
    factory: sessionmaker[Session],
) -> None:
    letter_id = letter(factory)
    postman = Postman()
    assert LETTERS.deliver(factory, letter_id, postman, T0 + S) == Outcome(
        letter_id, Post.POSTED
    )
    assert postman.sent == [("Ada", T0 + S)]
    assert state(factory, letter_id) == (Post.POSTED, 1, None, None)
    with factory() as session:
        assert session.get(Letter, letter_id).posted_at == T0 + S  # type: ignore[union-attr]
    assert stamps(factory) == [letter_id]
    assert (
        LETTERS.deliver(factory, letter_id, postman, T0 + dt.timedelta(hours=1)) is None
    )
    assert len(postman.sent) == 1


def test_rows_not_due_or_unknown_are_left_alone(
    factory: sessionmaker[Session],
) -> None:
    letter_id = letter(factory, at=T0 + dt.timedelta(minutes=5))
    postman = Postman()
    assert LETTERS.deliver(factory, letter_id, postman, T0) is None
    assert LETTERS.deliver(factory, letter_id + 1000, postman, T0) is None
    assert state(factory, letter_id) == (
        Post.WAITING,
        0,
        T0 + dt.timedelta(minutes=5),
        None,
    )
    assert postman.sent == []


def test_a_failure_undoes_what_send_wrote_and_backs_off(
    factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    letter_id = letter(factory)
    postman = Postman(error=ConnectionError("the post office is shut"))
    caplog.set_level(logging.WARNING, logger="bot.services.outbox")
    outcome = LETTERS.deliver(factory, letter_id, postman, T0)
    assert outcome == Outcome(letter_id, Post.WAITING, "the post office is shut")
    assert state(factory, letter_id) == (
        Post.WAITING,
        1,
        T0 + 15 * S,
        "the post office is shut",
    )
    assert stamps(factory) == []
    assert f"letter {letter_id} not sent: the post office is shut" in caplog.text
    assert LETTERS.deliver(factory, letter_id, postman, T0 + 14 * S) is None
    LETTERS.deliver(factory, letter_id, postman, T0 + 15 * S)
    assert state(factory, letter_id)[1:3] == (2, T0 + 45 * S)  # 30 s more
    postman.error = None
    assert LETTERS.deliver(factory, letter_id, postman, T0 + 45 * S) == Outcome(
        letter_id, Post.POSTED
    )
    assert state(factory, letter_id) == (Post.POSTED, 3, None, None)
    assert stamps(factory) == [letter_id]


def test_a_try_clears_the_previous_error_while_it_runs(
    factory: sessionmaker[Session],
) -> None:
    letter_id = letter(factory)
    LETTERS.deliver(factory, letter_id, Postman(error=RuntimeError("boom")), T0)
    with factory.begin() as session:
        assert LETTERS.lease(session, letter_id, T0 + 15 * S)
    assert state(factory, letter_id) == (Post.WAITING, 2, T0 + 15 * S + LEASE, None)


def test_settle_ends_the_row_with_its_status_and_reason(
    factory: sessionmaker[Session],
) -> None:
    letter_id = letter(factory)
    postman = Postman(error=Settle(Post.HELD, "the addressee asked us to hold it"))
    assert LETTERS.deliver(factory, letter_id, postman, T0) == Outcome(
        letter_id, Post.HELD, "the addressee asked us to hold it"
    )
    assert state(factory, letter_id) == (
        Post.HELD,
        1,
        None,
        "the addressee asked us to hold it",
    )
    assert stamps(factory) == []
    with factory() as session:
        assert LETTERS.due(session, T0 + dt.timedelta(days=1)) == []


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (
            TwilioRestException(400, "/Messages.json", "Invalid 'To'", 21211),
            (Post.RETURNED, "the customer's phone number is not valid", None),
        ),
        (
            TwilioRestException(503, "/Messages.json", "Service unavailable", 20500),
            (Post.WAITING, "Twilio error 20500: Service unavailable", T0 + 15 * S),
        ),
        (
            TwilioRestException(500, "/Messages.json", "Internal error"),
            (Post.WAITING, "Twilio error 500: Internal error", T0 + 15 * S),
        ),
    ],
)
def test_twilio_errors_are_permanent_or_retried_with_a_readable_message(
    factory: sessionmaker[Session],
    error: TwilioRestException,
    outcome: tuple[Post, str, dt.datetime | None],
) -> None:
    letter_id = letter(factory)
    status, message, next_attempt = outcome
    assert LETTERS.deliver(factory, letter_id, Postman(error=error), T0) == Outcome(
        letter_id, status, message
    )
    assert state(factory, letter_id) == (status, 1, next_attempt, message)


def test_errors_are_kept_short_and_never_empty(factory: sessionmaker[Session]) -> None:
    long_one, empty_one = letter(factory), letter(factory)
    LETTERS.deliver(factory, long_one, Postman(error=ValueError("x" * 900)), T0)
    LETTERS.deliver(factory, empty_one, Postman(error=ValueError()), T0)
    assert state(factory, long_one)[3] == "x" * outbox.MAX_ERROR_LENGTH
    assert state(factory, empty_one)[3] == "unknown error"


def test_an_outbox_with_a_limit_gives_up_after_it(
    factory: sessionmaker[Session],
) -> None:
    twice = replace(LETTERS, max_attempts=2)
    letter_id = letter(factory)
    postman = Postman(error=ConnectionError("shut"))
    assert twice.deliver(factory, letter_id, postman, T0) == Outcome(
        letter_id, Post.WAITING, "shut"
    )
    assert twice.deliver(factory, letter_id, postman, T0 + 15 * S) == Outcome(
        letter_id, Post.RETURNED, "gave up after 2 tries: shut"
    )
    assert state(factory, letter_id)[2] is None


# --- crashes and two senders at once -------------------------------------------------


def test_a_crash_between_lease_and_finish_is_retried_after_the_lease(
    factory: sessionmaker[Session],
) -> None:
    letter_id = letter(factory)
    with pytest.raises(Crash):
        LETTERS.deliver(factory, letter_id, Postman(error=Crash()), T0)
    assert state(factory, letter_id) == (Post.WAITING, 1, T0 + LEASE, None)
    assert stamps(factory) == []
    postman = Postman()
    with factory() as session:
        assert LETTERS.due(session, T0 + LEASE - S) == []
    assert LETTERS.deliver(factory, letter_id, postman, T0 + LEASE - S) is None
    assert LETTERS.deliver_due(factory, postman, T0 + LEASE) == [
        Outcome(letter_id, Post.POSTED)
    ]
    assert state(factory, letter_id) == (Post.POSTED, 2, None, None)
    assert postman.sent == [("Ada", T0 + LEASE)]


def test_two_senders_never_send_a_row_at_once(factory: sessionmaker[Session]) -> None:
    letter_id = letter(factory)
    release = threading.Event()
    postman = Postman(release=release)
    outcomes: list[Outcome[Post] | None] = []
    first = threading.Thread(
        target=lambda: outcomes.append(LETTERS.deliver(factory, letter_id, postman, T0))
    )
    first.start()
    try:
        assert postman.sending.wait(10)  # the first sender is inside the send
        other = Postman()
        assert LETTERS.deliver(factory, letter_id, other, T0 + S) is None
        assert LETTERS.deliver(factory, letter_id, other, T0 + LEASE - S) is None
        assert other.sent == []
    finally:
        release.set()
        first.join(10)
    assert outcomes == [Outcome(letter_id, Post.POSTED)]
    assert len(postman.sent) == 1


# --- the worker's round -----------------------------------------------------------------


def test_deliver_due_sends_what_is_due_oldest_first(
    factory: sessionmaker[Session],
) -> None:
    ada, bob = letter(factory, "Ada"), letter(factory, "Bob")
    later = letter(factory, "Cy", at=T0 + dt.timedelta(minutes=5))
    failing = letter(factory, "Di")
    postman = Postman()

    def send(session: Session, row: Letter, now: dt.datetime) -> None:
        if row.to == "Di":
            raise ConnectionError("no such street")
        postman(session, row, now)

    assert LETTERS.deliver_due(factory, send, T0) == [
        Outcome(ada, Post.POSTED),
        Outcome(bob, Post.POSTED),
        Outcome(failing, Post.WAITING, "no such street"),
    ]
    assert [to for to, _ in postman.sent] == ["Ada", "Bob"]
    assert LETTERS.deliver_due(factory, send, T0) == []
    with factory() as session:
        assert LETTERS.due(session, T0 + dt.timedelta(minutes=5)) == [later, failing]
        assert LETTERS.due(session, T0 + dt.timedelta(minutes=5), limit=1) == [later]
        assert LETTERS.due(session, T0 - S) == []


def test_without_a_time_each_row_is_leased_from_its_own_try(
    factory: sessionmaker[Session],
) -> None:
    """A round longer than a lease: the second row's try starts when it does."""
    first, second = letter(factory), letter(factory, "Bob")
    moment = [T0]
    postman = Postman()

    def slow(session: Session, row: Letter, now: dt.datetime) -> None:
        postman(session, row, now)
        moment[0] += 2 * LEASE  # sending took longer than a lease

    with clock.frozen_at(T0):
        clock.use_clock(lambda: moment[0])  # frozen_at puts the clock back
        outcomes = LETTERS.deliver_due(factory, slow)
    assert outcomes == [Outcome(first, Post.POSTED), Outcome(second, Post.POSTED)]
    assert postman.sent == [("Ada", T0), ("Bob", T0 + 2 * LEASE)]
