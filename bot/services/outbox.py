"""Rows stored first and sent after, at least once, by any number of senders.

Agent replies and notices (bot/services/delivery.py) and proactive updates
(bot/services/notifications.py) are outboxes: a committed row holds what to send,
and whichever process gets to it first sends it (the console right after a reply,
the worker on its timer). Those modules say what a row sends and what may stop it;
this one says how a row goes out, the same way for both:

| step | what happens | a crash here |
|---|---|---|
| due | waiting rows with `next_attempt_at` <= now, oldest first, BATCH at a time | nothing changed |
| lease | one conditional UPDATE (still waiting, still due) moves `next_attempt_at` to now + LEASE, counts the try and clears the last error; committed before sending | the row is due again when the lease runs out |
| send | the module's `send(session, row, now)`, in a transaction that also marks the row done (`done_at`): what it wrote commits with that mark or not at all | rolled back: due again when the lease runs out |
| finish | `Settle` raised: that status and reason, for good. A permanent Twilio error: failed. Any other error: waiting again after `retry_delay(attempts)` (15 s growing to 15 min), failed after `max_attempts` tries when the outbox has a limit | as for send |

The lease is compare-and-set: of two senders, only one UPDATE matches (SQLite
serialises writers; on PostgreSQL the second waits for the first's row lock and
re-checks its WHERE on the committed row), so a row is never sent twice at once.
A row being tried has no error: an error always describes a finished try (the
console's "Retry now" relies on it). Not the mail outbox of bot/mailer.py, which
an operator's relay drains.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Mapped, Session, sessionmaker
from sqlalchemy.orm.attributes import InstrumentedAttribute
from twilio.base.exceptions import TwilioRestException

from bot.models import utcnow

logger = logging.getLogger(__name__)

RETRY_DELAYS = (
    dt.timedelta(seconds=15),
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
)
# How long a sender holds a row it is sending (longer than Twilio's timeout).
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


class OutboxRow(Protocol):
    """The columns every outbox table shares (its status, error and time differ)."""

    id: Mapped[int]
    attempts: Mapped[int]
    next_attempt_at: Mapped[dt.datetime | None]


RowT = TypeVar("RowT", bound=OutboxRow)
StatusT = TypeVar("StatusT", bound=enum.Enum)
# Hands a leased row to its channel; raises on failure (or `Settle`).
Send = Callable[[Session, RowT, dt.datetime], None]


class Settle(Exception, Generic[StatusT]):
    """Raised by a send function: the row ends as `status`, unsent, for `reason`.

    For what no retry changes: the customer texted STOP, there is nobody to write
    to, a rule suppresses the message.
    """

    def __init__(self, status: StatusT, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Outcome(Generic[StatusT]):
    """What a try made of a row: its status, and the error or reason if not sent."""

    row_id: int
    status: StatusT
    error: str | None = None


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait before the next try after `attempts` failed ones."""
    return RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]


@dataclass(frozen=True)
class Outbox(Generic[RowT, StatusT]):
    """One outbox table: the columns that differ, its statuses, its retry limit."""

    model: type[RowT]
    status: InstrumentedAttribute  # where the row stands
    error: InstrumentedAttribute  # the last try's error, or why it was settled
    done_at: InstrumentedAttribute  # when it went out
    waiting: StatusT  # to send: due at `next_attempt_at`
    done: StatusT
    failed: StatusT
    label: str  # a row in the logs ("message 12")
    max_attempts: int | None = None  # None: retried until it goes out

    def due(self, session: Session, now: dt.datetime, limit: int = BATCH) -> list[int]:
        """Ids of the waiting rows whose next try is due, oldest first."""
        return list(
            session.scalars(
                select(self.model.id)
                .where(self.status == self.waiting, self.model.next_attempt_at <= now)
                .order_by(self.model.id)
                .limit(limit)
            )
        )

    def lease(self, session: Session, row_id: int, now: dt.datetime) -> bool:
        """Take the row for one try if it is still waiting and due (compare-and-set)."""
        result = session.execute(
            update(self.model)
            .where(
                self.model.id == row_id,
                self.status == self.waiting,
                self.model.next_attempt_at <= now,
            )
            .values(
                {
                    self.model.next_attempt_at: now + LEASE,
                    self.model.attempts: self.model.attempts + 1,
                    self.error: None,
                }
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)

    def deliver(
        self,
        factory: sessionmaker[Session],
        row_id: int,
        send: Send[RowT],
        now: dt.datetime | None = None,
    ) -> Outcome[StatusT] | None:
        """Try to send one row.

        Returns:
            What happened, or None when it is not due or someone else is sending it.
        """
        now = now or utcnow()
        with factory() as session:
            with session.begin():
                if not self.lease(session, row_id, now):
                    return None
            with session.begin():
                row = session.get(self.model, row_id)
                assert row is not None
                try:
                    send(session, row, now)
                except Exception as exc:  # whatever `send` wrote goes with it
                    session.rollback()
                    status, error = self._verdict(exc)
                    return self._finish(factory, row_id, status, error, now)
                setattr(row, self.status.key, self.done)
                setattr(row, self.done_at.key, now)
                setattr(row, self.error.key, None)
                row.next_attempt_at = None
        return Outcome(row_id, self.done)

    def deliver_due(
        self,
        factory: sessionmaker[Session],
        send: Send[RowT],
        now: dt.datetime | None = None,
    ) -> list[Outcome[StatusT]]:
        """Send every due row (the worker's round); what happened to each.

        Without `now`, each row is leased from the time its own try starts: a
        batch can take longer than a lease, and a lease counted from the batch's
        start could have run out before the row is even sent.
        """
        with factory() as session:
            ids = self.due(session, now or utcnow())
        outcomes = []
        for row_id in ids:
            outcome = self.deliver(factory, row_id, send, now)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def _verdict(self, exc: Exception) -> tuple[StatusT, str]:
        """The status and error a failed send leaves the row in."""
        if isinstance(exc, Settle):
            return exc.status, exc.reason
        if isinstance(exc, TwilioRestException):
            if exc.code in PERMANENT_TWILIO_ERRORS:
                return self.failed, PERMANENT_TWILIO_ERRORS[exc.code]
            # Not str(exc): on a terminal that is a coloured, multi-line banner.
            error = f"Twilio error {exc.code or exc.status}: {exc.msg}"
        else:  # any other channel or database failure is retried
            error = str(exc)
        return self.waiting, error

    def _finish(
        self,
        factory: sessionmaker[Session],
        row_id: int,
        status: StatusT,
        error: str,
        now: dt.datetime,
    ) -> Outcome[StatusT]:
        with factory.begin() as session:
            row = session.get(self.model, row_id)
            assert row is not None
            if status == self.waiting:
                logger.warning("%s %s not sent: %s", self.label, row_id, error)
                if self.max_attempts is not None and row.attempts >= self.max_attempts:
                    status = self.failed
                    error = f"gave up after {row.attempts} tries: {error}"
            error = error[:MAX_ERROR_LENGTH] or "unknown error"
            setattr(row, self.status.key, status)
            setattr(row, self.error.key, error)
            row.next_attempt_at = (
                now + retry_delay(row.attempts) if status == self.waiting else None
            )
        return Outcome(row_id, status, error)
