"""Assistant turns for channels that must answer a webhook in time (SMS, phone).

Twilio gives up on a webhook after 15 seconds. A turn that takes longer than the
channel can wait keeps running after the webhook has answered ("I'm taking longer
than usual"); when it ends, its outcome goes to the `late` handler given at its
start: SMS texts the replies, the phone IVR stores them for the call's next
webhook. Every task the runner starts is referenced until it ends, so none is
garbage-collected mid-way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

logger = logging.getLogger(__name__)

Replies = list[dict[str, Any]]
# Gets a slow turn's replies, or None when it failed.
Late = Callable[[Replies | None], Awaitable[None]]


class TurnTooSlow(Exception):
    """The turn outlived the wait; its `late` handler gets the outcome."""


class SlowTurns:
    """Runs assistant turns, waiting for each at most `timeout` seconds."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._running: set[asyncio.Task[Replies]] = set()
        self._abandoned: set[asyncio.Task[Replies]] = set()  # nobody waits for them
        self._by_key: dict[Hashable, asyncio.Task[Replies]] = {}

    @property
    def running(self) -> frozenset[asyncio.Task[Replies]]:
        """The turns started and not ended yet."""
        return frozenset(self._running)

    def start(
        self, turn: Awaitable[Replies], late: Late, key: Hashable | None = None
    ) -> asyncio.Task[Replies]:
        """Run `turn` as a task; `key` (a call) finds it again with `current`."""
        task = asyncio.ensure_future(self._run(turn, late))
        self._running.add(task)
        task.add_done_callback(self._ended)
        if key is not None:
            self._by_key[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return task

    def current(self, key: Hashable) -> asyncio.Task[Replies] | None:
        """The running turn started under `key`, if any."""
        return self._by_key.get(key)

    def forget(self, key: Hashable) -> None:
        """Stop finding the turn of `key` (it still runs and reaches its handler)."""
        self._by_key.pop(key, None)

    async def wait(self, task: asyncio.Task[Replies]) -> Replies:
        """The turn's replies (or its exception) in time, else TurnTooSlow."""
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except asyncio.TimeoutError:
            if task.done():  # it ended just as the wait timed out
                return task.result()
            self._abandoned.add(task)
            raise TurnTooSlow from None

    async def _run(self, turn: Awaitable[Replies], late: Late) -> Replies:
        try:
            replies = await turn
        except Exception:
            await self._hand_over(None, late)
            raise
        await self._hand_over(replies, late)
        return replies

    async def _hand_over(self, replies: Replies | None, late: Late) -> None:
        # Checked with no await since the turn ended: if the webhook is still
        # waiting, it gets the outcome itself and `late` is not called.
        task = asyncio.current_task()
        if task is None or task not in self._abandoned:
            return
        self._abandoned.discard(task)
        try:
            await late(replies)
        except Exception:
            logger.exception("the outcome of a slow turn was lost")

    def _ended(self, task: asyncio.Task[Replies]) -> None:
        self._running.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: the channel logged or answered it

    def _forget(self, key: Hashable, task: asyncio.Task[Replies]) -> None:
        if self._by_key.get(key) is task:
            del self._by_key[key]
