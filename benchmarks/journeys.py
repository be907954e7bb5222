"""What the simulated customers of `make benchmark-load` say, channel by channel.

A journey is one conversation from its first message to its last: order status
with verification, a help-centre question, a problem ticket, a handoff to a person
(and back to the assistant). Each customer message is a turn, timed from the
request to the answer by the `Turn` the runner passes in; a failed turn raises and
ends its journey. On the phone a turn is a keypress or an utterance, including the
"still working" answers Twilio follows (the greeting and the status callback at
the end of the call are not turns).
"""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import requests

from tests.customers import SMS_WEBHOOK, ChatApi, PhoneCall, Twiml, inbound, replies
from tests.production.stack import Installation
from tests.stack import Stack

# A running installation as its customers reach it: embedded or production mode.
Site = Stack | Installation

JANE_PHONE = "+14155550134"  # a demo customer: her calls are verified by the number
# A webhook slower than this fails the turn: Twilio gives up after 15 s.
TWILIO_TIMEOUT = 15.0

# REST, web chat and SMS. Each turn's words fit what the assistant asked before.
TEXT_JOURNEYS: dict[str, tuple[str, ...]] = {
    "order status": (
        "hi",
        "where is my order 104257?",
        "jane.doe@example.com",
        "thanks, bye",
    ),
    "help centre": ("hello", "can I return an item?", "how long does delivery take"),
    "problem ticket": (
        "the lamp from my order arrived with the shade cracked in two",
        "104257",
        "jane.doe@example.com",
        "thank you",
    ),
    "handoff": (
        "I want to talk to a person",
        "hello? is anyone there?",  # held: it goes to the ticket, no answer
        "back to the bot please",
        "what are your opening hours",
    ),
}
# By SMS the customer's number is their contact: the problem form does not ask.
SMS_JOURNEYS = {
    **TEXT_JOURNEYS,
    "problem ticket": (
        "the blender i got arrived with a cracked jug, really annoyed",
        "104257",
        "thank you",
    ),
}
# On the phone the problem form's questions are answered as they come.
PROBLEM_ANSWERS = {
    "went wrong": "The lamp arrived with a cracked shade.",
    "about an order": "No, it's not about an order.",
}


class Turn(Protocol):
    """Times one customer message (`send`) and records it; raises when it failed."""

    def __call__(self, send: Callable[[], Any]) -> Any: ...


Journey = Callable[[int, Turn], None]


def rest_message(url: str, sender: str, text: str) -> None:
    """One customer message to Rasa's REST channel at `url`."""
    response = requests.post(
        f"{url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=60,
    )
    response.raise_for_status()
    assert isinstance(response.json(), list), response.text


def rest_journey(url: str, texts: Sequence[str], turn: Turn) -> None:
    """One conversation over Rasa's REST channel at `url`."""
    sender = f"load-{uuid.uuid4().hex[:12]}"
    for text in texts:
        turn(functools.partial(rest_message, url, sender, text))


def pick(journeys: dict[str, tuple[str, ...]], number: int) -> tuple[str, ...]:
    """The `number`th journey, going round them in order."""
    return list(journeys.values())[number % len(journeys)]


def rest(stack: Site) -> Journey:
    return lambda number, turn: rest_journey(
        stack.rasa_url, pick(TEXT_JOURNEYS, number), turn
    )


def webchat(stack: Site) -> Journey:
    """The web chat API (web app -> Rasa's web chat channel), a new session each."""

    def journey(number: int, turn: Turn) -> None:
        chat = ChatApi(stack)  # loading the page: not a turn
        for text in pick(TEXT_JOURNEYS, number):
            turn(functools.partial(chat.post, text))

    return journey


def _text(stack: Site, sender: str, text: str) -> list[str]:
    return replies(stack.twilio_post(SMS_WEBHOOK, inbound(text, sender)))


def sms(stack: Site) -> Journey:
    """Signed Twilio SMS webhooks, a new phone number for each journey."""
    numbers = (f"+1415555{n:04d}" for n in itertools.cycle(range(1000, 10000)))

    def journey(number: int, turn: Turn) -> None:
        sender = next(numbers)
        for text in pick(SMS_JOURNEYS, number):
            turn(functools.partial(_text, stack, sender, text))

    return journey


def _order_status(call: PhoneCall, turn: Turn) -> None:
    for keys in ("1", "104257", "1"):  # menu, the order number, "that's right"
        turn(functools.partial(call.press, keys))


def _help_centre(call: PhoneCall, turn: Turn) -> None:
    turn(lambda: call.say("How long do I have to return something?"))
    turn(lambda: call.say("Goodbye."))


def _problem(call: PhoneCall, turn: Turn) -> None:
    heard: Twiml = turn(lambda: call.say("My lamp arrived broken."))
    for _ in PROBLEM_ANSWERS:
        answers = [a for q, a in PROBLEM_ANSWERS.items() if q in heard.said]
        if "ticket T " in heard.said or not answers:
            break
        heard = turn(functools.partial(call.say, answers[0]))


def _handoff(call: PhoneCall, turn: Turn) -> None:
    turn(lambda: call.press("0"))  # no agents' line: a callback ticket


VOICE_JOURNEYS: tuple[Callable[[PhoneCall, Turn], None], ...] = (
    _order_status,
    _help_centre,
    _problem,
    _handoff,
)


def voice(stack: Site) -> Journey:
    """A phone call stepped through as Twilio does, with signed webhooks."""
    numbers = (f"+1312555{n:04d}" for n in itertools.cycle(range(1000, 10000)))

    def journey(number: int, turn: Turn) -> None:
        steps = VOICE_JOURNEYS[number % len(VOICE_JOURNEYS)]
        caller = JANE_PHONE if steps is _order_status else next(numbers)
        call = PhoneCall(stack, caller, hang_bound=TWILIO_TIMEOUT)
        call.start()
        try:
            steps(call, turn)
        finally:
            call.hang_up()

    return journey


CHANNELS: dict[str, Callable[[Site], Journey]] = {
    "rest": rest,
    "webchat": webchat,
    "sms": sms,
    "voice": voice,
}
