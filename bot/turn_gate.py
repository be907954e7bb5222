"""One turn's work at a time in the Rasa server, a turn back from actions first.

Rasa runs a turn's NLU and dialogue policies on its one event loop in long steps
without a pause (20-30 ms of CPU), and a turn pauses only where it waits: for us,
on the action server. Each wait sent the turn to the back of the loop's queue,
behind the long steps of every other customer's turn, so under load the turns that
called the action server twice were the slowest 5%, each call costing a queue of
other turns (measured with `TURN_TRACE_FILE`, README "Load, and the cost of a
turn"). The stock Rasa bot, whose turns never wait, has no such tail.

Here a turn takes the gate's one place before Rasa handles its message and keeps
it until the turn is done, but while it waits on the action server: then the next
turn runs. Once its answer is in (the action I/O thread says so, bot/action_io.py)
the place is kept for it: no new turn starts until it is back, and back, it goes
before every turn that has not started. So a call costs the action server's time
and at most the end of the one step running when the answer came. Turns start in
the order they came. What a turn does, and in what order, does not change; only
which turn the event loop runs first. Anything else a turn waited on inside the
dialogue would keep the place: none does (the channels' database work comes before
and after it, the hold gate's outside it). Installed by bot/rasa_server.py inside
the hold gate (a held message takes no place).
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

_INSTALLED = "_switchboard_turn_gate"


@dataclass(eq=False)
class Place:
    """A turn's claim on the gate: whether it holds the place."""

    held: bool = False


@dataclass(eq=False)
class Call:
    """A turn away on a call to the action server: whether its answer is in."""

    answered: bool = False  # set from the action I/O thread


class TurnGate:
    """One place for turns; those back from the action server first.

    Waiting turns get the place in the order they came, those back from the action
    server before new ones. While a turn away on a call has its answer, the place
    is kept for it. Run on one event loop; only `answered` comes from elsewhere.
    """

    def __init__(self) -> None:
        self._free = 1
        self._returning: deque[tuple[asyncio.Future[None], Place]] = deque()
        self._starting: deque[tuple[asyncio.Future[None], Place]] = deque()
        self._away: set[Call] = set()

    @property
    def waiting(self) -> int:
        """Turns waiting for the place."""
        return sum(not f.done() for f, _ in (*self._returning, *self._starting))

    @property
    def kept(self) -> int:
        """Places kept for turns whose call is answered but that are not back yet."""
        return sum(1 for call in self._away if call.answered)

    async def enter(self, place: Place, returning: bool = False) -> None:
        """Wait for the place (a turn `returning` from the action server first)."""
        if returning:
            free = self._free > 0 and not _pending(self._returning)
        else:
            free = self._free > self.kept and not self.waiting
        if free:
            self._free -= 1
            place.held = True
            return
        granted = asyncio.get_running_loop().create_future()
        (self._returning if returning else self._starting).append((granted, place))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                place.held = False  # granted as it was cancelled: the next one's
                self._free += 1
                self._dispatch()
            raise

    def leave(self, place: Place) -> None:
        """Give the place up, to the next waiting turn if any."""
        if place.held:
            place.held = False
            self._free += 1
            self._dispatch()

    def answered(self, call: Call) -> None:
        """`call` has its answer (safe from any thread)."""
        call.answered = True

    def _dispatch(self) -> None:
        while self._free > 0:
            turn = _next(self._returning)
            if turn is None and self._free > self.kept:
                turn = _next(self._starting)
            if turn is None:
                return
            granted, place = turn
            self._free -= 1
            place.held = True
            granted.set_result(None)

    def around_turns(
        self, handle: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        """`handle` (a processor's handle_message) run holding the place."""

        @functools.wraps(handle)
        async def in_turn(processor: Any, message: Any) -> Any:
            place = Place()
            token = _place.set(place)
            try:
                await self.enter(place)
                return await handle(processor, message)
            finally:
                self.leave(place)
                _place.reset(token)

        setattr(in_turn, _INSTALLED, True)
        return in_turn

    def around_calls(
        self, run: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        """`run` (a custom action's call) with the place given up while it waits."""

        @functools.wraps(run)
        async def away(action: Any, *args: Any, **kwargs: Any) -> Any:
            place = _place.get()
            if place is None or not place.held:
                return await run(action, *args, **kwargs)
            self.leave(place)
            call = Call()
            self._away.add(call)
            token = _call.set(call)
            try:
                try:
                    result = await run(action, *args, **kwargs)
                except asyncio.CancelledError:
                    raise  # the turn is over: it needs no place back
                except BaseException:
                    await self.enter(place, returning=True)  # Rasa carries on
                    raise
                await self.enter(place, returning=True)
                return result
            finally:
                _call.reset(token)
                self._away.discard(call)
                self._dispatch()  # a place kept for it goes to the next turn

        return away

    def marker(self) -> Callable[[], None] | None:
        """What tells the gate that the current turn's call has its answer.

        For the action I/O thread (bot/action_io.py); None outside a turn.
        """
        call = _call.get()
        return None if call is None else functools.partial(self.answered, call)


def _pending(
    queue: deque[tuple[asyncio.Future[None], Place]],
) -> bool:
    return any(not granted.done() for granted, _ in queue)


def _next(
    queue: deque[tuple[asyncio.Future[None], Place]],
) -> tuple[asyncio.Future[None], Place] | None:
    """The first turn still waiting in `queue` (cancelled ones are dropped)."""
    while queue:
        turn = queue.popleft()
        if not turn[0].done():
            return turn
    return None


# The place of the turn under way (None outside a turn: Rasa's HTTP API), and its
# call to the action server under way.
_place: ContextVar[Place | None] = ContextVar("turn_place", default=None)
_call: ContextVar[Call | None] = ContextVar("turn_call", default=None)


def install(gate: TurnGate) -> bool:
    """Put every message Rasa's dialogue handles, and its action calls, behind `gate`.

    False when a gate is installed already.
    """
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor.handle_message, _INSTALLED, False):
        return False
    RemoteAction.run = gate.around_calls(RemoteAction.run)  # type: ignore[method-assign]
    MessageProcessor.handle_message = gate.around_turns(  # type: ignore[method-assign]
        MessageProcessor.handle_message
    )
    return True
