"""A failed custom action ends its turn with an apology (bot/action_failures.py)."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

from bot import action_failures
from bot.settings import PROJECT_ROOT

DOMAIN = Domain.load(PROJECT_ROOT / "domain.yml")
APOLOGY = DOMAIN.responses["utter_technical_problem"][0]["text"]


def turn_running(action: Any) -> Any:
    """A prediction loop that runs one action, carrying on when it fails (as Rasa)."""
    run = action_failures._noting_failures(type(action).run)

    async def loop(
        processor: Any, output_channel: OutputChannel, tracker: DialogueStateTracker
    ) -> None:
        with contextlib.suppress(RasaException):
            await run(action, output_channel, processor.nlg, tracker, DOMAIN)

    return action_failures._apologising(loop)


async def play(action: Any) -> tuple[list[str], list[str]]:
    """What the customer got, and the bot's words the conversation recorded."""
    processor = SimpleNamespace(nlg=TemplatedNaturalLanguageGenerator(DOMAIN.responses))
    tracker = DialogueStateTracker("c1", DOMAIN.slots)
    channel = CollectingOutputChannel()
    await turn_running(action)(processor, channel, tracker)
    said = [str(e.text) for e in tracker.events if isinstance(e, BotUttered)]
    return [str(m.get("text")) for m in channel.messages], said


async def test_the_action_server_down_gets_the_customer_an_apology(
    closed_port: int,
) -> None:
    endpoint = EndpointConfig(f"http://127.0.0.1:{closed_port}/webhook")
    got, recorded = await play(RemoteAction("action_handoff", endpoint))
    assert got == recorded == [APOLOGY]
    assert "ask for a person" in APOLOGY


class Rejecting(RemoteAction):
    """A form's validation saying no: not a failure."""

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        raise ActionExecutionRejection(self.name())


async def test_a_rejection_is_not_a_failure() -> None:
    action = Rejecting("validate_order_form", EndpointConfig("http://unused"))
    assert await play(action) == ([], [])


def test_install_wraps_rasa_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RemoteAction, "run", RemoteAction.run)
    loop = MessageProcessor._run_prediction_loop
    monkeypatch.setattr(MessageProcessor, "_run_prediction_loop", loop)
    action_failures.install()
    wrapped = MessageProcessor._run_prediction_loop
    assert wrapped is not loop and wrapped.__wrapped__ is loop  # type: ignore[attr-defined]
    action_failures.install()
    assert MessageProcessor._run_prediction_loop is wrapped
