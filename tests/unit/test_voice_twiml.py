"""The phone IVR's TwiML, speech and decisions, without a server.

TwiML is compared as exact XML strings (as twilio-python's own tests do) and also
parsed, to check verbs and attributes independently of formatting.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot.settings import Settings
from channels.voice import (
    ACCOUNT_MENU_PROMPT,
    AGENT_OFFER,
    DELAY,
    HANGUP,
    MAX_CALL_SECONDS,
    NO_INPUT_GOODBYE,
    REQUEST_HUMAN,
    TRANSFER,
    UNAVAILABLE,
    AgentRoute,
    Call,
    CallUrls,
    HangUp,
    Prompt,
    Send,
    VoiceInput,
    VoiceReply,
    _build_callback_response,
    _build_delay_response,
    _build_error_response,
    _build_greeting_response,
    _build_hangup_response,
    _build_readback_response,
    _build_reply_response,
    _build_transfer_response,
    attested,
    call_is_over,
    control_from_events,
    control_of,
    conversation_state,
    errors_in,
    greeting_state,
    interpret,
    on_silence,
    outage_message,
    trusts_caller,
    voice_reply,
)
from channels.voice_speech import (
    choices_prompt,
    clean_digits,
    confirmation,
    heard_number,
    is_ascii_digits,
    speakable,
    spell_digits,
    spell_identifiers,
    spoken_key,
    wants_repeat,
)
from channels.voice_state import CallState, GatherKind, Phase, Readback

URLS = CallUrls("https://ivr.example.com/webhooks/voice/webhook")
XML = '<?xml version="1.0" encoding="UTF-8"?>'
SAY = '<Say voice="Polly.Joanna-Neural">'
KEY_GATHER = (
    '<Gather action="https://ivr.example.com/webhooks/voice/webhook" '
    'input="dtmf speech" language="en-US" method="POST" numDigits="1" '
    'speechTimeout="auto" timeout="5">'
)
NOINPUT = (
    '<Redirect method="POST">'
    "https://ivr.example.com/webhooks/voice/webhook?noinput=1</Redirect>"
)


def parse(twiml: object) -> ET.Element:
    root = ET.fromstring(str(twiml))
    assert root.tag == "Response"
    return root


def said(root: ET.Element) -> list[str]:
    return [say.text or "" for say in root.iter("Say")]


def call(digits: str = "", speech: str = "") -> Call:
    return Call(sid="CA123", caller="+14155550134", digits=digits, speech=speech)


# --- TwiML builders ------------------------------------------------------------------


def test_greeting_is_one_gather_for_keys_and_speech() -> None:
    twiml = _build_greeting_response(URLS)
    assert str(twiml) == (
        f"{XML}<Response>{KEY_GATHER}"
        f"{SAY}Hi, thanks for calling the demo shop. I'm Switchboard, the automated "
        "assistant.</Say>"
        f"{SAY}Press 1 for order status, 2 to report a problem, 3 for account and "
        "registration, 0 for an agent, or just tell me what you need.</Say>"
        f"</Gather>{NOINPUT}</Response>"
    )
    root = parse(twiml)
    assert [child.tag for child in root] == ["Gather", "Redirect"]
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib["input"] == "dtmf speech"
    assert gather.attrib["action"] == URLS.webhook
    assert gather.attrib["speechTimeout"] == "auto"
    assert gather.attrib["language"] == "en-US"
    assert [child.tag for child in gather] == ["Say", "Say"]  # barge-in: Say inside


def test_readback_response() -> None:
    twiml = _build_readback_response("1 0 4 2 5 7", URLS)
    assert str(twiml) == (
        f"{XML}<Response>{KEY_GATHER}"
        f"{SAY}I heard 1 0 4 2 5 7. Press 1 if that's right, or 2 to try again.</Say>"
        f"</Gather>{NOINPUT}</Response>"
    )


def test_reply_with_choices_listens_for_a_key_or_speech() -> None:
    reply = VoiceReply(
        speech=("Order 1 1 2 2 3 3 hasn't left our warehouse. Shall I cancel it?",),
        choice_titles=("Yes, cancel it", "No, keep it"),
        choice_payloads=("/affirm", "/deny"),
        control=None,
    )
    twiml = _build_reply_response(reply, URLS)
    assert str(twiml) == (
        f"{XML}<Response>"
        '<Gather action="https://ivr.example.com/webhooks/voice/webhook" '
        'finishOnKey="#" input="dtmf speech" language="en-US" method="POST" '
        'speechTimeout="auto" timeout="4">'
        f"{SAY}Order 1 1 2 2 3 3 hasn't left our warehouse. Shall I cancel it?</Say>"
        f"{SAY}Press 1 for Yes, cancel it. Press 2 for No, keep it.</Say>"
        f"</Gather>{NOINPUT}</Response>"
    )


def test_reply_without_choices_takes_numbers_ended_by_hash() -> None:
    reply = VoiceReply(("What's your order number?",), (), (), None)
    gather = parse(_build_reply_response(reply, URLS)).find("Gather")
    assert gather is not None
    assert gather.attrib["finishOnKey"] == "#"
    assert "numDigits" not in gather.attrib
    assert said(gather) == ["What's your order number?"]


def test_delay_response_offers_a_person_and_comes_back() -> None:
    twiml = _build_delay_response(DELAY, URLS)
    assert str(twiml) == (
        f"{XML}<Response>"
        '<Gather action="https://ivr.example.com/webhooks/voice/webhook?wait=1" '
        'input="dtmf" method="POST" numDigits="1" timeout="2">'
        f"{SAY}Sorry, I'm taking longer than usual. Please stay on the line, or press "
        "0 to talk to a person.</Say></Gather>"
        '<Redirect method="POST">'
        "https://ivr.example.com/webhooks/voice/webhook?wait=1</Redirect></Response>"
    )


def test_error_response_counts_the_failure_in_its_signed_urls() -> None:
    twiml = _build_error_response(URLS.with_errors(1))
    assert str(twiml) == (
        f"{XML}<Response>"
        '<Gather action="https://ivr.example.com/webhooks/voice/webhook?err=1" '
        'finishOnKey="#" input="dtmf speech" language="en-US" method="POST" '
        'speechTimeout="auto" timeout="5">'
        f"{SAY}Sorry, something went wrong on our side. Press 0 to talk to a member "
        "of our team, or tell me again what you need.</Say></Gather>"
        '<Redirect method="POST">'
        "https://ivr.example.com/webhooks/voice/webhook?noinput=1&amp;err=1"
        "</Redirect></Response>"
    )


def test_urls_carry_the_error_count_only_when_there_is_one() -> None:
    assert (URLS.action, URLS.noinput, URLS.wait) == (
        URLS.webhook,
        f"{URLS.webhook}?noinput=1",
        f"{URLS.webhook}?wait=1",
    )
    failing = URLS.with_errors(1)
    assert (failing.action, failing.noinput, failing.wait) == (
        f"{URLS.webhook}?err=1",
        f"{URLS.webhook}?noinput=1&err=1",
        f"{URLS.webhook}?wait=1&err=1",
    )
    assert failing.after_transfer == URLS.after_transfer


def test_urls_carry_the_step_token_last() -> None:
    """A one-time token per answer: no two webhooks Twilio sends are signed alike."""
    step = URLS.with_errors(1).with_step("0f1e2d3c4b5a6978")
    assert (step.action, step.noinput, step.wait, step.after_transfer) == (
        f"{URLS.webhook}?err=1&step=0f1e2d3c4b5a6978",
        f"{URLS.webhook}?noinput=1&err=1&step=0f1e2d3c4b5a6978",
        f"{URLS.webhook}?wait=1&err=1&step=0f1e2d3c4b5a6978",
        f"{URLS.webhook}?after=transfer&step=0f1e2d3c4b5a6978",
    )


@pytest.mark.parametrize(
    ("args", "errors"),
    [({}, 0), ({"err": "1"}, 1), ({"err": "7"}, 2), ({"err": "²"}, 0),
     ({"err": "x"}, 0), ({"err": "9" * 5000}, 2), ({"err": ""}, 0)],
)  # fmt: skip
def test_errors_in_the_query(args: dict[str, str], errors: int) -> None:
    assert errors_in(args) == errors


def test_outage_message_gives_the_number_to_call_back() -> None:
    assert outage_message("+15005550006") == (
        "Sorry, we're having technical trouble. Please call us back later on "
        "5 0 0, 5 5 5, 0 0 0 6."
    )
    assert outage_message(None) == UNAVAILABLE


def test_hangup_response() -> None:
    twiml = _build_hangup_response(("Thanks for calling. Goodbye!",))
    assert str(twiml) == (
        f"{XML}<Response>{SAY}Thanks for calling. Goodbye!</Say><Hangup /></Response>"
    )
    assert [child.tag for child in parse(twiml)] == ["Say", "Hangup"]


def test_transfer_dials_the_agents_phone() -> None:
    twiml = _build_transfer_response(
        ("I've passed our conversation to our team.",),
        AgentRoute(phone="+14155550100"),
        URLS,
    )
    assert str(twiml) == (
        f"{XML}<Response>{SAY}I've passed our conversation to our team.</Say>"
        f"{SAY}Putting you through to a member of our team now.</Say>"
        '<Dial action="https://ivr.example.com/webhooks/voice/webhook?after=transfer" '
        'answerOnBridge="true" method="POST" timeout="30">'
        "<Number>+14155550100</Number></Dial></Response>"
    )


def test_transfer_enqueues_when_only_a_queue_is_configured() -> None:
    root = parse(_build_transfer_response((), AgentRoute(queue="support"), URLS))
    enqueue = root.find("Enqueue")
    assert enqueue is not None and enqueue.text == "support"
    assert enqueue.attrib["action"] == URLS.after_transfer
    assert root.find("Dial") is None and root.find("Hangup") is None


def test_callback_response_promises_a_call_back_and_hangs_up() -> None:
    twiml = _build_callback_response(("Your reference is T 0 0 0 0 1 2.",), True)
    assert str(twiml) == (
        f"{XML}<Response>{SAY}Your reference is T 0 0 0 0 1 2.</Say>"
        f"{SAY}A member of our team will call you back on this number within one "
        f"business day.</Say>{SAY}Thank you for calling. Goodbye.</Say>"
        "<Hangup /></Response>"
    )


def test_callback_is_not_promised_twice_nor_to_a_withheld_number() -> None:
    already = "A member of our team will call you back on this number within one day."
    assert said(parse(_build_callback_response((already,), True))) == [
        already,
        "Thank you for calling. Goodbye.",
    ]
    withheld = " ".join(said(parse(_build_callback_response((), False))))
    assert "call you back" not in withheld and "can't see the number" in withheld


def test_special_characters_are_escaped() -> None:
    reply = VoiceReply(("Fish & chips <now>",), (), (), None)
    assert "Fish &amp; chips &lt;now&gt;" in str(_build_reply_response(reply, URLS))
    assert said(parse(_build_reply_response(reply, URLS))) == ["Fish & chips <now>"]


# --- speech --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "spoken"),
    [
        ("104257", "1 0 4 2 5 7"),
        ("4155550134", "4 1 5, 5 5 5, 0 1 3 4"),
        ("14155550134", "4 1 5, 5 5 5, 0 1 3 4"),
        ("+14155550134", "4 1 5, 5 5 5, 0 1 3 4"),
        ("42", "4 2"),
        ("4²2٣", "4 2"),  # "²".isdigit() and "٣".isdigit() are True
    ],
)
def test_readback_reads_digit_by_digit(digits: str, spoken: str) -> None:
    assert spell_digits(digits) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        (
            "**Done**: order 104257 is cancelled. 🎉",
            "Done: order 1 0 4 2 5 7 is cancelled.",
        ),
        ("[Track it](https://ups.com/t?n=1) now", "Track it now."),
        (
            "You can reset your password here: https://shop.example/reset. We'll email you.",
            "You can reset your password here. We'll email you.",
        ),
        (
            "Reset the password (https://shop.example/reset) or check your spam folder.",
            "Reset the password or check your spam folder.",
        ),
        ("Returns\nYou have 30 days.", "Returns. You have 30 days."),
        (
            "We accept:\n- Visa\n- Mastercard\n- PayPal\n- Apple Pay\n- Google Pay",
            "We accept: Visa, Mastercard, PayPal, and 2 more.",
        ),
        ("Pick one:\n1. Red\n2. Blue", "Pick one: Red and Blue."),
        (
            "Your reference is T-000012. Call +14155550134 if needed.",
            "Your reference is T 0 0 0 0 1 2. Call 4 1 5, 5 5 5, 0 1 3 4 if needed.",
        ),
    ],
)
def test_speakable(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


def test_long_answers_keep_their_first_sentences_and_closing_question() -> None:
    sentence = "This sentence is about fifty characters long, more or less."
    text = " ".join([sentence] * 10) + " Anything else?"
    spoken = speakable(text)
    assert len(spoken) <= 300
    assert spoken.startswith(sentence) and spoken.endswith(" Anything else?")
    one_long_sentence = "word " * 100
    assert len(speakable(one_long_sentence)) <= 300
    assert speakable(one_long_sentence).endswith("word.")


def test_identifiers_only_when_they_stand_alone() -> None:
    assert spell_identifiers("order 104257.") == "order 1 0 4 2 5 7."
    assert spell_identifiers("1234567, $104257 and 104257.50") == (
        "1234567, $104257 and 104257.50"
    )


def test_ticket_references_are_read_character_by_character() -> None:
    assert spell_identifiers("Your reference is T-7K4M9Q.") == (
        "Your reference is T 7 K 4 M 9 Q."
    )
    assert spell_identifiers("ticket T-000123") == "ticket T 0 0 0 1 2 3"


def test_choices_become_keys() -> None:
    assert choices_prompt(["Yes, please", "No, thanks."]) == (
        "Press 1 for Yes, please. Press 2 for No, thanks."
    )
    assert choices_prompt([f"option {i}" for i in range(12)]).count("Press") == 9


@pytest.mark.parametrize(
    ("speech", "key"),
    [("One.", "1"), ("option 2", "2"), ("press three", "3"), ("zero", "0"),
     ("7", "7"), ("Two.", "2"), ("four", "4"), ("one two", None), ("hello", None),
     ("", None),
     # Not digits on their own: an interjection, and words that merely sound alike.
     ("Oh.", None), ("o", None), ("to", None), ("too", None), ("for", None),
     ("option for", None),
     # Digits that aren't ASCII.
     ("²", None), ("٣", None), ("option ²", None)],
)  # fmt: skip
def test_spoken_key(speech: str, key: str | None) -> None:
    assert spoken_key(speech) == key


def test_oh_is_a_zero_only_inside_a_number() -> None:
    heard = heard_number("one oh four two five seven")
    assert heard is not None and heard.text == "104257"
    assert spoken_key("oh") is None


@pytest.mark.parametrize(
    ("text", "digits"), [("7", True), ("104257", True), ("²", False), ("٣", False),
                         ("1²", False), ("", False), ("*", False)],
)  # fmt: skip
def test_only_ascii_digits_are_digits(text: str, digits: bool) -> None:
    assert is_ascii_digits(text) is digits


@pytest.mark.parametrize(
    ("keyed", "digits"),
    [("104257", "104257"), ("1042*57", "104257"), ("10#42*5", "10425"),
     ("*", "*"), ("**", ""), ("*#", "*"), ("#", ""), ("", ""), ("1²3", "13")],
)  # fmt: skip
def test_keyed_digits(keyed: str, digits: str) -> None:
    """A "*" is a key of its own (repeat), never part of a number."""
    assert clean_digits(keyed) == digits


def test_confirmation_and_repeat() -> None:
    assert confirmation("Yes, that's right.") is True
    assert confirmation("That's right") is True
    assert confirmation("No.") is False
    assert confirmation("where is my order") is None
    assert wants_repeat("Can you repeat that?") and not wants_repeat("repeat my order")


@pytest.mark.parametrize(
    ("speech", "text", "spoken"),
    [
        ("one oh four two five seven", "104257", "1 0 4 2 5 7"),
        ("1 0 4 2 5 7", "104257", "1 0 4 2 5 7"),
        ("My order number is 104257.", "My order number is 104257.", "1 0 4 2 5 7"),
        ("it's 415 555 0134", "it's +14155550134", "4 1 5, 5 5 5, 0 1 3 4"),
    ],
)
def test_heard_number(speech: str, text: str, spoken: str) -> None:
    heard = heard_number(speech)
    assert heard is not None and (heard.text, heard.spoken) == (text, spoken)


@pytest.mark.parametrize(
    "speech",
    ["my lamp from order 104257 arrived broken", "yes", "104257 or 108842", ""],
)
def test_not_a_number_to_read_back(speech: str) -> None:
    assert heard_number(speech) is None


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


def test_buttons_without_text_are_a_reply() -> None:
    reply = voice_reply([{"buttons": [{"title": "Yes", "payload": "/affirm"}]}])
    assert reply.speech == () and reply.choices_line == "Press 1 for Yes."
    twiml = _build_reply_response(reply, URLS)
    assert said(parse(twiml)) == ["Press 1 for Yes."]
    assert conversation_state(reply).gather is GatherKind.CHOICES


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


# --- settings --------------------------------------------------------------------------

VALID = Settings(twilio_auth_token="token", public_base_url="https://ivr.example.com")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"twilio_auth_token": ""}, "TWILIO_AUTH_TOKEN"),
        ({"public_base_url": "ivr.example.com"}, "PUBLIC_BASE_URL"),
        ({"public_base_url": "https://x.example?a=1"}, "PUBLIC_BASE_URL"),
        ({"voice_response_timeout": 0.0}, "VOICE_RESPONSE_TIMEOUT"),
        ({"voice_response_timeout": 20.0}, "VOICE_RESPONSE_TIMEOUT"),
        ({"agent_phone_number": "12"}, "AGENT_PHONE_NUMBER"),
        ({"agent_queue_name": "q" * 65}, "AGENT_QUEUE_NAME"),
        ({"voice_trust_caller_id": "sometimes"}, "VOICE_TRUST_CALLER_ID"),
        ({"voice_trust_caller_id": ""}, "VOICE_TRUST_CALLER_ID"),
    ],
)
def test_invalid_settings_are_refused_at_start(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        VoiceInput(replace(VALID, **change))  # type: ignore[arg-type]


def test_agent_route_prefers_a_phone_number() -> None:
    channel = VoiceInput(
        replace(VALID, agent_phone_number="(415) 555-0100", agent_queue_name="support")
    )
    assert channel.route == AgentRoute(phone="+14155550100")
    assert VoiceInput(replace(VALID, agent_queue_name="support")).route == AgentRoute(
        queue="support"
    )
    assert channel.urls.webhook == "https://ivr.example.com/webhooks/voice/webhook"
    assert VoiceInput.name() == "voice"


def test_caller_id_is_trusted_only_when_attested_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert VALID.voice_trust_caller_id == "attested"
    for mode in ("attested", "always", "never"):
        VoiceInput(replace(VALID, voice_trust_caller_id=mode))
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("VOICE_TRUST_CALLER_ID", " Always ")
    assert Settings.from_env().voice_trust_caller_id == "always"
