"""The phone IVR's TwiML and the URLs Twilio calls next (channels/voice/twiml.py).

TwiML is compared as exact XML strings (as twilio-python's own tests do) and also
parsed, to check verbs and attributes independently of formatting.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from channels.voice.ivr import Call
from channels.voice.prompts import DELAY, UNAVAILABLE, outage_message
from channels.voice.replies import VoiceReply, conversation_state, voice_reply
from channels.voice.state import GatherKind
from channels.voice.twiml import (
    HOLD_MUSIC,
    AgentRoute,
    CallUrls,
    build_callback_response,
    build_delay_response,
    build_error_response,
    build_greeting_response,
    build_hangup_response,
    build_leave_queue_response,
    build_queue_wait_response,
    build_readback_response,
    build_reply_response,
    build_transfer_response,
    errors_in,
)

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
    twiml = build_greeting_response(URLS)
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
    twiml = build_readback_response("1 0 4 2 5 7", URLS)
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
    twiml = build_reply_response(reply, URLS)
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
    gather = parse(build_reply_response(reply, URLS)).find("Gather")
    assert gather is not None
    assert gather.attrib["finishOnKey"] == "#"
    assert "numDigits" not in gather.attrib
    assert said(gather) == ["What's your order number?"]


def test_delay_response_offers_a_person_and_comes_back() -> None:
    twiml = build_delay_response(DELAY, URLS)
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
    twiml = build_error_response(URLS.with_errors(1))
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
    twiml = build_hangup_response(("Thanks for calling. Goodbye!",))
    assert str(twiml) == (
        f"{XML}<Response>{SAY}Thanks for calling. Goodbye!</Say><Hangup /></Response>"
    )
    assert [child.tag for child in parse(twiml)] == ["Say", "Hangup"]


def test_transfer_dials_the_agents_phone() -> None:
    twiml = build_transfer_response(
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
    root = parse(build_transfer_response((), AgentRoute(queue="support"), URLS))
    enqueue = root.find("Enqueue")
    assert enqueue is not None and enqueue.text == "support"
    assert enqueue.attrib["action"] == URLS.after_transfer
    # While waiting, the caller hears our wait prompt: they can go back to the bot.
    assert enqueue.attrib["waitUrl"] == URLS.queue_wait
    assert enqueue.attrib["waitUrlMethod"] == "POST"
    assert root.find("Dial") is None and root.find("Hangup") is None


def test_the_queue_plays_music_and_listens_for_star_or_assistant() -> None:
    twiml = build_queue_wait_response(URLS.with_step("0f1e2d3c4b5a6978"))
    assert str(twiml) == (
        f"{XML}<Response>"
        '<Gather action="https://ivr.example.com/webhooks/voice/webhook?queue=input'
        '&amp;step=0f1e2d3c4b5a6978" hints="assistant, back to the assistant, bot" '
        'input="dtmf speech" language="en-US" method="POST" numDigits="1" '
        'speechTimeout="auto" timeout="1">'
        f"{SAY}Thanks for holding: a member of our team will be with you as soon as "
        "they can. To go back to the automated assistant instead, press star or say "
        f"assistant.</Say><Play>{HOLD_MUSIC}</Play></Gather></Response>"
    )


def test_leaving_the_queue_says_why_then_leaves() -> None:
    twiml = build_leave_queue_response(("OK, you're back with the assistant.",))
    assert str(twiml) == (
        f"{XML}<Response>{SAY}OK, you're back with the assistant.</Say>"
        "<Leave /></Response>"
    )


def test_queue_urls_drop_the_error_count_and_keep_the_step() -> None:
    step = URLS.with_errors(1).with_step("0f1e2d3c4b5a6978")
    assert (step.queue_wait, step.queue_input) == (
        f"{URLS.webhook}?queue=wait&step=0f1e2d3c4b5a6978",
        f"{URLS.webhook}?queue=input&step=0f1e2d3c4b5a6978",
    )


def test_callback_response_promises_a_call_back_and_hangs_up() -> None:
    twiml = build_callback_response(("Your reference is T 0 0 0 0 1 2.",), True)
    assert str(twiml) == (
        f"{XML}<Response>{SAY}Your reference is T 0 0 0 0 1 2.</Say>"
        f"{SAY}A member of our team will call you back on this number within one "
        f"business day.</Say>{SAY}Thank you for calling. Goodbye.</Say>"
        "<Hangup /></Response>"
    )


def test_callback_is_not_promised_twice_nor_to_a_withheld_number() -> None:
    already = "A member of our team will call you back on this number within one day."
    assert said(parse(build_callback_response((already,), True))) == [
        already,
        "Thank you for calling. Goodbye.",
    ]
    withheld = " ".join(said(parse(build_callback_response((), False))))
    assert "call you back" not in withheld and "can't see the number" in withheld


def test_buttons_without_text_are_a_reply() -> None:
    reply = voice_reply([{"buttons": [{"title": "Yes", "payload": "/affirm"}]}])
    assert reply.speech == () and reply.choices_line == "Press 1 for Yes."
    twiml = build_reply_response(reply, URLS)
    assert said(parse(twiml)) == ["Press 1 for Yes."]
    assert conversation_state(reply).gather is GatherKind.CHOICES


def test_special_characters_are_escaped() -> None:
    reply = VoiceReply(("Fish & chips <now>",), (), (), None)
    assert "Fish &amp; chips &lt;now&gt;" in str(build_reply_response(reply, URLS))
    assert said(parse(build_reply_response(reply, URLS))) == ["Fish & chips <now>"]
