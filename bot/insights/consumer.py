"""The insights consumer (`python -m bot run insights`): Rasa's events into analytics.

Its core is `Consumer.commit`: record a batch of events (bot/insights/events.py)
and, for the SQL source, the position reached, in one transaction; the source lets
go of the events only after that commit (the SQL source deletes the rows before
the position, RabbitMQ gets its acknowledgements). So an event delivered twice
counts once, and a consumer that was down resumes where its last commit ended.
EVENT_BROKER_URL chooses the source: a SQL database (Rasa's SQL broker, polled
every INSIGHTS_INTERVAL seconds) or amqp:// (RabbitMQ). About once a minute it
also writes the outcome of conversations that can no longer change
(bot/services/insights.py `settle_outcomes`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.db import session_factory
from bot.insights.events import Context, Event, record_events
from bot.insights.schema import InsightPosition
from bot.insights.sources import RabbitMQSource, SqlEventSource
from bot.models import utcnow
from bot.services import insights
from bot.settings import Settings, is_rabbitmq

logger = logging.getLogger(__name__)

STARTED = "Insights consumer started"
BATCH_SIZE = 500
SETTLE_SECONDS = 60.0


def load_position(session: Session, source: str) -> int:
    """Where `source` resumes: the last position committed (0 at first)."""
    row = session.get(InsightPosition, source)
    return row.position if row is not None else 0


def save_position(session: Session, source: str, position: int) -> None:
    """Store `source`'s position in the caller's transaction."""
    row = session.get(InsightPosition, source)
    if row is None:
        session.add(
            InsightPosition(source=source, position=position, updated_at=utcnow())
        )
    else:
        row.position = position


@dataclass
class Consumer:
    """Records batches of events; knows nothing of where they come from."""

    factory: sessionmaker[Session]
    context: Context
    batch_size: int = BATCH_SIZE
    settle_every: float = SETTLE_SECONDS
    clock: Callable[[], float] = time.monotonic  # schedules the settling
    _next_settle: float | None = field(default=None, init=False)

    def commit(
        self, events: Sequence[Event], position: tuple[str, int] | None = None
    ) -> int:
        """Record `events` (and a source's new position) in one transaction.

        Returns how many events were new. Acknowledge the events only after it
        returned: until then nothing of them is stored.
        """
        with self.factory.begin() as session:
            new = record_events(session, events, self.context)
            if position is not None:
                save_position(session, *position)
        return new

    def drain(self, source: SqlEventSource) -> int:
        """Record everything the SQL broker has after the stored position.

        Returns how many rows were read. When the table's ids are below the stored
        position (its database was replaced), it starts again from the first row:
        events already counted are recognised by their keys.
        """
        read = 0
        while True:
            with self.factory() as session:
                position = load_position(session, source.name)
            last = source.last_id()
            if last is not None and last < position:
                logger.warning(
                    "the event table ends at id %d, before the stored position %d: "
                    "reading it again from the start",
                    last,
                    position,
                )
                position = 0
            rows = source.read(position, self.batch_size)
            if not rows:
                return read
            events = [row.event for row in rows if row.event is not None]
            new = self.commit(events, (source.name, rows[-1].id))
            source.release(rows[-1].id)
            read += len(rows)
            logger.debug(
                "recorded %d events (%d new) up to id %d", len(rows), new, rows[-1].id
            )

    def settle(self) -> None:
        """Write the outcomes that can no longer change, at most every minute."""
        now = self.clock()
        if self._next_settle is not None and now < self._next_settle:
            return
        self._next_settle = now + self.settle_every
        try:
            with self.factory.begin() as session:
                settled = insights.settle_outcomes(session)
            if settled:
                logger.info("settled the outcome of %d conversations", settled)
        except Exception:
            logger.exception("settling outcomes failed")

    def poll(
        self, source: SqlEventSource, interval: float, stop: threading.Event
    ) -> None:
        """Drain the SQL source every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                self.drain(source)
            except Exception:
                logger.exception("reading or recording events failed; retrying")
            self.settle()
            stop.wait(interval)


def run(settings: Settings) -> None:
    """Run the consumer in this process until SIGTERM or SIGINT."""
    if not settings.insights_interval > 0:
        raise ValueError(
            f"INSIGHTS_INTERVAL must be more than 0 seconds, got {settings.insights_interval}"
        )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    consumer = Consumer(
        factory=session_factory(settings.database_url),
        context=Context(
            secret=settings.secret_key, timezone=ZoneInfo(settings.timezone)
        ),
    )
    stop = threading.Event()
    on_stop: list[Callable[[], None]] = [stop.set]

    def request_stop(signum: int, frame: FrameType | None) -> None:
        logger.info("stopping (%s)", signal.Signals(signum).name)
        for action in on_stop:
            action()

    previous = {
        signum: signal.signal(signum, request_stop)
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        if is_rabbitmq(settings.event_broker_url):
            asyncio.run(_consume_rabbitmq(consumer, settings, on_stop))
        else:
            source = SqlEventSource.from_url(settings.event_broker_url)
            logger.info("%s: reading Rasa's SQL event broker", STARTED)
            try:
                consumer.poll(source, settings.insights_interval, stop)
            finally:
                source.close()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        consumer.factory.kw["bind"].dispose()
        logger.info("Insights consumer stopped")


async def _consume_rabbitmq(
    consumer: Consumer, settings: Settings, on_stop: list[Callable[[], None]]
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def stop_soon() -> None:
        loop.call_soon_threadsafe(stop.set)

    on_stop.append(stop_soon)
    source = RabbitMQSource(
        settings.event_broker_url,
        settings.event_broker_queue,
        batch_size=consumer.batch_size,
    )

    def handle(events: Sequence[Any]) -> int:
        new = consumer.commit(events)
        consumer.settle()
        return new

    def ready() -> None:
        logger.info(
            "%s: reading RabbitMQ queue %s", STARTED, settings.event_broker_queue
        )

    while not stop.is_set():
        try:
            await source.run(handle, stop, ready)
        except Exception as exc:  # aio-pika raises many kinds
            logger.error(
                "RabbitMQ unreachable (%s: %s); retrying in %g s",
                type(exc).__name__,
                exc,
                source.retry_delay,
            )
            try:
                await asyncio.wait_for(stop.wait(), timeout=source.retry_delay)
            except asyncio.TimeoutError:
                continue
