"""Twilio Voice input channel (the phone IVR): POST /webhooks/voice/webhook and /status.

Compared with Rasa's own `twilio_voice` channel this one checks every request's
X-Twilio-Signature, takes keypad input as well as speech (menus, numbered choices,
order and phone numbers keyed in and read back before use), transfers to a person or
hangs up when the assistant says so, and always answers with TwiML within
`VOICE_RESPONSE_TIMEOUT` seconds, speaking a slow turn's replies at the call's next
webhook.

A call is one conversation, ``voice:<CallSid>``. Caller ID can be spoofed, so its
`From` number is vouched for with a signed `ChannelIdentity` (verifying callers for
their own orders without an email address) only as `VOICE_TRUST_CALLER_ID` allows:
by default when Twilio reports full STIR/SHAKEN attestation (``StirVerstat`` is
``TN-Validation-Passed-A``). Any other caller is asked for their email like a web
visitor; a callback ticket still gets `From` as the number to call back.

Twilio signs every request, so a captured one can be replayed, and a field boundary
moved (``CallSid=CA…CallStatusringing``) without breaking the signature. So the
fields used must have Twilio's exact formats (`channels.twilio_checks`); every URL
we give Twilio carries a one-time ``step`` token, so no two genuine webhooks share a
signature and a request whose signature was seen is answered without acting on it;
and a call that ended (status callback) or began more than `MAX_CALL_SECONDS` ago is
only hung up on.
Consecutive failures are counted in the (signed) URLs of the error prompt; after
`MAX_ERRORS` the caller is told to call back later and the call ends.

The assistant controls the call with custom payloads on the voice variants of its
responses: ``{"switchboard": "hangup"}`` (utter_goodbye) and
``{"switchboard": "transfer"}`` (utter_handoff). Without them the channel reads the
same decisions from the turn's events (utter_goodbye uttered, a handoff ticket set).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, TypeVar

from rasa.core.channels.channel import InputChannel
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.orm import Session, sessionmaker
from twilio.twiml.voice_response import (
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Redirect,
    Say,
    VoiceResponse,
)

from bot.db import session_factory
from bot.identity import ChannelIdentity
from bot.models import Channel, TicketCategory
from bot.services import messaging
from bot.services import tickets as ticket_service
from bot.services.contact import try_normalise_phone
from bot.services.customers import find_by_phone
from bot.services.hours import OpeningHours, describe_opening
from bot.settings import Settings
from channels import voice_state as store
from channels.common import (
    OnNewMessage,
    button_payloads,
    button_titles,
    form_params,
    run_through_rasa,
    valid_twilio_signature,
)
from channels.twilio_checks import ACCOUNT_SID, call_refusal, signature_id
from channels.voice_speech import (
    HeardNumber,
    choices_prompt,
    clean_digits,
    closing_question,
    confirmation,
    heard_number,
    is_ascii_digits,
    speakable,
    spell_digits,
    spoken_key,
    wants_repeat,
)
from channels.voice_state import (
    CallState,
    GatherKind,
    PendingTurn,
    Phase,
    Readback,
    TurnStatus,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

CHANNEL = "voice"
WEBHOOK_PATH = "/webhooks/voice/webhook"
STATUS_PATH = "/webhooks/voice/status"
VOICE = "Polly.Joanna-Neural"
LANGUAGE = "en-US"
MAX_REPROMPTS = 2  # silences answered with a shorter prompt before offering a person
MAX_WAITS = 3  # webhooks spent waiting for one slow turn before apologising
STALE_TURN_SECONDS = 60.0  # a turn "running" longer than this is taken as lost
POLL_SECONDS = 0.05
TRANSFER_RING_SECONDS = 30
MAX_QUEUE_NAME = 64
FINAL_CALL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
MAX_ERRORS = 2  # consecutive failures before the call ends with "call back later"
MAX_CALL_SECONDS = 4 * 60 * 60  # Twilio's longest call: older webhooks are replays

# VOICE_TRUST_CALLER_ID: when `From` is vouched for.
TRUST_ATTESTED = "attested"  # full STIR/SHAKEN attestation only
TRUST_ALWAYS = "always"  # carriers without StirVerstat; spoofable
TRUST_NEVER = "never"
TRUST_MODES = (TRUST_ATTESTED, TRUST_ALWAYS, TRUST_NEVER)
FULL_ATTESTATION = "TN-Validation-Passed-A"

CONTROL_KEY = "switchboard"
HANGUP = "hangup"
TRANSFER = "transfer"
REQUEST_HUMAN = "/request_human"

GREETING = (
    "Hi, thanks for calling the demo shop. I'm Switchboard, the automated assistant."
)
MAIN_MENU_PROMPT = (
    "Press 1 for order status, 2 to report a problem, 3 for account and "
    "registration, 0 for an agent, or just tell me what you need."
)
MAIN_MENU_SHORT = (
    "Press 1 for orders, 2 for a problem, 3 for your account, or 0 for an agent."
)
ACCOUNT_MENU_PROMPT = (
    "Press 1 to create an account, 2 for help signing in or resetting your "
    "password, or 3 to change or delete your account. Press 0 for an agent."
)
ACCOUNT_MENU_SHORT = (
    "Press 1 to create an account, 2 for sign-in help, or 3 to change your account."
)
MAIN_MENU = {"1": "/check_order_status", "2": "/report_problem", "0": REQUEST_HUMAN}
ACCOUNT_MENU_KEY = "3"
ACCOUNT_MENU = {
    "1": "/register_account",
    "2": "/account_problem",
    "3": "/update_account",
    "0": REQUEST_HUMAN,
}

DIDNT_CATCH = "Sorry, I didn't catch that."
NOT_AN_OPTION = "Sorry, that isn't one of the options."
ANYTHING_ELSE = "Is there anything else I can help with? Press 0 for an agent."
READBACK_QUESTION = "Press 1 if that's right, or 2 to try again."
TRY_AGAIN = "OK, let's try again."
AGENT_OFFER = (
    "I still can't hear you. Press 0 to talk to a member of our team, "
    "or tell me what you need."
)
NO_INPUT_GOODBYE = "I'm going to hang up now. Please call again any time. Goodbye."
DELAY = (
    "Sorry, I'm taking longer than usual. Please stay on the line, "
    "or press 0 to talk to a person."
)
STILL_WAITING = "Still working on it. Stay on the line, or press 0 for a person."
ERROR = (
    "Sorry, something went wrong on our side. Press 0 to talk to a member of our "
    "team, or tell me again what you need."
)
PUTTING_THROUGH = "Putting you through to a member of our team now."
CALLBACK = (
    "A member of our team will call you back on this number within one business day."
)
CALLBACK_NO_NUMBER = (
    "I can't see the number you're calling from, so please call us again, or use "
    "the chat on our website."
)
CALLBACK_AFTER_HOURS = (
    "Our team is away right now and back {back}. A member of our team will call you "
    "back on this number within one business day."
)
CALLBACK_AFTER_HOURS_NO_NUMBER = (
    "Our team is away right now and back {back}. I can't see the number you're "
    "calling from, so please call us again then, or use the chat on our website."
)
NOBODY_FREE = "Sorry, nobody could take your call just now."
UNAVAILABLE = "Sorry, we're having technical trouble. Please call again later."
OUTAGE = "Sorry, we're having technical trouble. Please call us back later on {number}."
GOODBYE = "Thank you for calling. Goodbye."


# --- what a webhook carries --------------------------------------------------------


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


@dataclass(frozen=True)
class Call:
    sid: str
    caller: str | None  # E.164, None for withheld or unparseable numbers
    digits: str = ""
    speech: str = ""
    caller_verified: bool = False  # `caller` may be vouched for (see trusts_caller)
    errors: int = 0  # failures in a row before this webhook (from its URL)

    @property
    def conversation_id(self) -> str:
        return f"{CHANNEL}:{self.sid}"

    @property
    def vouched_phone(self) -> str | None:
        """The number the assistant may treat as the caller's own."""
        return self.caller if self.caller_verified else None

    @property
    def silent(self) -> bool:
        return not self.digits and not self.speech.strip()


# --- deciding what to do with the caller's input ------------------------------------


@dataclass(frozen=True)
class Send:
    """Give this text to the assistant."""

    text: str


@dataclass(frozen=True)
class Prompt:
    """Answer without the assistant, and remember the new state."""

    speech: tuple[str, ...]
    gather: GatherKind
    state: CallState


@dataclass(frozen=True)
class HangUp:
    speech: tuple[str, ...]


Decision = Send | Prompt | HangUp


def attested(params: dict[str, str]) -> bool:
    """Whether Twilio reports full STIR/SHAKEN attestation of the caller's number."""
    return params.get("StirVerstat", "").strip() == FULL_ATTESTATION


def trusts_caller(mode: str, attested_now: bool, state: CallState | None) -> bool:
    """Whether `From` is vouched for under VOICE_TRUST_CALLER_ID `mode`.

    The attestation may come with this webhook or have come with an earlier one of
    the call (stored in its state).
    """
    if mode == TRUST_ALWAYS:
        return True
    if mode == TRUST_ATTESTED:
        return attested_now or (state is not None and state.caller_attested)
    return False


def call_is_over(state: CallState, now: float) -> bool:
    """Ended (status callback) or older than any call: a replayed webhook."""
    return state.ended is not None or now - state.started_at > MAX_CALL_SECONDS


def greeting_state() -> CallState:
    return CallState(
        phase=Phase.MENU,
        gather=GatherKind.KEY,
        prompt=f"{GREETING} {MAIN_MENU_PROMPT}",
        reprompt=f"{DIDNT_CATCH} {MAIN_MENU_SHORT}",
    )


def account_menu_state() -> CallState:
    return CallState(
        phase=Phase.ACCOUNT_MENU,
        gather=GatherKind.KEY,
        prompt=ACCOUNT_MENU_PROMPT,
        reprompt=f"{DIDNT_CATCH} {ACCOUNT_MENU_SHORT}",
    )


def readback_prompt(spoken: str) -> str:
    return f"I heard {spoken}. {READBACK_QUESTION}"


def current_prompt(state: CallState) -> tuple[str, GatherKind]:
    """What the caller was last asked, and how it listened."""
    if state.phase is Phase.READBACK and state.readback is not None:
        return readback_prompt(state.readback.spoken), GatherKind.KEY
    return state.prompt, state.gather


def _repeat(state: CallState, prefix: str | None = None) -> Prompt:
    prompt, gather = current_prompt(state)
    speech = (prefix, prompt) if prefix else (prompt,)
    return Prompt(speech, gather, state)


def _start_readback(state: CallState, heard: HeardNumber) -> Prompt:
    resume = state.resume_phase if state.phase is Phase.READBACK else state.phase
    readback = Readback(text=heard.text, spoken=heard.spoken)
    new = state.evolve(phase=Phase.READBACK, readback=readback, resume_phase=resume)
    return Prompt((readback_prompt(heard.spoken),), GatherKind.KEY, new)


def _keyed_number(digits: str) -> HeardNumber:
    return HeardNumber(text=digits, spoken=spell_digits(digits))


def _answer_readback(state: CallState, call: Call, region: str) -> Decision | None:
    """Confirm, retry or replace the number being read back (None: not about it)."""
    assert state.readback is not None
    if call.digits:
        if call.digits == "1":
            return Send(state.readback.text)
        if call.digits == "2":
            retry = state.evolve(phase=state.resume_phase, readback=None)
            return Prompt((TRY_AGAIN, retry.prompt), retry.gather, retry)
        if len(call.digits) > 1:
            return _start_readback(state, _keyed_number(call.digits))
        return _repeat(state, NOT_AN_OPTION)
    heard = heard_number(call.speech, region)
    if heard is not None:
        return _start_readback(state, heard)
    answer = confirmation(call.speech)
    if answer is None:
        answer = {"1": True, "2": False}.get(spoken_key(call.speech) or "")
    if answer is True:
        return Send(state.readback.text)
    if answer is False:
        retry = state.evolve(phase=state.resume_phase, readback=None)
        return Prompt((TRY_AGAIN, retry.prompt), retry.gather, retry)
    return None


def _answer_menu(state: CallState, key: str) -> Decision:
    if state.phase is Phase.MENU and key == ACCOUNT_MENU_KEY:
        new = account_menu_state()
        return Prompt((new.prompt,), new.gather, new)
    menu = MAIN_MENU if state.phase is Phase.MENU else ACCOUNT_MENU
    if key in menu:
        return Send(menu[key])
    return _repeat(state, NOT_AN_OPTION)


def interpret(
    state: CallState, call: Call, choice: str | None, region: str = "US"
) -> Decision:
    """What to do with a caller's input.

    `choice` is the payload of the numbered choice the input picked, if any (looked
    up by the caller with `messaging.resolve_choice`).
    """
    if call.digits == "0":
        return Send(REQUEST_HUMAN)
    if call.digits == "*" or (not call.digits and wants_repeat(call.speech)):
        return _repeat(state)
    if state.phase is Phase.READBACK and state.readback is not None:
        decided = _answer_readback(state, call, region)
        if decided is not None:
            return decided
    if state.phase in (Phase.MENU, Phase.ACCOUNT_MENU):
        key = call.digits or spoken_key(call.speech)
        if key:
            return _answer_menu(state, key)
    if choice is not None:
        return Send(choice)
    if call.digits:
        if state.gather is GatherKind.CHOICES and len(call.digits) == 1:
            return _repeat(state, NOT_AN_OPTION)
        return _start_readback(state, _keyed_number(call.digits))
    heard = heard_number(call.speech, region)
    if heard is not None:
        return _start_readback(state, heard)
    return Send(call.speech.strip())


def on_silence(state: CallState) -> Decision:
    """Reprompt twice with the shorter prompt, then offer a person, then hang up."""
    silences = state.silences + 1
    new = state.evolve(silences=silences)
    _, gather = current_prompt(state)
    if silences <= MAX_REPROMPTS:
        speech: tuple[str, ...]
        if state.phase is Phase.READBACK and state.readback is not None:
            speech = (DIDNT_CATCH, READBACK_QUESTION)
        else:
            speech = (state.reprompt or ANYTHING_ELSE,)
        return Prompt(speech, gather, new)
    if silences == MAX_REPROMPTS + 1:
        return Prompt((AGENT_OFFER,), gather, new)
    return HangUp((NO_INPUT_GOODBYE,))


# --- the assistant's replies --------------------------------------------------------


@dataclass(frozen=True)
class VoiceReply:
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


# --- TwiML -------------------------------------------------------------------------


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


def _build_prompt_response(
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


def _build_greeting_response(urls: CallUrls) -> VoiceResponse:
    return _build_prompt_response((GREETING, MAIN_MENU_PROMPT), GatherKind.KEY, urls)


def _build_account_menu_response(urls: CallUrls) -> VoiceResponse:
    return _build_prompt_response((ACCOUNT_MENU_PROMPT,), GatherKind.KEY, urls)


def _build_readback_response(spoken: str, urls: CallUrls) -> VoiceResponse:
    return _build_prompt_response((readback_prompt(spoken),), GatherKind.KEY, urls)


def _build_reply_response(reply: VoiceReply, urls: CallUrls) -> VoiceResponse:
    line = reply.choices_line
    kind = GatherKind.CHOICES if line else GatherKind.OPEN
    return _build_prompt_response([*reply.speech, line or ""], kind, urls)


def _build_delay_response(text: str, urls: CallUrls) -> VoiceResponse:
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


def _build_error_response(urls: CallUrls) -> VoiceResponse:
    """Apologise and listen; `urls` carry the count of failures so far."""
    return _build_prompt_response((ERROR,), GatherKind.OPEN, urls)


def outage_message(shop_number: str | None) -> str:
    """The last words of a call that keeps failing: call back later, on this number."""
    if not shop_number:
        return UNAVAILABLE
    return OUTAGE.format(number=spell_digits(shop_number))


def _build_hangup_response(speech: Sequence[str]) -> VoiceResponse:
    twiml = VoiceResponse()
    for text in speech:
        _say(twiml, text)
    twiml.append(Hangup())
    return twiml


def _build_transfer_response(
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
        twiml.append(Enqueue(route.queue, action=urls.after_transfer, method="POST"))
    return twiml


def _build_callback_response(
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
    return _build_hangup_response([s for s in (*speech, closing, GOODBYE) if s])


# --- the channel ---------------------------------------------------------------------


def _validated(settings: Settings) -> Settings:
    """The settings, or a ValueError naming the variable to fix."""
    if not settings.twilio_auth_token:
        raise ValueError("TWILIO_AUTH_TOKEN is needed to validate Twilio webhooks")
    if not settings.public_base_url.startswith(("http://", "https://")):
        raise ValueError("PUBLIC_BASE_URL must be the http(s) URL Twilio calls")
    if "?" in settings.public_base_url or "#" in settings.public_base_url:
        raise ValueError("PUBLIC_BASE_URL must not have a query or fragment")
    if not 0 < settings.voice_response_timeout <= 10:
        raise ValueError(
            "VOICE_RESPONSE_TIMEOUT must be more than 0 and at most 10 seconds "
            f"(Twilio gives up after 15), got {settings.voice_response_timeout}"
        )
    if settings.agent_phone_number and not try_normalise_phone(
        settings.agent_phone_number, settings.default_phone_region
    ):
        raise ValueError(
            f"AGENT_PHONE_NUMBER {settings.agent_phone_number!r} is not a valid "
            "phone number"
        )
    if settings.agent_queue_name and len(settings.agent_queue_name) > MAX_QUEUE_NAME:
        raise ValueError(f"AGENT_QUEUE_NAME must be at most {MAX_QUEUE_NAME} chars")
    if not ACCOUNT_SID.fullmatch(settings.twilio_account_sid):
        raise ValueError("TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits")
    if settings.voice_trust_caller_id not in TRUST_MODES:
        raise ValueError(
            f"VOICE_TRUST_CALLER_ID must be one of {', '.join(TRUST_MODES)}, "
            f"got {settings.voice_trust_caller_id!r}"
        )
    return settings


def opening_hours(settings: Settings) -> OpeningHours:
    """The team's hours; a ValueError naming OPENING_HOURS if they can't be read."""
    try:
        return OpeningHours.parse(settings.opening_hours, settings.timezone)
    except ValueError as exc:
        raise ValueError(f"OPENING_HOURS: {exc}") from exc
    except LookupError as exc:  # ZoneInfoNotFoundError
        raise ValueError(
            f"SWITCHBOARD_TIMEZONE {settings.timezone!r} is not a time zone"
        ) from exc


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _load(
    session: Session, call_sid: str, delivery_id: str
) -> tuple[CallState | None, PendingTurn | None, bool]:
    """The call's state, its pending turn, and whether this is a first delivery.

    `delivery_id` comes from the request's signature (`signature_id`), never from
    an unsigned header a replayer could change.
    """
    state, pending = store.load_call(session, call_sid)
    first = messaging.first_delivery(session, delivery_id)
    return state, pending, first


def _forget(
    running: set[asyncio.Task[list[dict[str, Any]]]],
) -> Callable[[asyncio.Task[list[dict[str, Any]]]], None]:
    """A done-callback dropping the task and retrieving its exception (logged)."""

    def done(task: asyncio.Task[list[dict[str, Any]]]) -> None:
        running.discard(task)
        if not task.cancelled():
            task.exception()

    return done


def ensure_handoff_ticket(
    session: Session,
    conversation_id: str,
    caller: str | None,
    caller_verified: bool = False,
) -> str:
    """The call's handoff ticket, opened here when the assistant couldn't do it.

    `caller` (From) is always the number to call back: a call back reaches the real
    owner of the number, whoever placed the call. Only a verified number links the
    ticket to that number's customer.
    """
    for ticket in ticket_service.open_tickets_for_conversation(
        session, conversation_id
    ):
        if ticket.handed_off:
            if ticket.contact is None and caller:
                ticket.contact = caller  # the assistant had no vouched number
            return ticket.reference
    ticket = ticket_service.open_ticket(
        session,
        ticket_service.TicketRequest(
            channel=Channel.VOICE,
            category=TicketCategory.HANDOFF,
            subject="Call handed off to a person",
            description="The caller asked for a person while the assistant was "
            "unavailable.",
            customer=find_by_phone(session, caller)
            if caller and caller_verified
            else None,
            conversation_id=conversation_id,
            contact=caller,
            handed_off=True,
        ),
    )
    return ticket.reference


class VoiceInput(InputChannel):
    """Customers calling the shop's Twilio number."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(Settings.from_env())

    def __init__(
        self, settings: Settings, clock: Callable[[], dt.datetime] = _utcnow
    ) -> None:
        self.settings = _validated(settings)
        self.hours = opening_hours(settings)  # a ValueError at start, like the rest
        self.clock = clock  # tests set the time of day
        self.urls = CallUrls(f"{settings.public_base_url}{WEBHOOK_PATH}")
        self.outage = outage_message(
            try_normalise_phone(
                settings.twilio_phone_number, settings.default_phone_region
            )
        )
        agent_phone = try_normalise_phone(
            settings.agent_phone_number, settings.default_phone_region
        )
        # A phone number wins over a queue when both are configured.
        self.route = AgentRoute(
            phone=agent_phone, queue=None if agent_phone else settings.agent_queue_name
        )
        # The running turn of each call (by CallSid), and strong references to
        # every running turn so that none is garbage-collected mid-way.
        self._tasks: dict[str, asyncio.Task[list[dict[str, Any]]]] = {}
        self._running: set[asyncio.Task[list[dict[str, Any]]]] = set()
        self._abandoned: set[str] = set()  # turn ids nobody is waiting for

    @cached_property
    def _sessions(self) -> sessionmaker[Session]:
        return session_factory(self.settings.database_url)

    async def _db(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction, off the event loop."""

        def run() -> T:
            with self._sessions.begin() as session:
                return work(session)

        return await asyncio.to_thread(run)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        voice = Blueprint("voice_webhook", __name__)

        @voice.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @voice.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not valid_twilio_signature(self.settings, request):
                logger.warning("voice webhook with a missing or invalid signature")
                return response.text("invalid Twilio signature", status=403)
            params = form_params(request)
            # Checked even though signed: a moved field boundary keeps the signature.
            refusal = call_refusal(params, self.settings.twilio_account_sid)
            if refusal:
                logger.warning("voice webhook refused: %s", refusal)
                return response.text(refusal, status=400)
            twiml = await self._answer_safely(on_new_message, request, params)
            return response.text(str(twiml), content_type="text/xml")

        @voice.route("/status", methods=["POST"])
        async def status(request: Request) -> HTTPResponse:
            if not valid_twilio_signature(self.settings, request):
                logger.warning("voice status callback with an invalid signature")
                return response.text("invalid Twilio signature", status=403)
            params = form_params(request)
            refusal = call_refusal(params, self.settings.twilio_account_sid)
            if refusal:
                logger.warning("voice status callback refused: %s", refusal)
                return response.text(refusal, status=400)
            await self._record_status(params, signature_id(request))
            return response.empty(status=204)

        return voice

    # --- one webhook ----------------------------------------------------------------

    def _call(
        self, params: dict[str, str], state: CallState | None, errors: int
    ) -> Call:
        return Call(
            sid=params["CallSid"],
            caller=try_normalise_phone(
                params.get("From"), self.settings.default_phone_region
            ),
            digits=clean_digits(params.get("Digits", "")),
            speech=params.get("SpeechResult", "").strip(),
            caller_verified=trusts_caller(
                self.settings.voice_trust_caller_id, attested(params), state
            ),
            errors=errors,
        )

    def _urls(self, call: Call) -> CallUrls:
        """The call's URLs, still counting the failures in a row."""
        return self._fresh_urls(call.errors)

    def _fresh_urls(self, errors: int = 0) -> CallUrls:
        """URLs for one TwiML answer, with a step token no other answer has."""
        return self.urls.with_errors(errors).with_step(secrets.token_hex(8))

    async def _answer_safely(
        self, on_new_message: OnNewMessage, request: Request, params: dict[str, str]
    ) -> VoiceResponse:
        """The webhook's TwiML; whatever fails, the caller hears an apology."""
        try:
            return await self._answer(on_new_message, request, params)
        except Exception:
            logger.exception("voice webhook failed for call %s", params.get("CallSid"))
            return self._error_response(errors_in(request.args) + 1)

    def _error_response(self, errors: int) -> VoiceResponse:
        """The apology for a failure, `errors` in a row; hang up after MAX_ERRORS."""
        if errors >= MAX_ERRORS:
            return _build_hangup_response((self.outage,))
        return _build_error_response(self._fresh_urls(errors))

    async def _answer(
        self, on_new_message: OnNewMessage, request: Request, params: dict[str, str]
    ) -> VoiceResponse:
        sid = params["CallSid"]
        delivery = signature_id(request)
        state, pending, first = await self._db(lambda s: _load(s, sid, delivery))
        if state is not None and call_is_over(state, time.time()):
            logger.info("webhook for call %s after it ended: hanging up", sid)
            return _build_hangup_response(())
        call = self._call(params, state, errors_in(request.args))
        if not first:  # Twilio's retry or a replay: ask again, change nothing
            logger.info("repeated webhook for call %s", sid)
            return self._ask_again(call, state) if state else _build_hangup_response(())
        if request.args.get("after") == "transfer":
            return await self._after_transfer(call, params)
        if state is None:
            greeting = greeting_state().evolve(caller_attested=attested(params))
            await self._db(lambda s: store.save_state(s, call.sid, greeting))
            return _build_greeting_response(self._fresh_urls())
        if pending is not None:
            return await self._continue_turn(call, state, pending)
        if request.args.get("wait"):
            return self._ask_again(call, state)  # the turn it waited for is over
        if call.silent or request.args.get("noinput"):
            return await self._apply(on_new_message, request, call, on_silence(state))
        state = state.evolve(silences=0)
        choice = await self._db(lambda s: self._choice(s, call))
        decision = interpret(state, call, choice, self.settings.default_phone_region)
        return await self._apply(on_new_message, request, call, decision)

    def _ask_again(self, call: Call, state: CallState) -> VoiceResponse:
        prompt = _repeat(state)
        return _build_prompt_response(prompt.speech, prompt.gather, self._urls(call))

    def _choice(self, session: Session, call: Call) -> str | None:
        """The payload of the numbered choice the caller picked, if any."""
        key = call.digits or spoken_key(call.speech)
        if not key or not is_ascii_digits(key):
            return None
        payload = messaging.resolve_choice(session, call.conversation_id, key)
        return None if payload == key else payload

    async def _apply(
        self,
        on_new_message: OnNewMessage,
        request: Request,
        call: Call,
        decision: Decision,
    ) -> VoiceResponse:
        if isinstance(decision, HangUp):
            return _build_hangup_response(decision.speech)
        if isinstance(decision, Prompt):
            await self._db(lambda s: store.save_state(s, call.sid, decision.state))
            return _build_prompt_response(
                decision.speech, decision.gather, self._urls(call)
            )
        agent = getattr(request.app.ctx, "agent", None)
        return await self._converse(on_new_message, agent, call, decision.text)

    # --- assistant turns -------------------------------------------------------------

    async def _converse(
        self, on_new_message: OnNewMessage, agent: Any, call: Call, text: str
    ) -> VoiceResponse:
        """Run one turn, answering within the timeout; a slow turn is kept running."""
        turn = PendingTurn(
            turn_id=uuid.uuid4().hex, asked_for_agent=text == REQUEST_HUMAN
        )
        await self._db(lambda s: store.start_turn(s, call.sid, turn))
        task = asyncio.ensure_future(
            self._run_turn(on_new_message, agent, call, text, turn)
        )
        self._tasks[call.sid] = task
        self._running.add(task)
        task.add_done_callback(_forget(self._running))
        try:
            replies = await asyncio.wait_for(
                asyncio.shield(task), self.settings.voice_response_timeout
            )
        except asyncio.TimeoutError:
            self._abandoned.add(turn.turn_id)  # from now on the turn stores its result
            if not task.done():
                await self._db(lambda s: self._save_waits(s, call.sid, 0))
                return _build_delay_response(DELAY, self._urls(call))
            return await self._finish_turn(call, turn, task)
        except Exception:
            await self._db(lambda s: store.clear_turn(s, call.sid))
            return await self._failed(call, turn.asked_for_agent)
        await self._db(lambda s: store.clear_turn(s, call.sid))
        return await self._speak(call, replies, turn.asked_for_agent)

    async def _finish_turn(
        self, call: Call, turn: PendingTurn, task: asyncio.Task[list[dict[str, Any]]]
    ) -> VoiceResponse:
        """A turn that finished just as the wait timed out: answer with it now."""
        await self._db(lambda s: store.clear_turn(s, call.sid))
        if task.exception() is not None:
            return await self._failed(call, turn.asked_for_agent)
        return await self._speak(call, task.result(), turn.asked_for_agent)

    async def _run_turn(
        self,
        on_new_message: OnNewMessage,
        agent: Any,
        call: Call,
        text: str,
        turn: PendingTurn,
    ) -> list[dict[str, Any]]:
        """The assistant's replies; stored for a later webhook if nobody waits."""
        try:
            replies = await self._assistant(on_new_message, agent, call, text)
        except Exception:
            logger.exception("assistant failed on call %s", call.sid)
            await self._store_late(call, turn, TurnStatus.FAILED, [])
            raise
        else:
            await self._store_late(call, turn, TurnStatus.DONE, replies)
            return replies
        finally:
            if self._tasks.get(call.sid) is asyncio.current_task():
                del self._tasks[call.sid]

    async def _store_late(
        self,
        call: Call,
        turn: PendingTurn,
        status: TurnStatus,
        replies: list[dict[str, Any]],
    ) -> None:
        # Checked with no await since the assistant returned: if the webhook is still
        # waiting, it gets the replies itself and this turn stores nothing.
        if turn.turn_id not in self._abandoned:
            return
        self._abandoned.discard(turn.turn_id)
        late = PendingTurn(
            turn_id=turn.turn_id,
            status=status,
            started_at=turn.started_at,
            asked_for_agent=turn.asked_for_agent,
            replies=replies,
        )
        try:
            await self._db(lambda s: store.finish_turn(s, call.sid, late))
        except Exception:
            logger.exception("could not store the late replies of call %s", call.sid)

    async def _assistant(
        self, on_new_message: OnNewMessage, agent: Any, call: Call, text: str
    ) -> list[dict[str, Any]]:
        replies = await run_through_rasa(
            on_new_message,
            text,
            call.conversation_id,
            CHANNEL,
            ChannelIdentity(channel=CHANNEL, phone=call.vouched_phone),
            self.settings.secret_key,
        )
        if control_of(replies) is None and agent is not None:
            # Until the voice responses carry their custom payloads.
            tracker = await agent.tracker_store.retrieve(call.conversation_id)
            control = control_from_events(list(tracker.events)) if tracker else None
            if control:
                replies.append({"custom": {CONTROL_KEY: control}})
        return replies

    async def _continue_turn(
        self, call: Call, state: CallState, pending: PendingTurn
    ) -> VoiceResponse:
        """A webhook while a slow turn runs (or has finished): wait, or speak it."""
        stale = time.time() - pending.started_at > STALE_TURN_SECONDS
        if call.digits == "0":  # the caller would rather talk to a person
            await self._db(lambda s: store.clear_turn(s, call.sid))
            return await self._hand_off(call, ())
        if pending.status is TurnStatus.RUNNING and not stale:
            finished = await self._await_turn(call.sid)
            if finished is None:
                return await self._still_waiting(call, state, pending)
            pending = finished
        await self._db(lambda s: store.clear_turn(s, call.sid))
        if pending.status is TurnStatus.DONE:
            return await self._speak(call, pending.replies, pending.asked_for_agent)
        return await self._failed(call, pending.asked_for_agent)

    async def _await_turn(self, call_sid: str) -> PendingTurn | None:
        """The turn once it has finished, or None if it is still running."""
        deadline = time.monotonic() + self.settings.voice_response_timeout
        task = self._tasks.get(call_sid)
        if task is not None:  # running in this process
            await asyncio.wait({task}, timeout=self.settings.voice_response_timeout)
        while True:
            pending = await self._db(lambda s: store.load_pending(s, call_sid))
            if pending is None or pending.status is not TurnStatus.RUNNING:
                return pending
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(POLL_SECONDS)

    async def _still_waiting(
        self, call: Call, state: CallState, pending: PendingTurn
    ) -> VoiceResponse:
        waits = state.waits + 1
        if waits < MAX_WAITS:
            await self._db(lambda s: self._save_waits(s, call.sid, waits))
            return _build_delay_response(STILL_WAITING, self._urls(call))
        logger.warning("call %s gave up waiting for the assistant", call.sid)
        await self._db(lambda s: store.clear_turn(s, call.sid))  # drop a late result
        return await self._failed(call, pending.asked_for_agent)

    @staticmethod
    def _save_waits(session: Session, call_sid: str, waits: int) -> None:
        state, _ = store.load_call(session, call_sid)
        store.save_state(session, call_sid, (state or CallState()).evolve(waits=waits))

    # --- answering with the assistant's replies -----------------------------------

    async def _speak(
        self, call: Call, replies: list[dict[str, Any]], asked_for_agent: bool
    ) -> VoiceResponse:
        reply = voice_reply(replies)
        if reply.control == TRANSFER:
            return await self._hand_off(call, reply.speech)
        if asked_for_agent:  # the assistant couldn't hand off: the channel does
            return await self._hand_off(call, ())
        if reply.control == HANGUP:
            return _build_hangup_response(reply.speech or (GOODBYE,))
        if not reply.speech and not reply.choice_titles:
            return await self._failed(call, asked_for_agent=False)
        state = conversation_state(reply)
        payloads = list(reply.choice_payloads)

        def remember(session: Session) -> None:
            messaging.remember_choices(session, call.conversation_id, payloads)
            store.save_state(session, call.sid, state)

        await self._db(remember)
        return _build_reply_response(reply, self._fresh_urls())

    async def _failed(self, call: Call, asked_for_agent: bool) -> VoiceResponse:
        """The assistant failed: a person if that was the request, else an apology.

        The choices offered before no longer apply: "press 1" must not pick one.
        After MAX_ERRORS failures in a row the call ends instead.
        """
        if asked_for_agent:
            return await self._hand_off(call, ())
        errors = call.errors + 1
        if errors >= MAX_ERRORS:
            logger.warning(
                "call %s failed %d times in a row: hanging up", call.sid, errors
            )
            return self._error_response(errors)
        state = CallState(
            phase=Phase.CONVERSATION,
            gather=GatherKind.OPEN,
            prompt=ERROR,
            reprompt=f"{DIDNT_CATCH} {ERROR}",
        )

        def apologise(session: Session) -> None:
            messaging.remember_choices(session, call.conversation_id, [])
            store.save_state(session, call.sid, state)

        await self._db(apologise)
        return self._error_response(errors)

    async def _hand_off(self, call: Call, speech: Sequence[str]) -> VoiceResponse:
        """Transfer to the agents, or promise a call back under a handoff ticket.

        Outside opening hours nobody would answer a transfer: the caller is told
        when the team is back and gets a call back then.
        """
        back = self._back_at()
        if self.route.live and back is None:
            return _build_transfer_response(speech, self.route, self._fresh_urls())
        return await self._callback(call, speech, back)

    def _back_at(self) -> str | None:
        """When the team is back ("tomorrow at 8 am"), or None while it is working.

        Hours that never open (an empty OPENING_HOURS) promise nothing, like the
        assistant's handoff message.
        """
        now = self.clock()
        if self.hours.is_open(now):
            return None
        opening = self.hours.next_opening(now)
        return describe_opening(opening, now) if opening is not None else None

    async def _callback(
        self, call: Call, speech: Sequence[str], back: str | None = None
    ) -> VoiceResponse:
        try:
            await self._db(
                lambda s: ensure_handoff_ticket(
                    s, call.conversation_id, call.caller, call.caller_verified
                )
            )
        except Exception:
            logger.exception("could not open a handoff ticket for call %s", call.sid)
            return _build_hangup_response([*speech, UNAVAILABLE])
        return _build_callback_response(
            speech, caller_known=call.caller is not None, back=back
        )

    async def _after_transfer(
        self, call: Call, params: dict[str, str]
    ) -> VoiceResponse:
        """Twilio's report on a <Dial>/<Enqueue>: done, or nobody answered."""
        dial_status = params.get("DialCallStatus", "")
        queue_result = params.get("QueueResult", "")
        if dial_status in ("completed", "answered") or queue_result in (
            "bridged",
            "hangup",
        ):
            return _build_hangup_response(())
        logger.info(
            "transfer of call %s failed (%s)", call.sid, dial_status or queue_result
        )
        return await self._callback(call, (NOBODY_FREE,))

    async def _record_status(self, params: dict[str, str], delivery_id: str) -> None:
        """Record a final CallStatus once; repeats of a status callback change nothing."""
        sid, status = params["CallSid"], params["CallStatus"]
        if status not in FINAL_CALL_STATUSES:
            return

        def record(session: Session) -> bool:
            if not messaging.first_delivery(session, delivery_id):
                return False
            store.end_call(session, sid, f"{CHANNEL}:{sid}", status)
            return True

        if not await self._db(record):
            return
        logger.info(
            "call %s ended: %s after %s s", sid, status, params.get("CallDuration", "?")
        )
        self._tasks.pop(
            sid, None
        )  # a late turn finds no pending row and stores nothing
