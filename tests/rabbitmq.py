"""RabbitMQ clean-up shared by the tests that declare a queue of their own."""

from __future__ import annotations


async def delete_queue(url: str, name: str) -> None:
    """Delete the queue `name` and the fanout exchange named after it."""
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name)
        await channel.exchange_delete(name)
