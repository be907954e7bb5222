"""The assistant's replies on the phone: speech, numbered choices and call control.

The assistant controls the call with custom payloads on the voice variants of its
responses: ``{"switchboard": "hangup"}`` (utter_goodbye) and
``{"switchboard": "transfer"}`` (utter_handoff). Without them the channel reads the
same decisions from the turn's events (utter_goodbye uttered, a handoff ticket set).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered

from channels.common import button_payloads, button_titles
from channels.voice.prompts import ANYTHING_ELSE, DIDNT_CATCH
from channels.voice.speech import choices_prompt, closing_question, speakable
from channels.voice.state import CallState, GatherKind, Phase

CONTROL_KEY = "switchboard"
HANGUP = "hangup"
TRANSFER = "transfer"


@dataclass(frozen=True)
class VoiceReply:
    """What the assistant said, as the phone can say it."""

    speech: tuple[str, ...]
    choice_titles: tuple[str, ...]
    choice_payloads: tuple[str, ...]
    control: str | None  # HANGUP, TRANSFER or None

    @property
    def choices_line(self) -> str | None:
        return choices_prompt(list(self.choice_titles)) if self.choice_titles else None


def control_of(messages: Iterable[dict[str, Any]]) -> str | None:
    """HANGUP or TRANSFER when a reply carries {"switchboard": ...}."""
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get(CONTROL_KEY) in (HANGUP, TRANSFER):
            return str(custom[CONTROL_KEY])
    return None


def voice_reply(messages: list[dict[str, Any]]) -> VoiceReply:
    """The assistant's messages as speech, numbered choices and call control."""
    speech = tuple(
        spoken
        for message in messages
        if message.get("text") and (spoken := speakable(str(message["text"])))
    )
    return VoiceReply(
        speech=speech,
        choice_titles=tuple(button_titles(messages)),
        choice_payloads=tuple(button_payloads(messages)),
        control=control_of(messages),
    )


def conversation_state(reply: VoiceReply) -> CallState:
    """The state after the assistant spoke: its question, and a shorter reprompt."""
    line = reply.choices_line
    spoken = " ".join([*reply.speech, line] if line else reply.speech)
    question = closing_question(" ".join(reply.speech))
    if line:
        reprompt = f"{DIDNT_CATCH} {line}"
    elif question:
        reprompt = f"{DIDNT_CATCH} {question}"
    else:
        reprompt = ANYTHING_ELSE
    return CallState(
        phase=Phase.CONVERSATION,
        gather=GatherKind.CHOICES if line else GatherKind.OPEN,
        prompt=spoken,
        reprompt=reprompt,
    )


def control_from_events(events: Sequence[Any]) -> str | None:
    """HANGUP or TRANSFER read from the events since the caller's last message."""
    for event in reversed(events):
        if isinstance(event, UserUttered):
            return None
        if isinstance(event, SlotSet) and event.key == "handoff_ticket" and event.value:
            return TRANSFER
        if isinstance(event, ActionExecuted) and event.action_name == "utter_goodbye":
            return HANGUP
    return None


def with_control(
    messages: list[dict[str, Any]], events: Sequence[Any]
) -> list[dict[str, Any]]:
    """`messages`, plus the call control the turn's `events` imply if they carry none.

    Until the voice responses carry their custom payloads.
    """
    control = control_from_events(events) if control_of(messages) is None else None
    return [*messages, {"custom": {CONTROL_KEY: control}}] if control else messages
