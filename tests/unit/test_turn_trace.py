"""Each turn's time and custom action calls, written when asked (bot/turn_trace.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

from bot import turn_trace
from bot.settings import PROJECT_ROOT
from tests.unit.conftest import ActionServer

DOMAIN = Domain.load(PROJECT_ROOT / "domain.yml")
NLG = TemplatedNaturalLanguageGenerator(DOMAIN.responses)


@pytest.fixture
def traced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, action_server: ActionServer
) -> Path:
    """Rasa traced into a file, its dialogue a stand-in making real action calls.

    A message about an order calls the order form's validation and submission; one
    mentioning "down" calls an action server that is not there; others call none.
    """
    monkeypatch.setattr(RemoteAction, "run", RemoteAction.run)

    async def handle(processor: Any, message: UserMessage) -> None:
        tracker = DialogueStateTracker(message.sender_id, DOMAIN.slots)
        channel = CollectingOutputChannel()
        if "order" in (message.text or ""):
            for name in ("validate_order_form", "action_submit_order_form"):
                action = RemoteAction(name, action_server.endpoint)
                await action.run(channel, NLG, tracker, DOMAIN)
        if "down" in (message.text or ""):
            action = RemoteAction("action_handoff", None)
            with pytest.raises(RasaException):
                await action.run(channel, NLG, tracker, DOMAIN)

    monkeypatch.setattr(MessageProcessor, "handle_message", handle)
    path = tmp_path / "turns.jsonl"
    turn_trace.install(path)
    turn_trace.install(path)  # once is enough: not wrapped twice
    return path


async def say(text: str, sender: str = "c1", channel: str = "rest") -> None:
    message = UserMessage(
        text, CollectingOutputChannel(), sender, input_channel=channel
    )
    await MessageProcessor.handle_message(None, message)  # type: ignore[arg-type]


async def test_each_turn_is_a_line_with_its_calls_and_no_text(traced: Path) -> None:
    before = time.time()
    await say("where is my order 104257?")
    await say("thanks, bye", sender="c2", channel="webchat")
    await say("is the action server down?")
    records = turn_trace.read(traced)
    assert [(r["channel"], r["sender"], [c[0] for c in r["calls"]]) for r in records] == [
        ("rest", "c1", ["validate_order_form", "action_submit_order_form"]),
        ("webchat", "c2", []),
        ("rest", "c1", ["action_handoff"]),  # failed, timed all the same
    ]  # fmt: skip
    for record in records:
        assert record["ms"] >= sum(ms for _, ms in record["calls"]) >= 0
    assert before - 0.001 <= records[0]["start"] <= records[-1]["start"] <= time.time()
    text = traced.read_text()
    assert "104257" not in text and "thanks" not in text


async def test_reading_from_an_offset_gives_the_turns_after_it(traced: Path) -> None:
    await say("where is my order 104257?")
    offset = traced.stat().st_size
    await say("hello")
    assert [r["calls"] for r in turn_trace.read(traced, offset)] == [[]]
    assert turn_trace.read(traced.with_name("none.jsonl")) == []
