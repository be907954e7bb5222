"""When the action server fails, every channel still gets an answer.

Rasa logs a custom action that failed (the action server down, or answering with
an error) and carries on without its events, which leaves most turns silent: with
the action server down, "where is my order 104257" got no reply at all, on every
channel. Here a turn in which an action failed ends with `utter_technical_problem`
("... try again in a minute, or ask for a person"), recorded in the conversation
like any reply. The customer's message stays in the conversation, and the
conversation stays where it was, so asking again carries on once the action server
is back. Installed by bot/rasa_server.py; a rejection (a form's validation saying
no) is not a failure.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from rasa.core.actions.action import (
    ActionExecutionRejection,
    RemoteAction,
    create_bot_utterance,
)
from rasa.core.channels.channel import OutputChannel
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

APOLOGY = "utter_technical_problem"
_INSTALLED = "_switchboard_apologises"
# The custom actions that failed in the turn under way (None outside a turn).
_failed: ContextVar[list[str] | None] = ContextVar("failed_actions", default=None)

PredictionLoop = Callable[[Any, OutputChannel, DialogueStateTracker], Awaitable[None]]


def _noting_failures(
    run: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(run)
    async def noted(action: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        try:
            return await run(action, *args, **kwargs)
        except ActionExecutionRejection:
            raise
        except Exception:
            failed = _failed.get()
            if failed is not None:
                failed.append(action.name())
            raise  # Rasa logs it and carries on

    return noted


def _apologising(loop: PredictionLoop) -> PredictionLoop:
    @functools.wraps(loop)
    async def turn(
        processor: Any, output_channel: OutputChannel, tracker: DialogueStateTracker
    ) -> None:
        token = _failed.set([])
        try:
            await loop(processor, output_channel, tracker)
            failed = _failed.get() or []
        finally:
            _failed.reset(token)
        if failed:
            await apologise(processor, output_channel, tracker, failed)

    return turn


async def apologise(
    processor: Any,
    output_channel: OutputChannel,
    tracker: DialogueStateTracker,
    failed: list[str],
) -> None:
    """Say `utter_technical_problem` and record it (the processor saves the tracker)."""
    logger.error(
        "custom action(s) %s failed in conversation %s: the customer gets %s",
        ", ".join(sorted(set(failed))),
        tracker.sender_id,
        APOLOGY,
    )
    message = await processor.nlg.generate(APOLOGY, tracker, output_channel.name())
    if message is None:
        return
    said = create_bot_utterance({**message, "utter_action": APOLOGY})
    tracker.update(said)
    await output_channel.send_response(tracker.sender_id, said.message())


def install() -> None:
    """Note failing custom actions and end their turns with the apology."""
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor._run_prediction_loop, _INSTALLED, False):
        return
    RemoteAction.run = _noting_failures(RemoteAction.run)  # type: ignore[method-assign]
    loop = _apologising(MessageProcessor._run_prediction_loop)
    setattr(loop, _INSTALLED, True)
    MessageProcessor._run_prediction_loop = loop  # type: ignore[method-assign]
