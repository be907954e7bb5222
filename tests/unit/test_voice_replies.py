"""The assistant's replies on the phone (channels/voice/replies.py)."""

from __future__ import annotations

from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from channels.voice.replies import (
    HANGUP,
    TRANSFER,
    control_from_events,
    control_of,
    conversation_state,
    voice_reply,
    with_control,
)
from channels.voice.state import GatherKind

# --- the assistant's replies -----------------------------------------------------------


def test_voice_reply_reads_text_choices_and_control() -> None:
    reply = voice_reply(
        [
            {"recipient_id": "voice:CA1", "text": "Would you like a person?",
             "buttons": [{"title": "Yes", "payload": "/affirm"},
                         {"title": "No", "payload": "/deny"}]},
            {"recipient_id": "voice:CA1", "image": "https://x/y.png"},
        ]
    )  # fmt: skip
    assert reply.speech == ("Would you like a person?",)
    assert reply.choice_payloads == ("/affirm", "/deny")
    assert reply.choices_line == "Press 1 for Yes. Press 2 for No."
    assert reply.control is None
    state = conversation_state(reply)
    assert state.gather is GatherKind.CHOICES
    assert (
        state.reprompt == "Sorry, I didn't catch that. Press 1 for Yes. Press 2 for No."
    )


def test_custom_payloads_control_the_call() -> None:
    assert control_of([{"text": "Bye"}, {"custom": {"switchboard": "hangup"}}]) == (
        HANGUP
    )
    assert control_of([{"custom": {"switchboard": "transfer"}}]) == TRANSFER
    assert control_of([{"custom": {"other": "x"}}, {"custom": "text"}]) is None


def test_statements_are_followed_by_anything_else() -> None:
    state = conversation_state(voice_reply([{"text": "Your order has shipped."}]))
    assert state.gather is GatherKind.OPEN
    assert state.reprompt.startswith("Is there anything else I can help with?")


def test_control_from_the_turns_events() -> None:
    said_goodbye = [
        UserUttered("bye"), ActionExecuted("utter_goodbye"), BotUttered("Bye"),
        ActionExecuted("action_listen"),
    ]  # fmt: skip
    assert control_from_events(said_goodbye) == HANGUP
    handed_off = [UserUttered("a person"), ActionExecuted("action_handoff"),
                  SlotSet("handoff_ticket", "T-000001")]  # fmt: skip
    assert control_from_events(handed_off) == TRANSFER
    earlier_turn = [*handed_off, UserUttered("thanks"), ActionExecuted("utter_x")]
    assert control_from_events(earlier_turn) is None


def test_the_turns_events_add_the_control_the_replies_lack() -> None:
    bye = [{"text": "Bye!"}]
    said_goodbye = [UserUttered("bye"), ActionExecuted("utter_goodbye")]
    assert with_control(bye, said_goodbye) == [
        *bye,
        {"custom": {"switchboard": HANGUP}},
    ]
    assert with_control(bye, []) == bye
    transfer = [{"text": "One moment."}, {"custom": {"switchboard": TRANSFER}}]
    assert with_control(transfer, said_goodbye) == transfer  # theirs wins
