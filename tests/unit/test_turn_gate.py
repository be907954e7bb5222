"""One turn at a time, a turn back from the action server first (bot/turn_gate.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot import turn_gate
from bot.action_io import ActionIO, off_the_loop
from bot.settings import PROJECT_ROOT
from bot.turn_gate import TurnGate
from tests.unit.conftest import ActionServer

DOMAIN = Domain.load(PROJECT_ROOT / "domain.yml")
Handle = Callable[[Any, UserMessage], Awaitable[Any]]


@pytest.fixture
def io() -> Iterator[ActionIO]:
    running = ActionIO()
    yield running
    running.close()


def message(sender: str) -> UserMessage:
    return UserMessage("hello", CollectingOutputChannel(), sender, input_channel="rest")


async def call(
    gate: TurnGate, io: ActionIO, server: ActionServer, sender: str, name: str
) -> Any:
    """A real custom action call, made as our Rasa server makes it."""
    run = gate.around_calls(off_the_loop(RemoteAction.run, io, gate.marker))
    processor = SimpleNamespace(nlg=TemplatedNaturalLanguageGenerator(DOMAIN.responses))
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    action = RemoteAction(name, server.endpoint)
    return await run(action, CollectingOutputChannel(), processor.nlg, tracker, DOMAIN)


async def until(condition: Callable[[], bool]) -> None:
    """Let the event loop (and the action server's thread) run until `condition`."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def stepping(log: list[str], steps: int = 3) -> Handle:
    """A turn whose work pauses `steps` times, as Rasa's awaits do."""

    async def handle(processor: Any, message: UserMessage) -> None:
        log.append(f"{message.sender_id} starts")
        for _ in range(steps):
            await asyncio.sleep(0)
        log.append(f"{message.sender_id} ends")

    return handle


async def test_turns_run_one_at_a_time_in_the_order_they_came() -> None:
    log: list[str] = []
    handle = stepping(log)
    await asyncio.gather(*(handle(None, message(s)) for s in "abc"))
    assert log[:3] == ["a starts", "b starts", "c starts"]  # without: interleaved
    log.clear()
    gated = TurnGate().around_turns(handle)
    await asyncio.gather(*(gated(None, message(s)) for s in "abc"))
    assert log == ["a starts", "a ends", "b starts", "b ends", "c starts", "c ends"]


async def test_a_turn_on_the_action_server_lets_the_next_run_and_comes_back_first(
    io: ActionIO, action_server: ActionServer
) -> None:
    gate, log = TurnGate(), []
    b_may_end = asyncio.Event()
    action_server.answering.clear()

    async def handle(processor: Any, message: UserMessage) -> None:
        turn = message.sender_id
        log.append(f"{turn} starts")
        if turn == "a":
            await call(gate, io, action_server, turn, "validate_order_form")
            log.append("a is back")
        if turn == "b":
            await b_may_end.wait()  # not the action server: b keeps its place
        log.append(f"{turn} ends")

    gated = gate.around_turns(handle)
    a = asyncio.create_task(gated(None, message("a")))
    await until(lambda: action_server.asked == ["validate_order_form"])
    b = asyncio.create_task(gated(None, message("b")))
    await until(lambda: log == ["a starts", "b starts"])
    c = asyncio.create_task(gated(None, message("c")))
    action_server.answering.set()
    await until(lambda: gate.waiting == 2)  # a back from the call, c new
    assert gate.kept == 1
    b_may_end.set()
    await asyncio.gather(a, b, c)
    assert log == [
        "a starts",
        "b starts",  # while a waits on the action server
        "b ends",
        "a is back",  # before c, which came before a's answer
        "a ends",
        "c starts",
        "c ends",
    ]


async def test_the_place_is_kept_for_a_turn_whose_answer_came_during_a_step(
    io: ActionIO, action_server: ActionServer
) -> None:
    gate, log = TurnGate(), []
    b_go = asyncio.Event()
    action_server.answering.clear()

    async def handle(processor: Any, message: UserMessage) -> None:
        turn = message.sender_id
        log.append(f"{turn} starts")
        if turn == "a":
            await call(gate, io, action_server, turn, "action_answer_faq")
            log.append("a is back")
        if turn == "b":
            await b_go.wait()
            # A long step (the NLU): the answer comes meanwhile, a is not back yet.
            deadline = time.monotonic() + 10
            while not gate.kept and time.monotonic() < deadline:
                time.sleep(0.01)
        log.append(f"{turn} ends")

    gated = gate.around_turns(handle)
    a = asyncio.create_task(gated(None, message("a")))
    await until(lambda: action_server.asked == ["action_answer_faq"])
    b = asyncio.create_task(gated(None, message("b")))
    c = asyncio.create_task(gated(None, message("c")))
    await until(lambda: log == ["a starts", "b starts"] and gate.waiting == 1)
    action_server.answering.set()
    b_go.set()
    await asyncio.gather(a, b, c)
    # b's step ended with c waiting and the place free: kept for a, not given to c.
    assert log == ["a starts", "b starts", "b ends", "a is back", "a ends",
                   "c starts", "c ends"]  # fmt: skip
    assert gate.kept == 0 and gate.waiting == 0


async def test_a_failed_call_comes_back_to_the_turn(
    io: ActionIO, closed_port: int
) -> None:
    gate, log = TurnGate(), []
    down = ActionServer(f"http://127.0.0.1:{closed_port}/webhook")

    async def handle(processor: Any, message: UserMessage) -> None:
        log.append(f"{message.sender_id} starts")
        if message.sender_id == "a":
            with pytest.raises(Exception, match="Failed to execute custom action"):
                await call(gate, io, down, "a", "action_handoff")
        log.append(f"{message.sender_id} ends")

    gated = gate.around_turns(handle)
    await asyncio.gather(gated(None, message("a")), gated(None, message("b")))
    # b ran while a waited; a got its place back to finish after the failure.
    assert log == ["a starts", "b starts", "b ends", "a ends"]
    await gated(None, message("c"))  # and gave it up
    assert log[-1] == "c ends"


async def test_a_cancelled_turn_gives_its_place_up(
    io: ActionIO, action_server: ActionServer
) -> None:
    gate, log = TurnGate(), []
    holding = asyncio.Event()
    action_server.answering.clear()

    async def handle(processor: Any, message: UserMessage) -> None:
        log.append(f"{message.sender_id} starts")
        if message.sender_id == "a":
            await call(gate, io, action_server, "a", "action_handoff")
        else:
            await holding.wait()
        log.append(f"{message.sender_id} ends")

    gated = gate.around_turns(handle)
    a = asyncio.create_task(gated(None, message("a")))
    await until(lambda: action_server.asked == ["action_handoff"])
    b = asyncio.create_task(gated(None, message("b")))  # takes the place
    c = asyncio.create_task(gated(None, message("c")))  # waits for it
    await until(lambda: log == ["a starts", "b starts"] and gate.waiting == 1)
    # Cancelled on a call, a ends at once: it does not wait to get a place back.
    a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await a
    # Cancelled while waiting for a place: the turn after it gets the place.
    c.cancel()
    d = asyncio.create_task(gated(None, message("d")))
    await until(lambda: gate.waiting == 1)
    holding.set()
    await asyncio.gather(b, d)
    assert c.cancelled()
    assert log == ["a starts", "b starts", "b ends", "d starts", "d ends"]
    assert gate.waiting == 0
    await gated(None, message("e"))  # the place is free
    assert log[-1] == "e ends"


async def test_calls_outside_a_turn_are_made_as_they_were(
    io: ActionIO, action_server: ActionServer
) -> None:
    gate = TurnGate()
    assert await call(gate, io, action_server, "api", "action_handoff") == []
    assert action_server.asked == ["action_handoff"]
    assert gate.marker() is None


def test_install_wraps_rasa_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RemoteAction, "run", RemoteAction.run)
    handle = MessageProcessor.handle_message
    monkeypatch.setattr(MessageProcessor, "handle_message", handle)
    assert turn_gate.install(TurnGate())
    wrapped = MessageProcessor.handle_message
    assert wrapped.__wrapped__ is handle  # type: ignore[attr-defined]
    assert not turn_gate.install(TurnGate())
    assert MessageProcessor.handle_message is wrapped
