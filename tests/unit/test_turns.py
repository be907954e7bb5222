"""The slow-turn runner shared by the SMS and phone channels (channels/turns.py).

A turn that never ends before it is released always outlives the wait, so these
tests take no chances with timing.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from channels.turns import Replies, SlowTurns, TurnTooSlow

REPLIES: Replies = [{"text": "Your order has shipped."}]


class Turn:
    """An assistant turn that ends when released, with REPLIES or an error."""

    def __init__(self, fail: bool = False) -> None:
        self.release = asyncio.Event()
        self.fail = fail

    async def __call__(self) -> Replies:
        await self.release.wait()
        if self.fail:
            raise RuntimeError("action server down")
        return list(REPLIES)


class Late:
    """A `late` handler that records what it got."""

    def __init__(self, fail: bool = False) -> None:
        self.got: list[Replies | None] = []
        self.fail = fail

    async def __call__(self, replies: Replies | None) -> None:
        self.got.append(replies)
        if self.fail:
            raise RuntimeError("database down")


async def test_a_turn_in_time_is_answered_by_the_waiter() -> None:
    turns, turn, late = SlowTurns(timeout=5), Turn(), Late()
    task = turns.start(turn(), late)
    turn.release.set()
    assert await turns.wait(task) == REPLIES
    assert late.got == [] and turns.running == frozenset()


async def test_a_failure_in_time_reaches_the_waiter() -> None:
    turns, turn, late = SlowTurns(timeout=5), Turn(fail=True), Late()
    task = turns.start(turn(), late)
    turn.release.set()
    with pytest.raises(RuntimeError, match="action server down"):
        await turns.wait(task)
    assert late.got == []


async def test_a_slow_turn_keeps_running_and_goes_to_its_late_handler() -> None:
    turns, turn, late = SlowTurns(timeout=0.01), Turn(), Late()
    task = turns.start(turn(), late)
    with pytest.raises(TurnTooSlow):
        await turns.wait(task)
    assert turns.running == {task}  # referenced: not garbage-collected
    turn.release.set()
    await task
    assert late.got == [REPLIES] and turns.running == frozenset()


async def test_a_slow_turn_that_fails_hands_over_none() -> None:
    turns, turn, late = SlowTurns(timeout=0.01), Turn(fail=True), Late()
    task = turns.start(turn(), late)
    with pytest.raises(TurnTooSlow):
        await turns.wait(task)
    turn.release.set()
    await asyncio.wait({task})
    assert late.got == [None] and turns.running == frozenset()


async def test_a_failing_late_handler_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    turns, turn, late = SlowTurns(timeout=0.01), Turn(), Late(fail=True)
    task = turns.start(turn(), late)
    with pytest.raises(TurnTooSlow):
        await turns.wait(task)
    turn.release.set()
    with caplog.at_level(logging.ERROR, logger="channels.turns"):
        assert await task == REPLIES
    assert "the outcome of a slow turn was lost" in caplog.text


async def test_a_turn_is_found_by_its_key_until_it_ends_or_is_forgotten() -> None:
    turns, first, second = SlowTurns(timeout=5), Turn(), Turn()
    task = turns.start(first(), Late(), key="CA1")
    assert turns.current("CA1") is task and turns.current("CA2") is None
    turns.forget("CA1")
    assert turns.current("CA1") is None
    other = turns.start(second(), Late(), key="CA1")
    first.release.set()
    await task  # the first turn's end does not forget the second
    assert turns.current("CA1") is other
    second.release.set()
    await other
    assert turns.current("CA1") is None
