"""Rasa's RabbitMQ event broker, never holding up the assistant (EVENT_BROKER_URL).

Rasa 3.6's pika broker connects while the server starts, retrying for 100 s and
then failing the start, and drops the events published before it is connected.
This one lets the server start at once and connects in the background, logging an
error at every failed attempt; events wait in memory meanwhile (the newest
MAX_WAITING; an error is logged for each one dropped) and are published once it
is connected. After that, aio-pika's robust connection reconnects by itself and
Rasa keeps the events that could not be published meanwhile. Closing (the server
stopping) first publishes the events under way, for up to CLOSE_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import AbstractEventLoop
from collections import deque
from typing import Any

import rasa.shared.core.events  # noqa: F401 (Rasa's pika module uses it, unimported)
from rasa.core.brokers.pika import PikaEventBroker
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

MAX_WAITING = 10_000
RETRY_SECONDS = 5.0
CLOSE_SECONDS = 3.0  # for the events under way at close


class RabbitMQBroker(PikaEventBroker):
    """Publishes Rasa's events to RabbitMQ, connecting in the background."""

    def __init__(self, host: str, **kwargs: Any) -> None:
        # One attempt at a time, with no pause inside Rasa's own loop: each retry
        # is made and logged here, every `retry_seconds`.
        self.retry_seconds = float(kwargs.pop("retry_delay_in_seconds", RETRY_SECONDS))
        kwargs.update(connection_attempts=1, retry_delay_in_seconds=0)
        super().__init__(host, **kwargs)
        self._unpublished_events: deque[dict[str, Any]] = deque(maxlen=MAX_WAITING)
        self._connecting: asyncio.Task[None] | None = None

    @classmethod
    async def from_endpoint_config(
        cls,
        broker_config: EndpointConfig | None,
        event_loop: AbstractEventLoop | None = None,
    ) -> RabbitMQBroker | None:
        """The broker, connecting in the background (None without a config)."""
        if broker_config is None:
            return None
        broker = cls(broker_config.url, **broker_config.kwargs, event_loop=event_loop)
        task = broker._loop.create_task(broker._connect_in_background())
        broker._background_tasks.add(task)
        task.add_done_callback(broker._background_tasks.discard)
        broker._connecting = task
        return broker

    async def close(self) -> None:
        """Publish the events under way, then close (Rasa calls it as it stops).

        Rasa's `publish` starts a task per event; closing the connection under them
        dropped the events of the last turns before a SIGTERM.
        """
        if self._connecting is not None:
            self._connecting.cancel()
        publishing = self._background_tasks - {self._connecting}
        if publishing:
            await asyncio.wait(publishing, timeout=CLOSE_SECONDS)
        await super().close()

    async def _connect_in_background(self) -> None:
        while True:
            try:
                await self.connect()
            except Exception as exc:  # aio-pika raises many kinds
                logger.error(
                    "RabbitMQ at %s is unreachable (%s: %s): %d conversation "
                    "events wait to be published; retrying in %g s",
                    self.host,
                    type(exc).__name__,
                    exc,
                    len(self._unpublished_events),
                    self.retry_seconds,
                )
                await asyncio.sleep(self.retry_seconds)
                continue
            logger.info(
                "RabbitMQ connected: publishing %d waiting events",
                len(self._unpublished_events),
            )
            self._publish_unpublished_messages()
            return

    async def _publish(
        self, event: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        if self._exchange is None:  # not connected yet: Rasa would drop it
            if len(self._unpublished_events) == self._unpublished_events.maxlen:
                logger.error(
                    "RabbitMQ unreachable and %d events waiting: the oldest is "
                    "dropped",
                    self._unpublished_events.maxlen,
                )
            self._unpublished_events.append(event)
            return
        await super()._publish(event, headers)
