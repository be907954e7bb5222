"""The Redis lock store several Rasa instances share (bot/lock_store.py), on Redis."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from rasa.core.lock_store import LockError
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import SharedLockStore
from bot.shared_state import SharedState


def store(
    prefix: str, port: int = 6379, ticket_seconds: float = 10.0
) -> SharedLockStore:
    """A lock store as Rasa builds it from our endpoints file (one per instance)."""
    return SharedLockStore(
        EndpointConfig(
            "127.0.0.1",
            port=port,
            db=0,
            key_prefix=prefix,
            ticket_seconds=ticket_seconds,
        )
    )


def test_tickets_taken_at_the_same_moment_on_two_instances_are_all_distinct(
    shared_state: SharedState,
) -> None:
    # Rasa's own RedisLockStore reads, changes and writes back: the same 40 tickets
    # came out as 9 distinct numbers, and its lock kept 8 of them.
    instances = [store(shared_state.prefix), store(shared_state.prefix)]
    start = threading.Barrier(8)

    def take(worker: int) -> list[int]:
        start.wait()
        return [instances[worker % 2].issue_ticket("c1") for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        numbers = [n for taken in pool.map(take, range(8)) for n in taken]
    assert sorted(numbers) == list(range(40))
    lock = instances[0].get_lock("c1")
    assert lock is not None and len(lock.tickets) == 40


async def test_turns_of_one_conversation_run_one_at_a_time_in_ticket_order(
    shared_state: SharedState,
) -> None:
    instances = [store(shared_state.prefix), store(shared_state.prefix)]
    running: list[str] = []
    log: list[tuple[str, str]] = []

    async def turn(name: str, instance: SharedLockStore) -> None:
        async with instance.lock("c2"):
            running.append(name)
            assert running == [name], "two turns at once"
            log.append(("start", name))
            await asyncio.sleep(0.05)
            log.append(("end", name))
            running.remove(name)

    names = [f"m{n}" for n in range(6)]
    tasks = []
    for n, name in enumerate(names):
        tasks.append(asyncio.ensure_future(turn(name, instances[n % 2])))
        await asyncio.sleep(0.01)  # each takes its ticket before the next
    await asyncio.gather(*tasks)
    assert [name for kind, name in log if kind == "start"] == names
    assert instances[0].get_lock("c2") is None  # gone with its last ticket


async def test_a_ticket_in_use_is_renewed_and_a_dead_one_expires(
    shared_state: SharedState,
) -> None:
    alive = store(shared_state.prefix, ticket_seconds=0.5)
    async with alive.lock("c3"):
        await asyncio.sleep(1.2)  # longer than a ticket lives: renewed meanwhile
        lock = alive.get_lock("c3")
        assert lock is not None and len(lock.tickets) == 1
    # An instance that died holding a ticket (it never renews it again).
    dead = store(shared_state.prefix, ticket_seconds=0.5)
    dead.issue_ticket("c4")
    started = time.monotonic()
    async with alive.lock("c4"):
        waited = time.monotonic() - started
    assert 0.3 < waited < 2.0


async def test_without_redis_no_message_is_handled(closed_port: int) -> None:
    down = store("sbdown", port=closed_port)
    with pytest.raises(LockError, match="lock store \\(Redis\\) is unreachable"):
        async with down.lock("c5"):
            raise AssertionError("handled without a lock")
