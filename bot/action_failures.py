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

A slow action server is a failure too: Rasa waits 5 minutes for an action's answer,
far past every channel's patience, so an action not answered within ACTION_TIMEOUT
seconds fails here; and once one action of a turn has failed, the turn's other
custom actions fail at once instead of each waiting for the same server.
"""

from __future__ import annotations

import asyncio
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
from rasa.shared.exceptions import RasaException

logger = logging.getLogger(__name__)

APOLOGY = "utter_technical_problem"
_INSTALLED = "_switchboard_apologises"
# The custom actions that failed in the turn under way (None outside a turn).
_failed: ContextVar[list[str] | None] = ContextVar("failed_actions", default=None)

PredictionLoop = Callable[[Any, OutputChannel, DialogueStateTracker], Awaitable[None]]


def _noting_failures(
    run: Callable[..., Awaitable[Any]], timeout: float
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(run)
    async def noted(action: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        failed = _failed.get()
        if failed:
            failed.append(action.name())
            raise RasaException(
                f"custom action {action.name()} not run: {failed[0]} failed this turn"
            )
        try:
            return await asyncio.wait_for(run(action, *args, **kwargs), timeout)
        except ActionExecutionRejection:
            raise
        except Exception as exc:
            if failed is not None:
                failed.append(action.name())
            if isinstance(exc, asyncio.TimeoutError):
                raise RasaException(
                    f"custom action {action.name()}: no answer in {timeout:g} s"
                ) from exc
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


def install(timeout: float) -> None:
    """End turns whose custom actions failed (or took `timeout` s) with the apology."""
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor._run_prediction_loop, _INSTALLED, False):
        return
    RemoteAction.run = _noting_failures(RemoteAction.run, timeout)  # type: ignore[method-assign]
    loop = _apologising(MessageProcessor._run_prediction_loop)
    setattr(loop, _INSTALLED, True)
    MessageProcessor._run_prediction_loop = loop  # type: ignore[method-assign]
