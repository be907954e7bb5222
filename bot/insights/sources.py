"""Where the insights consumer reads Rasa's events: a SQL table or a RabbitMQ queue.

Both hand the consumer's core (`bot/insights/consumer.py`: record, commit) batches
of events in the order Rasa published them, and let go of them only after the
commit:

- `SqlEventSource`: the `events` table of Rasa's SQL event broker (id, sender_id,
  data as JSON), read in id order after the position stored with the analytics
  (`insights_positions`), in the same transaction, so the consumer resumes exactly
  where its last commit left off. Rows before the position are deleted once
  committed (the last one stays, so SQLite keeps counting ids up). Rasa publishes
  from one process, in order; with several Rasa servers use RabbitMQ, since rows
  committed out of id order could be passed over.
- `RabbitMQSource`: the durable queue Rasa's pika broker publishes to through a
  fanout exchange of the same name; messages are acknowledged after the commit,
  so a consumer that stops loses nothing, and one redelivered after a lost
  acknowledgement is recognised by its key. A batch that cannot be committed
  (the database is down) is retried in place, so events stay in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Engine

from bot.db import make_engine

logger = logging.getLogger(__name__)

# Rasa's SQLEventBroker table (rasa/core/brokers/sql.py), in Rasa's own database.
BROKER_EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", Text),
)

Event = dict[str, Any]


def parse_event(raw: str | bytes | None) -> Event | None:
    """An event from its JSON text; None (and a log line) when it is not one."""
    try:
        event = json.loads(raw or "")
    except (TypeError, ValueError):
        logger.error("an event that is not JSON was skipped: %.200r", raw)
        return None
    if not isinstance(event, dict):
        logger.error("an event that is not a JSON object was skipped: %.200r", raw)
        return None
    return event


@dataclass(frozen=True)
class Row:
    """One row of the broker's table: its id and its event (None if unreadable)."""

    id: int
    event: Event | None


class SqlEventSource:
    """Rasa's SQL event broker table, read in id order."""

    name = "rasa_sql_events"  # its row in insights_positions

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._table_seen = False

    @classmethod
    def from_url(cls, url: str) -> SqlEventSource:
        """The source for EVENT_BROKER_URL (the database Rasa's SQL broker writes)."""
        return cls(make_engine(url))

    def _ready(self) -> bool:
        # Rasa creates the table when its server starts, maybe after this process.
        if not self._table_seen:
            self._table_seen = inspect(self.engine).has_table(BROKER_EVENTS.name)
        return self._table_seen

    def read(self, after: int, limit: int) -> list[Row]:
        """Up to `limit` rows with an id above `after`, oldest first."""
        if not self._ready():
            return []
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(BROKER_EVENTS.c.id, BROKER_EVENTS.c.data)
                .where(BROKER_EVENTS.c.id > after)
                .order_by(BROKER_EVENTS.c.id)
                .limit(limit)
            ).all()
        return [Row(row.id, parse_event(row.data)) for row in rows]

    def last_id(self) -> int | None:
        """The highest id in the table (None when it is empty or not there yet)."""
        if not self._ready():
            return None
        with self.engine.connect() as connection:
            found: int | None = connection.scalar(select(func.max(BROKER_EVENTS.c.id)))
        return found

    def release(self, position: int) -> None:
        """Delete the rows before `position`, which are committed to the analytics."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(BROKER_EVENTS).where(BROKER_EVENTS.c.id < position)
            )

    def close(self) -> None:
        self.engine.dispose()


Handle = Callable[[Sequence[Event]], int]


class RabbitMQSource:
    """A durable RabbitMQ queue, acknowledged after each batch is committed."""

    def __init__(
        self,
        url: str,
        queue: str,
        batch_size: int = 200,
        linger: float = 0.2,
        retry_delay: float = 5.0,
    ) -> None:
        self.url = url
        self.queue = queue
        self.batch_size = batch_size
        self.linger = linger  # how long a batch waits to fill up
        self.retry_delay = retry_delay

    async def run(
        self,
        handle: Handle,
        stop: asyncio.Event,
        ready: Callable[[], None] = lambda: None,
    ) -> None:
        """Pass batches to `handle` (which commits) until `stop` is set; ack after.

        `handle` runs in a thread, so the connection's heartbeats go on meanwhile.
        When it fails (the database is down), the batch goes back to the queue and
        is tried again after `retry_delay` seconds.
        """
        import aio_pika

        connection = await aio_pika.connect_robust(self.url)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self.batch_size)
            # Declared as Rasa's broker declares them (a fanout exchange named after
            # the queue), so events wait in the queue whichever process starts first.
            exchange = await channel.declare_exchange(
                self.queue, aio_pika.ExchangeType.FANOUT
            )
            queue = await channel.declare_queue(self.queue, durable=True)
            await queue.bind(exchange, "")
            waiting: asyncio.Queue[Any] = asyncio.Queue()
            tag = await queue.consume(waiting.put, no_ack=False)
            ready()
            try:
                while not stop.is_set():
                    batch = await self._collect(waiting, stop)
                    if batch:
                        await self._deliver(batch, handle, stop)
            finally:
                await queue.cancel(tag)

    async def _collect(
        self, waiting: asyncio.Queue[Any], stop: asyncio.Event
    ) -> list[Any]:
        """The next batch: what arrives within `linger` of the first message."""
        try:
            first = await asyncio.wait_for(waiting.get(), timeout=0.5)
        except asyncio.TimeoutError:
            return []
        batch = [first]
        deadline = asyncio.get_running_loop().time() + self.linger
        while len(batch) < self.batch_size and not stop.is_set():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(waiting.get(), timeout=left))
            except asyncio.TimeoutError:
                break
        return batch

    async def _deliver(
        self, batch: list[Any], handle: Handle, stop: asyncio.Event
    ) -> None:
        """Commit the batch (retrying until it works), then acknowledge it.

        A failed batch is kept and tried again rather than sent back to the queue:
        the messages behind it are already here, and events must be recorded in
        order. Stopping meanwhile leaves it unacknowledged, so RabbitMQ keeps it.
        """
        parsed = [(message, parse_event(message.body)) for message in batch]
        events = [event for _, event in parsed if event is not None]
        while True:
            try:
                await asyncio.to_thread(handle, events)
                break
            except Exception:
                logger.exception(
                    "%d events not recorded; retrying in %g s",
                    len(events),
                    self.retry_delay,
                )
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.retry_delay)
                return
            except asyncio.TimeoutError:
                continue
        for message, event in parsed:
            if event is None:
                await message.reject(requeue=False)  # never readable: not retried
            else:
                await message.ack()
