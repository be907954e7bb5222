"""The insights consumer: resumes where it committed, counts redeliveries once.

The SQL source is fed by Rasa's own SQLEventBroker; the RabbitMQ source by the
local RabbitMQ (127.0.0.1:5672, guest/guest, or TEST_RABBITMQ_URL) on a queue of
its own, declared the way Rasa's pika broker declares it.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rasa.core.brokers.sql import SQLEventBroker
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import launch
from bot.insights.consumer import Consumer, load_position
from bot.insights.schema import InsightConversation, InsightEventKey
from bot.insights.sources import BROKER_EVENTS, RabbitMQSource, SqlEventSource
from bot.services import insights
from tests.rabbitmq import delete_queue
from tests.unit.console.helpers import rows_removed_after
from tests.unit.insights_events import CONTEXT, Script

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture
def consumer(engine: Engine) -> Iterator[Consumer]:
    """A consumer committing to the test database (its rows removed afterwards)."""
    with rows_removed_after(engine):
        yield Consumer(
            factory=sessionmaker(bind=engine, future=True),
            context=CONTEXT,
            batch_size=7,
        )


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[SQLEventBroker]:
    """Rasa's SQL event broker writing to its own SQLite file."""
    made = SQLEventBroker(host=f"sqlite:///{tmp_path / 'events.db'}")
    yield made
    made.engine.dispose()


@pytest.fixture
def source(broker: SQLEventBroker) -> Iterator[SqlEventSource]:
    made = SqlEventSource.from_url(str(broker.engine.url))
    yield made
    made.close()


def publish(broker: SQLEventBroker, events: Sequence[dict[str, Any]]) -> None:
    for event in events:
        broker.publish(event)


def messages(consumer: Consumer, sender: str) -> list[int]:
    with consumer.factory() as session:
        return list(
            session.scalars(
                select(InsightConversation.messages)
                .where(InsightConversation.conversation_id == sender)
                .order_by(InsightConversation.id)
            )
        )


def event_keys(consumer: Consumer) -> int:
    with consumer.factory() as session:
        return int(
            session.scalar(select(func.count()).select_from(InsightEventKey)) or 0
        )


def test_drain_reads_everything_then_resumes_after_its_position(
    consumer: Consumer, broker: SQLEventBroker, source: SqlEventSource
) -> None:
    first = Script("sql-1").session().order_status()
    publish(broker, first.events)
    assert consumer.drain(source) == len(first.events)  # in batches of 7
    assert messages(consumer, "sql-1") == [2]
    with consumer.factory() as session:
        position = load_position(session, source.name)
    assert position == len(first.events)
    # Rows before the position are released; the last stays for SQLite's ids.
    assert source.read(0, 100)[0].id == position
    assert consumer.drain(source) == 0
    more = Script("sql-1", at=first.at).faq("can I return it?")
    publish(broker, more.events)
    assert consumer.drain(source) == len(more.events)
    assert messages(consumer, "sql-1") == [3]


def test_a_crash_between_commit_and_release_counts_nothing_twice(
    consumer: Consumer, broker: SQLEventBroker, source: SqlEventSource
) -> None:
    script = Script("sql-crash").session().order_status()
    publish(broker, script.events)
    rows = source.read(0, 100)
    events = [row.event for row in rows if row.event is not None]
    consumer.commit(events)  # committed, but the position was never stored
    assert consumer.drain(source) == len(rows)  # read again...
    assert messages(consumer, "sql-crash") == [2]  # ...and recognised
    assert event_keys(consumer) >= len(events)


def test_a_replaced_event_table_is_read_again_from_its_start(
    consumer: Consumer, broker: SQLEventBroker, source: SqlEventSource
) -> None:
    publish(broker, Script("sql-old").session().order_status().events)
    consumer.drain(source)
    with broker.engine.begin() as connection:  # a new, empty events database
        connection.execute(BROKER_EVENTS.delete())
    publish(broker, Script("sql-new").session().user("hi", "greet").events)
    assert consumer.drain(source) > 0
    assert messages(consumer, "sql-new") == [1]


def test_unreadable_rows_are_passed_over(
    consumer: Consumer, broker: SQLEventBroker, source: SqlEventSource
) -> None:
    with broker.engine.begin() as connection:
        connection.execute(BROKER_EVENTS.insert().values(sender_id="x", data="{oops"))
        connection.execute(BROKER_EVENTS.insert().values(sender_id="x", data="[1]"))
    publish(broker, Script("sql-after").session().user("hi", "greet").events)
    assert consumer.drain(source) == 6
    assert messages(consumer, "sql-after") == [1]


def test_no_table_yet_is_nothing_to_read(tmp_path: Path, consumer: Consumer) -> None:
    empty = SqlEventSource.from_url(f"sqlite:///{tmp_path / 'none.db'}")
    try:
        assert consumer.drain(empty) == 0
        assert empty.last_id() is None
    finally:
        empty.close()


def test_settle_runs_at_most_once_a_minute(
    consumer: Consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter([0.0, 30.0, 61.0])
    consumer.clock = lambda: next(ticks)
    calls: list[Session] = []
    monkeypatch.setattr(insights, "settle_outcomes", lambda s: calls.append(s) or 0)
    consumer.settle()
    consumer.settle()
    consumer.settle()
    assert len(calls) == 2


# --- RabbitMQ ----------------------------------------------------------------------


async def _rabbit_publish(queue: str, events: Sequence[dict[str, Any]]) -> None:
    """Publish as Rasa's pika broker does: persistent JSON to a fanout exchange."""
    import aio_pika

    connection = await aio_pika.connect_robust(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(queue, aio_pika.ExchangeType.FANOUT)
        declared = await channel.declare_queue(queue, durable=True)
        await declared.bind(exchange, "")
        for event in events:
            await exchange.publish(
                aio_pika.Message(
                    json.dumps(event).encode(),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="",
            )


async def _rabbit_waiting(queue: str) -> int:
    import aio_pika

    connection = await aio_pika.connect_robust(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True, passive=True)
        return int(declared.declaration_result.message_count or 0)


@pytest.fixture
def rabbit_queue() -> Iterator[str]:
    """A queue (and exchange) of this test's own on the local RabbitMQ."""
    name = f"switchboard_test_{uuid.uuid4().hex[:12]}"
    yield name
    asyncio.run(delete_queue(RABBITMQ_URL, name))


async def _consume_until(
    source: RabbitMQSource, consumer: Consumer, count: int, fail_first: int = 0
) -> list[int]:
    """Run the source until `count` events were handed over; what each commit added."""
    stop = asyncio.Event()
    handed: list[int] = []
    failures = [fail_first]

    def handle(events: Sequence[dict[str, Any]]) -> int:
        new = consumer.commit(events)
        if failures[0]:
            failures[0] -= 1
            raise RuntimeError("acknowledgement lost after the commit")
        handed.append(new)
        if sum(handed) >= count:
            stop.set()
        return new

    task = asyncio.create_task(source.run(handle, stop))
    try:
        await asyncio.wait_for(stop.wait(), timeout=30)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    return handed


def test_rabbitmq_events_waiting_in_the_queue_are_recorded_then_acknowledged(
    consumer: Consumer, rabbit_queue: str
) -> None:
    script = Script("amqp-1").session().order_status().faq("can I pay by card?")
    # Published while no consumer runs: the durable queue keeps them.
    asyncio.run(_rabbit_publish(rabbit_queue, script.events))
    source = RabbitMQSource(RABBITMQ_URL, rabbit_queue, batch_size=5, linger=0.05)
    handed = asyncio.run(_consume_until(source, consumer, len(script.events)))
    assert sum(handed) == len(script.events)
    assert messages(consumer, "amqp-1") == [3]
    assert asyncio.run(_rabbit_waiting(rabbit_queue)) == 0  # all acknowledged


def test_rabbitmq_a_batch_that_fails_is_retried_and_counted_once(
    consumer: Consumer, rabbit_queue: str
) -> None:
    script = Script("amqp-2").session().order_status()
    asyncio.run(_rabbit_publish(rabbit_queue, script.events))
    source = RabbitMQSource(
        RABBITMQ_URL, rabbit_queue, batch_size=50, linger=0.2, retry_delay=0.1
    )
    # The first commit goes through but "fails" before the acknowledgement: the
    # batch is handed over again and its events are recognised.
    asyncio.run(_consume_until(source, consumer, 0, fail_first=1))
    assert messages(consumer, "amqp-2") == [2]
    assert asyncio.run(_rabbit_waiting(rabbit_queue)) == 0


def test_rabbitmq_a_stopped_consumer_leaves_unacknowledged_events_queued(
    consumer: Consumer, rabbit_queue: str
) -> None:
    script = Script("amqp-3").session().user("hi", "greet")
    asyncio.run(_rabbit_publish(rabbit_queue, script.events))
    source = RabbitMQSource(
        RABBITMQ_URL, rabbit_queue, batch_size=50, linger=0.2, retry_delay=60
    )

    async def fail_then_stop() -> None:
        stop = asyncio.Event()

        def handle(events: Sequence[dict[str, Any]]) -> int:
            stop_later()
            raise RuntimeError("the database is down")

        loop = asyncio.get_running_loop()

        def stop_later() -> None:
            loop.call_soon_threadsafe(stop.set)

        await asyncio.wait_for(source.run(handle, stop), timeout=30)

    asyncio.run(fail_then_stop())
    assert asyncio.run(_rabbit_waiting(rabbit_queue)) == len(script.events)
    assert messages(consumer, "amqp-3") == []


def test_rabbitmq_events_published_by_rasas_broker(
    consumer: Consumer, rabbit_queue: str
) -> None:
    """Rasa's broker, configured as var/endpoints.yml configures it (bot/event_broker.py)."""
    from rasa.utils.endpoints import EndpointConfig

    from bot.event_broker import RabbitMQBroker

    config = launch.event_broker_config(RABBITMQ_URL, rabbit_queue)
    assert config["type"] == "bot.event_broker.RabbitMQBroker"
    script = Script("amqp-rasa").session().ask_for_person()

    async def rasa_publishes() -> None:
        broker = await RabbitMQBroker.from_endpoint_config(
            EndpointConfig.from_dict(config)
        )
        assert broker is not None
        for event in script.events:
            broker.publish(event)
        # Connected, then published, in background tasks.
        while broker._background_tasks or broker._exchange is None:
            await asyncio.sleep(0.05)
        await broker.close()

    asyncio.run(rasa_publishes())
    source = RabbitMQSource(RABBITMQ_URL, rabbit_queue, batch_size=50, linger=0.1)
    asyncio.run(_consume_until(source, consumer, len(script.events)))
    with consumer.factory() as session:
        row = session.scalars(
            select(InsightConversation).where(
                InsightConversation.conversation_id == "amqp-rasa"
            )
        ).one()
    assert (row.handed_off, row.handoff_reason) == (True, "asked")
