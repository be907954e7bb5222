"""The Rasa server as Switchboard runs it: `python -m bot.rasa_process run ...`.

(bot/rasa_process.py filters warnings, then calls :func:`main` here.)

Arguments are `rasa`'s own (`run ...`, `shell ...`); what differs from `rasa`:

- The HTTP API's token comes from the environment (`RASA_TOKEN`, else the generated
  var/secrets.env), never from the command line, which `ps` shows to every user.
- Holds are enforced in one place that every input channel passes (REST, web chat,
  SMS, voice, `rasa shell`): a message in a conversation a person holds goes to the
  ticket's transcript and gets no answer from the assistant, unless it asks for the
  assistant back, which releases the hold (bot.services.back_to_bot).
- A turn in which a custom action failed ends with an apology
  (bot/action_failures.py), and `GET /health` reports the model and every
  dependency (bot/rasa_health.py).
- The action server's answers are checked against Rasa's schema by a validator
  built once (bot/action_responses.py).
- Turns run one at a time but for their waits on the action server, a turn back
  from it before a new one (bot/turn_gate.py); the calls to the action server run
  on an event loop of their own (bot/action_io.py).
- With `TURN_TRACE_FILE` set, each turn's time and custom action calls are written
  there (bot/turn_trace.py).
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sqlalchemy.orm import Session

from bot import (
    action_failures,
    action_io,
    action_responses,
    rasa_health,
    turn_gate,
    turn_trace,
)
from bot.db import session_factory
from bot.quiet import quiet_warnings
from bot.services import back_to_bot
from bot.settings import Settings

TOKEN_OPTION = "--auth-token"
# Stored for the agent when a held customer sends nothing readable.
EMPTY_MESSAGE = "[an empty message]"
_GATED = "_switchboard_hold_gate"

Replies = list[dict[str, Any]] | None
HandleMessage = Callable[[Any, UserMessage], Awaitable[Replies]]
SessionScope = Callable[[], AbstractContextManager[Session]]


class HoldGate:
    """Keeps the assistant silent in conversations a person has taken over."""

    def __init__(self, sessions: SessionScope) -> None:
        self._sessions = sessions  # one transaction per call

    async def divert(
        self, message: UserMessage
    ) -> back_to_bot.Held | back_to_bot.Returned | None:
        """Where the message went, when not to the assistant (see back_to_bot)."""
        text = (message.text or "").strip() or EMPTY_MESSAGE
        # Nearly every message is in a conversation nobody holds: one indexed read,
        # done here, costs less than a thread hop (about 1 ms of CPU per turn under
        # load, with the model holding the GIL). Routing may write, and wait for the
        # database's lock: that runs on a thread, keeping the event loop free.
        if not self._may_divert(message.sender_id, text):
            return None
        return await asyncio.to_thread(self._divert, message.sender_id, text)

    def _may_divert(self, conversation_id: str, text: str) -> bool:
        with self._sessions() as session:
            return back_to_bot.may_divert(session, conversation_id, text)

    def _divert(
        self, conversation_id: str, text: str
    ) -> back_to_bot.Held | back_to_bot.Returned | None:
        with self._sessions() as session:
            return back_to_bot.route_customer_message(session, conversation_id, text)

    def guard(self, handle: HandleMessage) -> HandleMessage:
        """`handle` (a processor's handle_message) behind the gate."""

        @functools.wraps(handle)
        async def gated(processor: Any, message: UserMessage) -> Replies:
            routed = await self.divert(message)
            if isinstance(routed, back_to_bot.Returned):
                # Back with the assistant: the notice is its answer to this message.
                await message.output_channel.send_text_message(
                    message.sender_id, routed.notice
                )
                return collected(message)
            if routed is not None:
                return None
            return await handle(processor, message)

        setattr(gated, _GATED, True)
        return gated


def collected(message: UserMessage) -> Replies:
    """What Rasa's processor returns for a handled message: a collector's messages."""
    if isinstance(message.output_channel, CollectingOutputChannel):
        return message.output_channel.messages
    return None


def _processor() -> type[Any]:
    from rasa.core.processor import MessageProcessor  # loads TensorFlow

    return MessageProcessor


def installed() -> bool:
    """Whether this process's Rasa handles every message behind a hold gate."""
    return bool(getattr(_processor().handle_message, _GATED, False))


def install(gate: HoldGate) -> None:
    """Put `gate` in front of every user message Rasa's dialogue handles.

    Every input channel's handler calls `Agent.handle_message`, which takes the
    conversation's lock and then calls `MessageProcessor.handle_message`: gated
    there, inside the lock, a hold made by the turn before is always seen.
    """
    if installed():
        raise RuntimeError("the hold gate is installed already")
    processor = _processor()
    setattr(processor, "handle_message", gate.guard(processor.handle_message))  # noqa: B010


def rasa_arguments(args: Sequence[str], token: str) -> list[str]:
    """Rasa's arguments for `args`: the API gets the token, which args must not carry."""
    if any(arg.split("=", 1)[0] == TOKEN_OPTION for arg in args):
        raise SystemExit(
            f"{TOKEN_OPTION} is refused: `ps` would show the token; set RASA_TOKEN"
        )
    if "--enable-api" not in args:
        return list(args)
    if not token:
        raise SystemExit("RASA_TOKEN is empty: Rasa's HTTP API runs only with a token")
    return [*args, TOKEN_OPTION, token]


def rasa_command_line() -> Callable[[], None]:
    """Rasa's `main`, keeping our warning filters (bot/quiet.py) first.

    It sets its own filters when it starts, in front of ours: "once" for every
    UserWarning, which some libraries' deprecations are too (pyparsing's). Ours go
    back in front right after.
    """
    import rasa.__main__ as rasa_cli

    configure = rasa_cli.configure_logging_and_warnings

    def configure_then_quiet(*args: Any, **kwargs: Any) -> None:
        configure(*args, **kwargs)
        quiet_warnings()

    rasa_cli.configure_logging_and_warnings = configure_then_quiet
    return rasa_cli.main


def main(argv: Sequence[str] | None = None) -> None:
    """Run `rasa <argv>` in this process, behind the hold gate."""
    quiet_warnings()
    settings = Settings.from_env()
    arguments = rasa_arguments(
        sys.argv[1:] if argv is None else argv, settings.rasa_token
    )
    gate = turn_gate.TurnGate()
    action_io.install(gate.marker)
    action_failures.install(settings.action_timeout)
    # Inside the hold gate (a held message takes no place), around the action
    # timeout (a turn waiting on the action server holds no place).
    turn_gate.install(gate)
    install(HoldGate(session_factory(settings.database_url).begin))
    action_responses.install()
    rasa_health.install(settings)
    if settings.turn_trace_file:
        turn_trace.install(Path(settings.turn_trace_file))
    rasa_main = rasa_command_line()
    # Only this copy of the arguments has the token; /proc/<pid>/cmdline keeps the
    # ones the process was started with.
    sys.argv = ["rasa", *arguments]
    rasa_main()
