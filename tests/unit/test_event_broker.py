"""Rasa's RabbitMQ broker as Switchboard runs it (bot/event_broker.py), on RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from rasa.utils.endpoints import EndpointConfig

from bot import event_broker
from bot.event_broker import RabbitMQBroker
from bot.launch import event_broker_config
from bot.settings import LOCAL_RABBITMQ_URL
from tests.rabbitmq import delete_queue


def config(url: str, queue: str) -> EndpointConfig:
    """The broker's endpoint config, as var/endpoints.yml gives it to Rasa."""
    return EndpointConfig.from_dict(event_broker_config(url, queue))


def event(n: int) -> dict[str, Any]:
    return {"event": "user", "text": f"message {n}", "sender_id": "c1"}


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    """A queue (and exchange) of this test's own on the machine's RabbitMQ."""
    name = "sbunit" + uuid.uuid4().hex[:10]
    yield name
    await delete_queue(LOCAL_RABBITMQ_URL, name)


async def test_rabbitmq_down_holds_up_nothing_and_events_wait(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    url = f"amqp://guest:guest@127.0.0.1:{closed_port}/"
    broker = await RabbitMQBroker.from_endpoint_config(config(url, "q"))
    assert broker is not None
    assert time.monotonic() - started < 1  # Rasa's own would try for 100 s
    with caplog.at_level(logging.ERROR, logger="bot.event_broker"):
        for n in range(3):
            broker.publish(event(n))
        await asyncio.sleep(0.2)
    assert not broker.is_ready()
    assert list(broker._unpublished_events) == [event(n) for n in range(3)]
    message = f"RabbitMQ at amqp://127.0.0.1:{closed_port}/ is unreachable"
    assert any(message in record.getMessage() for record in caplog.records)
    assert "guest" not in caplog.text  # no password in the logs
    await broker.close()


async def test_past_the_limit_the_oldest_waiting_event_is_dropped_loudly(
    closed_port: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(event_broker, "MAX_WAITING", 2)
    url = f"amqp://guest:guest@127.0.0.1:{closed_port}/"
    broker = await RabbitMQBroker.from_endpoint_config(config(url, "q"))
    assert broker is not None
    with caplog.at_level(logging.ERROR, logger="bot.event_broker"):
        for n in range(3):
            broker.publish(event(n))
        await asyncio.sleep(0.2)
    assert list(broker._unpublished_events) == [event(1), event(2)]
    assert "the oldest is dropped" in caplog.text
    await broker.close()


async def test_events_published_before_the_connection_reach_the_queue(
    queue: str,
) -> None:
    broker = await RabbitMQBroker.from_endpoint_config(
        config(LOCAL_RABBITMQ_URL, queue)
    )
    assert broker is not None
    for n in range(3):  # before the background connection is made
        broker.publish(event(n))
    deadline = time.monotonic() + 20
    while not broker.is_ready() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    broker.publish(event(3))
    received = []
    connection = await aio_pika.connect(LOCAL_RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True)
        while len(received) < 4 and time.monotonic() < deadline:
            message = await declared.get(fail=False, timeout=5)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            received.append(json.loads(message.body))
    await broker.close()
    assert received == [event(n) for n in range(4)]


async def test_closing_publishes_the_events_under_way_first(queue: str) -> None:
    """As Rasa stops: the last turns' events, just published, reach the queue."""
    broker = await RabbitMQBroker.from_endpoint_config(
        config(LOCAL_RABBITMQ_URL, queue)
    )
    assert broker is not None
    deadline = time.monotonic() + 20
    while not broker.is_ready() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for n in range(50):
        broker.publish(event(n))
    await broker.close()  # at once, the publishing tasks under way
    connection = await aio_pika.connect(LOCAL_RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True)
        assert declared.declaration_result.message_count == 50
