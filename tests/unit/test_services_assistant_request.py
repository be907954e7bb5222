"""The phrase matcher for "back to the assistant": whole requests only."""

from __future__ import annotations

import pytest

from bot.services.assistant_request import (
    MAX_LENGTH,
    asks_for_the_assistant,
    normalise,
)

ASKS = [
    "talk to the assistant",
    "Back to the bot!",
    "back to the bot please",
    "Assistant.",  # a phone caller's speech, as Twilio transcribes it
    "bot",
    "the bot please",
    "BOT AGAIN",
    "I'd like to go back to the assistant please",
    "I’d rather talk to the bot",  # a typographic apostrophe
    "Please put me back to the bot",
    "take me back to the bot",
    "I want the bot back",
    "can I talk to the bot again?",
    "let me speak with the virtual assistant",
    "Can I go back to the automated assistant?",
    "switch to the chatbot",
    "ok, back to the assistant",
    "no, back to the bot",
    "never mind, I'll use the bot",
    "go back to the main menu",
    "Talk to the A.I.",
    "I don't need a person anymore",
    "I don't want to talk to a human",
    "cancel the request for a person",
    "no human needed, thanks",
]

DOES_NOT_ASK = [
    "",
    "no bot",  # a refusal
    "hi bot",  # a greeting
    "bot?",  # what am I talking to?
    "the assistant?",
    "not the bot",
    "I don't want to talk to the bot",
    "don't put me back to the bot",
    "the bot was no help",
    "the assistant told me my order shipped",
    "bot sucks",
    "is this a bot",
    "are you a bot?",
    "talk to a human",
    "I want to talk to a person",
    "robot",  # alone, only unmistakable words count
    "computer",
    "my robot vacuum broke",
    "where is my order 104257",
    "back",
    "menu",
    "yes",
    "assistant manager please call me",
    "I don't want a person, I want a refund",
]


@pytest.mark.parametrize("text", ASKS)
def test_requests_for_the_assistant_are_recognised(text: str) -> None:
    assert asks_for_the_assistant(text)


@pytest.mark.parametrize("text", DOES_NOT_ASK)
def test_other_messages_are_not(text: str) -> None:
    assert not asks_for_the_assistant(text)


def test_a_long_message_is_never_only_a_request() -> None:
    padded = "back to the bot" + " please" * 20
    assert len(padded) > MAX_LENGTH
    assert not asks_for_the_assistant(padded)
    assert asks_for_the_assistant("back to the bot" + " please" * 3)


def test_normalise_keeps_words_only() -> None:
    assert normalise("  Don’t…  TALK, to the A.I.!! ") == "dont talk to the a i"
