"""Shared state in Redis: one-time keys, counted entries, signals (the real server)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.shared_state import Admitted, Full, SharedState, SharedStateDown


def test_a_key_is_taken_once_until_given_back(shared_state: SharedState) -> None:
    assert shared_state.take("once", "k1", ttl=60)
    assert not shared_state.take("once", "k1", ttl=60)
    assert shared_state.take("once", "k2", ttl=60)  # another key
    shared_state.give_back("once", "k1")
    assert shared_state.take("once", "k1", ttl=60)
    assert shared_state.client.pttl(shared_state.key("once", "k1")) > 50_000


def test_of_many_takers_at_once_exactly_one_wins(shared_state: SharedState) -> None:
    start = threading.Barrier(8)

    def take(_: int) -> bool:
        start.wait()
        return shared_state.take("once", "contested", ttl=60)

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(take, range(8))) == [False] * 7 + [True]


def test_admit_counts_under_every_key_until_one_is_full(
    shared_state: SharedState,
) -> None:
    def admit(now: float) -> Admitted | Full:
        return shared_state.admit(
            ["a", "b"], [3, 2], score=now, cutoff=now - 10, ttl=10
        )

    first = admit(100.0)
    assert isinstance(first, Admitted)
    assert isinstance(admit(101.0), Admitted)
    # "b" has its 2: refused, and nothing counted (not even under "a").
    assert admit(102.0) == Full(index=1, oldest=100.0)
    assert shared_state.oldest("a", cutoff=0) == (2, 100.0)
    shared_state.remove(["a", "b"], first.member)
    assert shared_state.oldest("b", cutoff=0) == (1, 101.0)
    assert isinstance(admit(103.0), Admitted)
    # Entries at or below the cutoff no longer count.
    assert isinstance(admit(111.5), Admitted)
    assert shared_state.oldest("b", cutoff=101.5) == (2, 103.0)


def test_admit_is_atomic_across_clients(shared_state: SharedState) -> None:
    start = threading.Barrier(10)

    def admit(_: int) -> bool:
        start.wait()
        found = shared_state.admit(["slots"], [4], score=1.0, cutoff=0.0, ttl=60)
        return isinstance(found, Admitted)

    with ThreadPoolExecutor(10) as pool:
        assert sum(pool.map(admit, range(10))) == 4


def test_forget_drops_a_key(shared_state: SharedState) -> None:
    shared_state.admit(["x"], [5], score=1.0, cutoff=0.0, ttl=60)
    shared_state.forget("x")
    assert shared_state.oldest("x", cutoff=0) == (0, None)


def test_signals_reach_subscribers(shared_state: SharedState) -> None:
    subscription = shared_state.subscribe("chat")
    try:
        assert shared_state.signalled(subscription, 0.2) is None
        shared_state.publish("chat", "web-abc:def")
        signalled = None
        for _ in range(20):  # the subscription's confirmation comes first
            signalled = shared_state.signalled(subscription, 0.2)
            if signalled is not None:
                break
        assert signalled == "web-abc:def"
    finally:
        subscription.close()


def test_every_operation_says_when_redis_is_down(redis_down: SharedState) -> None:
    with pytest.raises(SharedStateDown):
        redis_down.ping()
    with pytest.raises(SharedStateDown):
        redis_down.take("once", "k", ttl=1)
    with pytest.raises(SharedStateDown):
        redis_down.admit(["a"], [1], score=1.0, cutoff=0.0, ttl=1)
    with pytest.raises(SharedStateDown):
        redis_down.publish("chat", "c")
    with pytest.raises(SharedStateDown):
        redis_down.subscribe("chat")
