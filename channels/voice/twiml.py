"""TwiML for the phone IVR, built only with twilio's `VoiceResponse` and `Gather`.

Every prompt listens while it speaks (the caller may barge in with keys or speech),
and every answer tells Twilio where to go next (`CallUrls`): the answer to a
prompt, its silence, a slow turn's wait, a transfer's outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from twilio.twiml.voice_response import (
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Leave,
    Play,
    Redirect,
    Say,
    VoiceResponse,
)

from channels.voice.ivr import MAX_ERRORS
from channels.voice.prompts import (
    CALLBACK,
    CALLBACK_AFTER_HOURS,
    CALLBACK_AFTER_HOURS_NO_NUMBER,
    CALLBACK_NO_NUMBER,
    ERROR,
    GOODBYE,
    GREETING,
    MAIN_MENU_PROMPT,
    PUTTING_THROUGH,
    QUEUE_WAITING,
    readback_prompt,
)
from channels.voice.replies import VoiceReply
from channels.voice.speech import is_ascii_digits
from channels.voice.state import GatherKind

VOICE = "Polly.Joanna-Neural"
LANGUAGE = "en-US"
TRANSFER_RING_SECONDS = 30
# Twilio's own hold music (its default for a queue's waitUrl).
HOLD_MUSIC = (
    "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
)


# --- where Twilio goes next ---------------------------------------------------------


@dataclass(frozen=True)
class CallUrls:
    """Where Twilio sends the call's next request (absolute, as Twilio signs them).

    `errors` counts the failures in a row so far; it travels in the query
    (``err=N``), which Twilio's signature covers, so it survives a database outage
    and cannot be reset by the caller. `step` is a one-time token (``step=…``) that
    makes each webhook's URL, and so its signature, unlike any other's.
    """

    webhook: str
    errors: int = 0
    step: str = ""

    def with_errors(self, errors: int) -> CallUrls:
        return replace(self, errors=errors)

    def with_step(self, step: str) -> CallUrls:
        return replace(self, step=step)

    def _with(self, *query: str) -> str:
        parts = [*query, f"err={self.errors}"] if self.errors else list(query)
        if self.step:
            parts.append(f"step={self.step}")
        return f"{self.webhook}?{'&'.join(parts)}" if parts else self.webhook

    @property
    def action(self) -> str:
        """Where a <Gather> posts the caller's keys or speech."""
        return self._with()

    @property
    def noinput(self) -> str:
        return self._with("noinput=1")

    @property
    def wait(self) -> str:
        return self._with("wait=1")

    @property
    def after_transfer(self) -> str:
        return replace(self, errors=0)._with("after=transfer")

    @property
    def queue_wait(self) -> str:
        """What a caller in the agents' queue hears (Twilio's waitUrl, re-requested)."""
        return replace(self, errors=0)._with("queue=wait")

    @property
    def queue_input(self) -> str:
        """Where the waiting caller's keys or speech go."""
        return replace(self, errors=0)._with("queue=input")


def errors_in(args: Any) -> int:
    """The ``err`` count of a webhook's query (0 when absent or not a number)."""
    raw = str(args.get("err") or "")[:3]
    return min(int(raw), MAX_ERRORS) if is_ascii_digits(raw) else 0


@dataclass(frozen=True)
class AgentRoute:
    """Where a caller who wants a person goes: a phone, a Twilio queue, or a callback."""

    phone: str | None = None
    queue: str | None = None

    @property
    def live(self) -> bool:
        return bool(self.phone or self.queue)


# --- responses -----------------------------------------------------------------------


def _say(parent: VoiceResponse | Gather, text: str) -> None:
    parent.append(Say(text, voice=VOICE))


def _gather(kind: GatherKind, action: str) -> Gather:
    """Listen for keys and speech; Twilio posts the result to `action`."""
    options: dict[str, Any] = {
        "input": "dtmf speech",
        "action": action,
        "method": "POST",
        "language": LANGUAGE,
        "speechTimeout": "auto",
    }
    if kind is GatherKind.KEY:
        options.update(numDigits=1, timeout=5)
    elif kind is GatherKind.CHOICES:
        options.update(finishOnKey="#", timeout=4)
    else:
        options.update(finishOnKey="#", timeout=5)
    return Gather(**options)


def build_prompt_response(
    speech: Sequence[str], kind: GatherKind, urls: CallUrls
) -> VoiceResponse:
    """Say `speech` while listening (the caller may barge in); silence -> ?noinput=1."""
    twiml = VoiceResponse()
    gather = _gather(kind, urls.action)
    for text in speech:
        if text:
            _say(gather, text)
    twiml.append(gather)
    twiml.append(Redirect(urls.noinput, method="POST"))
    return twiml


def build_greeting_response(urls: CallUrls) -> VoiceResponse:
    return build_prompt_response((GREETING, MAIN_MENU_PROMPT), GatherKind.KEY, urls)


def build_readback_response(spoken: str, urls: CallUrls) -> VoiceResponse:
    return build_prompt_response((readback_prompt(spoken),), GatherKind.KEY, urls)


def build_reply_response(reply: VoiceReply, urls: CallUrls) -> VoiceResponse:
    line = reply.choices_line
    kind = GatherKind.CHOICES if line else GatherKind.OPEN
    return build_prompt_response([*reply.speech, line or ""], kind, urls)


def build_delay_response(text: str, urls: CallUrls) -> VoiceResponse:
    """The turn is still running: apologise, listen for 0, then come back (?wait=1)."""
    twiml = VoiceResponse()
    gather = Gather(
        input="dtmf",
        action=urls.wait,
        method="POST",
        numDigits=1,
        timeout=2,
    )
    _say(gather, text)
    twiml.append(gather)
    twiml.append(Redirect(urls.wait, method="POST"))
    return twiml


def build_error_response(urls: CallUrls) -> VoiceResponse:
    """Apologise and listen; `urls` carry the count of failures so far."""
    return build_prompt_response((ERROR,), GatherKind.OPEN, urls)


def build_hangup_response(speech: Sequence[str]) -> VoiceResponse:
    twiml = VoiceResponse()
    for text in speech:
        _say(twiml, text)
    twiml.append(Hangup())
    return twiml


def build_transfer_response(
    speech: Sequence[str], route: AgentRoute, urls: CallUrls
) -> VoiceResponse:
    """Put the caller through to the agents' phone or queue (requires a live route)."""
    twiml = VoiceResponse()
    for text in [*speech, PUTTING_THROUGH]:
        _say(twiml, text)
    if route.phone:
        dial = Dial(
            action=urls.after_transfer,
            method="POST",
            timeout=TRANSFER_RING_SECONDS,
            answerOnBridge=True,
        )
        dial.number(route.phone)
        twiml.append(dial)
    else:
        twiml.append(
            Enqueue(
                route.queue,
                action=urls.after_transfer,
                method="POST",
                waitUrl=urls.queue_wait,
                waitUrlMethod="POST",
            )
        )
    return twiml


def build_queue_wait_response(urls: CallUrls) -> VoiceResponse:
    """Hold music in the agents' queue; "*" or "assistant" goes back to the bot.

    Twilio requests the wait URL again when this ends, and posts what the caller
    keyed or said to `urls.queue_input`.
    """
    twiml = VoiceResponse()
    gather = Gather(
        input="dtmf speech",
        action=urls.queue_input,
        method="POST",
        language=LANGUAGE,
        speechTimeout="auto",
        numDigits=1,
        timeout=1,
        hints="assistant, back to the assistant, bot",
    )
    _say(gather, QUEUE_WAITING)
    gather.append(Play(HOLD_MUSIC))
    twiml.append(gather)
    return twiml


def build_leave_queue_response(speech: Sequence[str]) -> VoiceResponse:
    """Say `speech` and leave the queue: Twilio then asks `after_transfer` (leave)."""
    twiml = VoiceResponse()
    for text in speech:
        _say(twiml, text)
    twiml.append(Leave())
    return twiml


def build_callback_response(
    speech: Sequence[str], caller_known: bool, back: str | None = None
) -> VoiceResponse:
    """Nobody to transfer to: promise a call back (the handoff ticket has the number).

    `back` says when the team is back ("tomorrow at 8 am") outside opening hours.
    """
    if back is not None:
        closing = (
            CALLBACK_AFTER_HOURS if caller_known else CALLBACK_AFTER_HOURS_NO_NUMBER
        ).format(back=back)
    else:
        closing = CALLBACK if caller_known else CALLBACK_NO_NUMBER
        if caller_known and "call you back" in " ".join(speech):
            closing = ""  # the assistant's handoff message already promised it
    return build_hangup_response([s for s in (*speech, closing, GOODBYE) if s])
