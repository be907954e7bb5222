"""The phone IVR's decisions on a caller's input (channels/voice/ivr.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from channels.voice.ivr import (
    MAX_CALL_SECONDS,
    REQUEST_HUMAN,
    Call,
    HangUp,
    Prompt,
    Send,
    attested,
    back_from_queue_prompt,
    call_is_over,
    greeting_state,
    interpret,
    on_silence,
    trusts_caller,
)
from channels.voice.prompts import (
    ACCOUNT_MENU_PROMPT,
    AGENT_OFFER,
    ANYTHING_ELSE,
    BACK_PROMPT,
    NO_INPUT_GOODBYE,
)
from channels.voice.speech import clean_digits
from channels.voice.state import CallState, GatherKind, Phase, Readback


def call(digits: str = "", speech: str = "") -> Call:
    return Call(sid="CA123", caller="+14155550134", digits=digits, speech=speech)


# --- decisions -----------------------------------------------------------------------

MENU = greeting_state()
ASKING = CallState(
    phase=Phase.CONVERSATION,
    gather=GatherKind.OPEN,
    prompt="What's your order number?",
    reprompt="Sorry, I didn't catch that. What's your order number?",
)
READBACK = ASKING.evolve(
    phase=Phase.READBACK, readback=Readback("104257", "1 0 4 2 5 7")
)


@pytest.mark.parametrize(
    ("key", "payload"),
    [("1", "/check_order_status"), ("2", "/report_problem"), ("0", REQUEST_HUMAN)],
)
def test_main_menu_keys(key: str, payload: str) -> None:
    assert interpret(MENU, call(digits=key), None) == Send(payload)
    assert interpret(MENU, call(speech=["zero", "one", "two"][int(key)]), None) == (
        Send(payload)
    )


def test_account_submenu() -> None:
    decided = interpret(MENU, call(digits="3"), None)
    assert isinstance(decided, Prompt)
    assert decided.speech == (ACCOUNT_MENU_PROMPT,)
    assert decided.state.phase is Phase.ACCOUNT_MENU
    for key, payload in [("1", "/register_account"), ("2", "/account_problem"),
                         ("3", "/update_account"), ("0", REQUEST_HUMAN)]:  # fmt: skip
        assert interpret(decided.state, call(digits=key), None) == Send(payload)


def test_a_key_that_is_not_on_the_menu() -> None:
    decided = interpret(MENU, call(digits="7"), None)
    assert isinstance(decided, Prompt) and decided.state == MENU
    assert decided.speech[0] == "Sorry, that isn't one of the options."


@pytest.mark.parametrize("speech", ["Oh.", "oh", "to", "too", "for", "²"])
def test_words_that_only_sound_like_digits_are_no_menu_keys(speech: str) -> None:
    # "Oh." used to be "0": a person. Now it is just something the caller said.
    assert interpret(MENU, call(speech=speech), None) == Send(speech)


def test_speech_at_the_menu_goes_to_the_assistant() -> None:
    assert interpret(MENU, call(speech="I want to cancel my order"), None) == Send(
        "I want to cancel my order"
    )


def test_keyed_digits_are_read_back_before_they_are_sent() -> None:
    decided = interpret(ASKING, call(digits="104257"), None)
    assert isinstance(decided, Prompt)
    assert decided.speech == (
        "I heard 1 0 4 2 5 7. Press 1 if that's right, or 2 to try again.",
    )
    assert decided.state.phase is Phase.READBACK
    assert decided.state.readback == Readback("104257", "1 0 4 2 5 7")
    assert decided.state.prompt == ASKING.prompt  # kept for "try again"


def test_a_star_inside_a_keyed_number_is_dropped() -> None:
    decided = interpret(ASKING, call(digits=clean_digits("1042*57")), None)
    assert isinstance(decided, Prompt)
    assert decided.state.readback == Readback("104257", "1 0 4 2 5 7")


def test_spoken_numbers_are_read_back_too() -> None:
    decided = interpret(ASKING, call(speech="it's one oh four two five seven"), None)
    assert isinstance(decided, Prompt)
    assert decided.state.readback == Readback("it's 104257", "1 0 4 2 5 7")


def test_readback_confirmed_by_key_or_speech() -> None:
    assert interpret(READBACK, call(digits="1"), None) == Send("104257")
    assert interpret(READBACK, call(speech="Yes."), None) == Send("104257")


def test_readback_rejected_asks_the_question_again() -> None:
    for rejection in (call(digits="2"), call(speech="No, that's wrong.")):
        decided = interpret(READBACK, rejection, None)
        assert isinstance(decided, Prompt)
        assert decided.speech == ("OK, let's try again.", "What's your order number?")
        assert decided.state.phase is Phase.CONVERSATION
        assert decided.state.readback is None


def test_a_new_number_during_the_readback_replaces_it() -> None:
    decided = interpret(READBACK, call(digits="104258"), None)
    assert isinstance(decided, Prompt)
    assert decided.state.readback == Readback("104258", "1 0 4 2 5 8")
    assert decided.state.resume_phase is Phase.CONVERSATION


def test_other_speech_during_the_readback_goes_to_the_assistant() -> None:
    assert interpret(READBACK, call(speech="talk to a person"), None) == Send(
        "talk to a person"
    )


def test_numbered_choices_map_to_their_payloads() -> None:
    choosing = ASKING.evolve(gather=GatherKind.CHOICES, prompt="Press 1 for Yes.")
    assert interpret(choosing, call(digits="1"), "/affirm") == Send("/affirm")
    not_offered = interpret(choosing, call(digits="5"), None)
    assert isinstance(not_offered, Prompt)
    assert not_offered.speech[0] == "Sorry, that isn't one of the options."


def test_zero_always_asks_for_a_person_and_star_repeats() -> None:
    for state in (MENU, ASKING, READBACK):
        assert interpret(state, call(digits="0"), None) == Send(REQUEST_HUMAN)
    repeated = interpret(ASKING, call(digits="*"), None)
    assert isinstance(repeated, Prompt) and repeated.speech == (ASKING.prompt,)
    said_again = interpret(READBACK, call(speech="say that again"), None)
    assert isinstance(said_again, Prompt)
    assert said_again.speech[0].startswith("I heard 1 0 4 2 5 7.")


def test_silence_reprompts_twice_then_offers_a_person_then_hangs_up() -> None:
    state = MENU
    speeches = []
    for _ in range(3):
        decided = on_silence(state)
        assert isinstance(decided, Prompt)
        speeches.append(decided.speech)
        state = decided.state
    assert (
        speeches[0]
        == speeches[1]
        == (
            "Sorry, I didn't catch that. Press 1 for orders, 2 for a problem, 3 for your "
            "account, or 0 for an agent.",
        )
    )
    assert speeches[2] == (AGENT_OFFER,)
    assert on_silence(state) == HangUp((NO_INPUT_GOODBYE,))


# --- who is calling, and whether the call is still on --------------------------------


def test_only_full_attestation_counts() -> None:
    assert attested({"StirVerstat": "TN-Validation-Passed-A"})
    for verstat in ("TN-Validation-Passed-B", "TN-Validation-Passed-C",
                    "TN-Validation-Failed-A", "No-TN-Validation", ""):  # fmt: skip
        assert not attested({"StirVerstat": verstat})
    assert not attested({})


def test_trusting_the_caller_id() -> None:
    kept = MENU.evolve(caller_attested=True)  # attested at the call's first webhook
    assert trusts_caller("attested", True, None)
    assert trusts_caller("attested", False, kept)
    assert not trusts_caller("attested", False, MENU)
    assert not trusts_caller("attested", False, None)
    assert trusts_caller("always", False, None)
    assert not trusts_caller("never", True, kept)


def test_the_vouched_phone_is_the_caller_only_when_verified() -> None:
    assert call().vouched_phone is None
    assert replace(call(), caller_verified=True).vouched_phone == "+14155550134"


def test_a_call_is_over_when_ended_or_too_old() -> None:
    state = CallState(started_at=1000.0)
    assert not call_is_over(state, 1000.0 + MAX_CALL_SECONDS - 1)
    assert call_is_over(state, 1000.0 + MAX_CALL_SECONDS + 1)
    assert call_is_over(state.evolve(ended="completed"), 1001.0)


def test_call_state_round_trips_and_keeps_the_call_facts() -> None:
    state = READBACK.evolve(started_at=1234.5, caller_attested=True)
    assert CallState.from_json(state.to_json()) == state
    later = ASKING.keeping_call_facts(state.evolve(ended="completed"))
    assert (later.started_at, later.caller_attested, later.ended) == (
        1234.5,
        True,
        "completed",
    )
    assert later.prompt == ASKING.prompt
    # Stored before the start time was: treated as long over.
    legacy = CallState.from_json('{"phase": "menu", "prompt": "x"}')
    assert legacy.started_at == 0.0 and not legacy.caller_attested
    assert call_is_over(legacy, 10.0 + MAX_CALL_SECONDS)


def test_back_from_the_queue_the_assistant_listens_for_anything() -> None:
    prompt = back_from_queue_prompt()
    assert prompt.speech == (BACK_PROMPT,) and prompt.gather is GatherKind.OPEN
    assert prompt.state.phase is Phase.CONVERSATION
    assert prompt.state.reprompt == ANYTHING_ELSE
    # Then the caller's words go to the assistant.
    said = Call(sid="CA1", caller=None, speech="where is my order")
    assert interpret(prompt.state, said, None) == Send("where is my order")
