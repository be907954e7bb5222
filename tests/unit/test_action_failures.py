"""A failed custom action ends its turn with an apology (bot/action_failures.py)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


def turn_running(*actions: Any, timeout: float = 10.0) -> Any:
    """A prediction loop that runs actions, carrying on when one fails (as Rasa)."""

    async def loop(
        processor: Any, output_channel: OutputChannel, tracker: DialogueStateTracker
    ) -> None:
        for action in actions:
            run = action_failures._noting_failures(type(action).run, timeout)
            with contextlib.suppress(RasaException):
                await run(action, output_channel, processor.nlg, tracker, DOMAIN)

    return action_failures._apologising(loop)


async def play(*actions: Any, timeout: float = 10.0) -> tuple[list[str], list[str]]:
    """What the customer got, and the bot's words the conversation recorded."""
    processor = SimpleNamespace(nlg=TemplatedNaturalLanguageGenerator(DOMAIN.responses))
    tracker = DialogueStateTracker("c1", DOMAIN.slots)
    channel = CollectingOutputChannel()
    await turn_running(*actions, timeout=timeout)(processor, channel, tracker)
    said = [str(e.text) for e in tracker.events if isinstance(e, BotUttered)]
    return [str(m.get("text")) for m in channel.messages], said


async def test_the_action_server_down_gets_the_customer_an_apology(
    closed_port: int,
) -> None:
    endpoint = EndpointConfig(f"http://127.0.0.1:{closed_port}/webhook")
    got, recorded = await play(RemoteAction("action_handoff", endpoint))
    assert got == recorded == [APOLOGY]
    assert "ask for a person" in APOLOGY


@pytest.fixture
def slow_action_server() -> Iterator[tuple[str, list[str]]]:
    """An action server that answers nothing until the test ends; the paths asked."""
    asked: list[str] = []
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # (http.server's name)
            asked.append(self.path)
            release.wait(30)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/webhook", asked
    release.set()
    server.shutdown()
    server.server_close()


async def test_a_slow_action_server_gets_the_apology_and_is_asked_once_a_turn(
    slow_action_server: tuple[str, list[str]],
) -> None:
    url, asked = slow_action_server
    first = RemoteAction("validate_order_form", EndpointConfig(url))
    second = RemoteAction("action_order_status", EndpointConfig(url))
    got, recorded = await play(first, second, timeout=0.2)
    assert got == recorded == [APOLOGY]
    assert asked == ["/webhook"]  # the second action did not wait for it again


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
    action_failures.install(6.0)
    wrapped = MessageProcessor._run_prediction_loop
    assert wrapped is not loop and wrapped.__wrapped__ is loop  # type: ignore[attr-defined]
    action_failures.install(6.0)
    assert MessageProcessor._run_prediction_loop is wrapped
