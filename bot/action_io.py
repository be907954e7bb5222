"""The Rasa server's calls to the action server, on an event loop of their own.

A custom action call is an HTTP exchange of several steps on Rasa's event loop
(connect, send, read the headers, read the body), and between two steps the loop
runs whatever else is ready: under load, another turn's NLU and policies, 20-30 ms
of CPU without a pause each. A call that took the action server 10 ms came back
after a second when the machine was busy (`TURN_TRACE_FILE`, README "Load, and the
cost of a turn"). Here the exchange runs on a second event loop in a thread, which
gets the interpreter between the other turns' steps (the NLU's numpy and
TensorFlow work lets go of it), and the turn resumes on Rasa's loop once the answer
is in; the moment it is in, the thread tells the turn gate (bot/turn_gate.py),
which keeps the place for the turn. What is sent and what is done with the answer
do not change: only the request to the action endpoint (`EndpointConfig.request`)
moves. Installed by bot/rasa_server.py.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")
_INSTALLED = "_switchboard_action_io"
# Called on Rasa's loop as a request starts: what to call (on the I/O thread) once
# its answer is in, if anything.
Marker = Callable[[], Callable[[], None] | None]


class ActionIO:
    """An event loop in a daemon thread, running the coroutines given to it."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="action-io", daemon=True
        )
        self._thread.start()

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """`work`'s result, run on this loop; cancelling the caller cancels it."""
        return await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(work, self._loop)
        )

    def close(self) -> None:
        """Stop the loop and its thread (what runs on it is abandoned)."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()


class OffLoopEndpoint:
    """An action endpoint (`EndpointConfig`) whose requests run on `io`'s loop."""

    def __init__(
        self, endpoint: EndpointConfig, io: ActionIO, marker: Marker | None = None
    ) -> None:
        self.endpoint = endpoint
        self._io = io
        self._marker = marker

    def __getattr__(self, name: str) -> Any:
        return getattr(self.endpoint, name)  # url, kwargs, headers...

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        answered = self._marker() if self._marker else None
        work = self.endpoint.request(*args, **kwargs)
        return await self._io.run(_then(work, answered))


async def _then(work: Awaitable[T], done: Callable[[], None] | None) -> T:
    """`work`'s result; `done` is called as soon as it has one (or failed)."""
    try:
        return await work
    finally:
        if done is not None:
            done()


def off_the_loop(
    run: Callable[..., Awaitable[Any]], io: ActionIO, marker: Marker | None = None
) -> Callable[..., Awaitable[Any]]:
    """`run` (a custom action's call) with its HTTP request made on `io`'s loop.

    `marker`, if given, says what to call once the request has its answer.
    """

    @functools.wraps(run)
    async def run_off(action: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = action.action_endpoint
        if not isinstance(endpoint, EndpointConfig):
            return await run(action, *args, **kwargs)  # none: Rasa says so
        action.action_endpoint = OffLoopEndpoint(endpoint, io, marker)
        try:
            return await run(action, *args, **kwargs)
        finally:
            action.action_endpoint = endpoint

    setattr(run_off, _INSTALLED, True)
    return run_off


def install(marker: Marker | None = None) -> ActionIO | None:
    """Make every custom action call's request on an `ActionIO` of its own.

    `marker`: see `off_the_loop` (the turn gate's). Returns the `ActionIO`, or None
    when calls are made off the loop already.
    """
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction.run, _INSTALLED, False):
        return None
    io = ActionIO()
    RemoteAction.run = off_the_loop(RemoteAction.run, io, marker)  # type: ignore[method-assign]
    return io
