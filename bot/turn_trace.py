"""Where a turn's time goes: one JSON line per handled message, when asked for.

With `TURN_TRACE_FILE` set, the Rasa server appends to that file, for every message
its dialogue handles: the channel, the conversation, when the turn started (Unix
time), its wall time in the server and each custom action call it made (name and wall time, as Rasa waited for
it: the action server's work, the loopback, and Rasa's event loop getting back to
the turn). No message text is written. The load benchmark sets it to count the
action server round trips per turn (benchmarks/turns.py); unset, nothing is
installed. Installed by bot/rasa_server.py, after the hold gate and the apology
for failed actions, so a held message is a turn without calls and a failed call
is timed until it failed.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_INSTALLED = "_switchboard_traced"
# The custom action calls of the turn under way (None outside a turn).
_calls: ContextVar[list[tuple[str, float]] | None] = ContextVar(
    "traced_calls", default=None
)


@dataclass
class TraceFile:
    """Appends one JSON object per line; shared by every turn of the process."""

    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)


def _timing_calls(
    run: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(run)
    async def timed(action: Any, *args: Any, **kwargs: Any) -> Any:
        calls = _calls.get()
        started = time.perf_counter()
        try:
            return await run(action, *args, **kwargs)
        finally:
            if calls is not None:
                elapsed = (time.perf_counter() - started) * 1000
                calls.append((action.name(), round(elapsed, 2)))

    return timed


def _tracing_turns(
    handle: Callable[..., Awaitable[Any]], trace: TraceFile
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(handle)
    async def traced(processor: Any, message: Any) -> Any:
        calls: list[tuple[str, float]] = []
        token = _calls.set(calls)
        at = time.time()
        started = time.perf_counter()
        try:
            return await handle(processor, message)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            _calls.reset(token)
            trace.write(
                {
                    "channel": message.input_channel,
                    "sender": message.sender_id,
                    "start": round(at, 4),
                    "ms": round(elapsed, 2),
                    "calls": calls,
                }
            )

    setattr(traced, _INSTALLED, True)
    return traced


def install(path: Path) -> None:
    """Trace every message Rasa's dialogue handles into `path` (JSON lines)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor.handle_message, _INSTALLED, False):
        return
    trace = TraceFile(path)
    RemoteAction.run = _timing_calls(RemoteAction.run)  # type: ignore[method-assign]
    MessageProcessor.handle_message = _tracing_turns(  # type: ignore[method-assign]
        MessageProcessor.handle_message, trace
    )


def read(path: Path, offset: int = 0) -> list[dict[str, Any]]:
    """The turns traced in `path` after its first `offset` bytes, oldest first."""
    if not path.exists():
        return []
    with path.open("rb") as trace:
        trace.seek(offset)
        lines = trace.read().decode("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
