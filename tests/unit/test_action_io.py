"""Calls to the action server on an event loop of their own (bot/action_io.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

from bot import action_io
from bot.action_io import ActionIO, OffLoopEndpoint, off_the_loop
from bot.settings import PROJECT_ROOT
from tests.unit.conftest import ActionServer

DOMAIN = Domain.load(PROJECT_ROOT / "domain.yml")


@pytest.fixture
def io() -> Iterator[ActionIO]:
    running = ActionIO()
    yield running
    running.close()


async def call(io: ActionIO, action: RemoteAction) -> Any:
    """A custom action call as Rasa makes it, its request made on `io`."""
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    tracker = DialogueStateTracker("c1", DOMAIN.slots)
    run = off_the_loop(RemoteAction.run, io)
    return await run(action, CollectingOutputChannel(), nlg, tracker, DOMAIN)


async def test_the_call_is_made_while_rasas_loop_is_busy(
    io: ActionIO, action_server: ActionServer
) -> None:
    endpoint = action_server.endpoint
    action = RemoteAction("validate_order_form", endpoint)
    answer = asyncio.create_task(call(io, action))
    await asyncio.sleep(0)  # the turn starts its call, then a long step holds the loop
    deadline = time.monotonic() + 10
    while not action_server.asked and time.monotonic() < deadline:
        time.sleep(0.01)  # Rasa's loop runs nothing meanwhile
    assert action_server.asked == ["validate_order_form"]
    assert await answer == []
    assert action.action_endpoint is endpoint  # put back


async def test_a_failed_call_fails_as_before(io: ActionIO, closed_port: int) -> None:
    down = EndpointConfig(f"http://127.0.0.1:{closed_port}/webhook")
    action = RemoteAction("action_handoff", down)
    with pytest.raises(RasaException, match="Couldn't connect"):
        await call(io, action)
    assert action.action_endpoint is down  # put back


async def test_no_endpoint_is_reported_by_rasa(io: ActionIO) -> None:
    with pytest.raises(RasaException, match="no endpoint is configured"):
        await call(io, RemoteAction("action_handoff", None))


async def test_cancelling_the_turn_cancels_its_request(io: ActionIO) -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def request() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    waiting = asyncio.create_task(io.run(request()))
    await asyncio.to_thread(started.wait, 10)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await asyncio.to_thread(cancelled.wait, 10)


def test_the_endpoint_keeps_its_settings(io: ActionIO) -> None:
    endpoint = EndpointConfig(
        "http://127.0.0.1:1/webhook", enable_selective_domain=True
    )
    off = OffLoopEndpoint(endpoint, io)
    assert off.url == endpoint.url
    assert off.kwargs == {"enable_selective_domain": True}


def test_install_wraps_rasa_once(monkeypatch: pytest.MonkeyPatch) -> None:
    run = RemoteAction.run
    monkeypatch.setattr(RemoteAction, "run", run)
    io = action_io.install()
    assert io is not None
    try:
        assert RemoteAction.run.__wrapped__ is run  # type: ignore[attr-defined]
        assert action_io.install() is None
    finally:
        io.close()
