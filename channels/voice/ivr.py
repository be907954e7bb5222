"""The phone IVR's decisions: what to do with a caller's keys, speech or silence.

Pure functions on frozen dataclasses, apart from all I/O: `interpret` and
`on_silence` take the call's state (`channels.voice.state.CallState`) and this
webhook's input (`Call`) and return a `Decision`: give the assistant a text
(`Send`), answer without it and remember a new state (`Prompt`), or end the call
(`HangUp`). The channel (`channels.voice.channel`) carries them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import TRUST_ALWAYS, TRUST_ATTESTED
from channels.voice.prompts import (
    ACCOUNT_MENU_PROMPT,
    ACCOUNT_MENU_SHORT,
    AGENT_OFFER,
    ANYTHING_ELSE,
    BACK_PROMPT,
    DIDNT_CATCH,
    GREETING,
    MAIN_MENU_PROMPT,
    MAIN_MENU_SHORT,
    NO_INPUT_GOODBYE,
    NOT_AN_OPTION,
    READBACK_QUESTION,
    TRY_AGAIN,
    readback_prompt,
)
from channels.voice.speech import (
    HeardNumber,
    confirmation,
    heard_number,
    spell_digits,
    spoken_key,
    wants_repeat,
)
from channels.voice.state import CallState, GatherKind, Phase, Readback

CHANNEL = "voice"
MAX_REPROMPTS = 2  # silences answered with a shorter prompt before offering a person
MAX_ERRORS = 2  # consecutive failures before the call ends with "call back later"
MAX_CALL_SECONDS = 4 * 60 * 60  # Twilio's longest call: older webhooks are replays
FULL_ATTESTATION = "TN-Validation-Passed-A"

REQUEST_HUMAN = "/request_human"
MAIN_MENU = {"1": "/check_order_status", "2": "/report_problem", "0": REQUEST_HUMAN}
ACCOUNT_MENU_KEY = "3"
ACCOUNT_MENU = {
    "1": "/register_account",
    "2": "/account_problem",
    "3": "/update_account",
    "0": REQUEST_HUMAN,
}


# --- one webhook's input -----------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A webhook of a call: who is calling, and what they keyed or said."""

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


def back_from_queue_prompt() -> Prompt:
    """The caller left the agents' queue for the assistant: ask what they need."""
    state = CallState(
        phase=Phase.CONVERSATION,
        gather=GatherKind.OPEN,
        prompt=BACK_PROMPT,
        reprompt=ANYTHING_ELSE,
    )
    return Prompt((BACK_PROMPT,), GatherKind.OPEN, state)


def account_menu_state() -> CallState:
    return CallState(
        phase=Phase.ACCOUNT_MENU,
        gather=GatherKind.KEY,
        prompt=ACCOUNT_MENU_PROMPT,
        reprompt=f"{DIDNT_CATCH} {ACCOUNT_MENU_SHORT}",
    )


def current_prompt(state: CallState) -> tuple[str, GatherKind]:
    """What the caller was last asked, and how it listened."""
    if state.phase is Phase.READBACK and state.readback is not None:
        return readback_prompt(state.readback.spoken), GatherKind.KEY
    return state.prompt, state.gather


def repeat(state: CallState, prefix: str | None = None) -> Prompt:
    """Ask the current question again, after `prefix` if given."""
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
        return repeat(state, NOT_AN_OPTION)
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
    return repeat(state, NOT_AN_OPTION)


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
        return repeat(state)
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
            return repeat(state, NOT_AN_OPTION)
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
