"""Phone IVR journeys against the running stack, with the form bodies Twilio sends.

`PhoneCall` (tests/customers.py) plays Twilio's part: keys and speech go to the
<Gather>'s action URL, silence to the <Redirect> after it, and "still working"
answers are followed the way Twilio follows them. Every request is timed; `pytest -s`
prints the timings.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.models import Channel, ChannelChoice, Ticket, TicketCategory
from channels.voice.speech import speakable
from knowledge_base import KnowledgeBase
from tests.customers import VOICE_STATUS, VOICE_WEBHOOK, PhoneCall, query
from tests.fakes.twilio_webhooks import shifted
from tests.stack import Stack

pytestmark = pytest.mark.e2e

WEBHOOK = VOICE_WEBHOOK
STATUS = VOICE_STATUS
JANE = "+14155550134"
SAM = "+14155550178"
PRIYA = "+16175550190"
UNKNOWN_CALLER = "+13125550199"
# Only partial or gateway attestation: the carrier does not vouch for the number.
GATEWAY_ATTESTED = "TN-Validation-Passed-C"


def tickets_of(stack: Stack, conversation_id: str) -> list[Ticket]:
    with stack.session() as session:
        return list(
            session.scalars(
                select(Ticket).where(Ticket.conversation_id == conversation_id)
            )
        )


def test_signatures_are_required(stack: Stack) -> None:
    call = PhoneCall(stack, JANE)
    for signature in ("bad", None):
        assert (
            stack.twilio_post(WEBHOOK, call.params("ringing"), signature).status_code
            == 403
        )
        assert (
            stack.twilio_post(STATUS, call.params("completed"), signature).status_code
            == 403
        )
    with stack.session() as session:  # nothing was processed
        assert session.get(ChannelChoice, f"voice-call:{call.sid}") is None
    # A request signed for another URL (here: without its query) is refused too.
    url = f"{stack.rasa_url}{WEBHOOK}"
    signed_elsewhere = RequestValidator(stack.twilio_token).compute_signature(
        url, call.params()
    )
    assert (
        stack.twilio_post(f"{WEBHOOK}?noinput=1", call.params(), signed_elsewhere)
    ).status_code == 403
    assert call.start().gather is not None
    call.report("signatures")


def test_greeting_offers_the_menu_by_keys_or_speech(stack: Stack) -> None:
    call = PhoneCall(stack, JANE)
    twiml = call.start()
    gather = twiml.gather
    assert gather is not None
    assert gather.attrib["input"] == "dtmf speech"
    action = urlsplit(gather.attrib["action"])
    assert action._replace(query="").geturl() == f"{stack.rasa_url}{WEBHOOK}"
    assert query(gather.attrib["action"]).keys() == {"step"}  # a one-time URL
    assert gather.attrib["speechTimeout"] == "auto"
    assert gather.attrib["language"] == "en-US"
    assert gather.attrib["numDigits"] == "1"
    assert "Press 1 for order status, 2 to report a problem" in twiml.said
    assert "0 for an agent, or just tell me what you need" in twiml.said
    assert twiml.redirect is not None
    assert twiml.redirect.startswith(f"{stack.rasa_url}{WEBHOOK}?noinput=1&step=")
    call.report("greeting")


def test_known_caller_keys_in_an_order_number(stack: Stack) -> None:
    call = PhoneCall(stack, JANE)
    call.start()
    asked = call.press("1")
    assert "order number" in asked.said
    readback = call.press("104257")
    assert readback.said == (
        "I heard 1 0 4 2 5 7. Press 1 if that's right, or 2 to try again."
    )
    status = call.press("1")
    assert "has shipped" in status.said and "UPS" in status.said
    assert "1 0 4 2 5 7" in status.said
    spoken = " ".join([asked.said, readback.said, status.said]).lower()
    assert "email" not in spoken and "http" not in spoken and "1Z999" not in spoken
    assert status.gather is not None
    call.report("order status by keypad")


@pytest.mark.parametrize("verstat", [None, GATEWAY_ATTESTED])
def test_unattested_caller_id_is_asked_for_an_email(
    stack: Stack, verstat: str | None
) -> None:
    """Caller ID can be spoofed: calling "from" Jane's number proves nothing."""
    call = PhoneCall(stack, JANE, verstat=verstat)
    call.start()
    call.press("1")
    call.press("104257")
    asked = call.press("1")
    assert "email address" in asked.said
    assert "shipped" not in asked.said and "UPS" not in asked.said
    assert asked.gather is not None
    call.report(f"unattested caller ({verstat})")


def test_spoken_order_number_is_read_back_and_can_be_corrected(stack: Stack) -> None:
    call = PhoneCall(stack, PRIYA)
    call.start()
    assert "order number" in call.say("where is my order").said
    wrong = call.say("one one six zero zero two")
    assert wrong.said.startswith("I heard 1 1 6 0 0 2.")
    again = call.press("2")
    assert (
        again.said.startswith("OK, let's try again.") and "order number" in again.said
    )
    assert call.say("one one six zero zero one").said.startswith("I heard 1 1 6 0 0 1.")
    status = call.say("Yes.")
    assert "has shipped" in status.said and "USPS" in status.said
    call.report("order status by speech, corrected")


def test_problem_report_by_speech_opens_a_voice_ticket(stack: Stack) -> None:
    call = PhoneCall(stack, SAM)
    call.start()
    answers = {  # whatever the problem form asks next, answered by speech
        "went wrong": "The lamp arrived with a cracked shade.",
        "about an order": "No, it's not about an order.",
    }
    said = call.say("My lamp arrived broken.").said
    for _ in range(len(answers)):
        if "ticket T " in said:
            break
        [answer] = [a for question, a in answers.items() if question in said]
        said = call.say(answer).said
    assert "ticket T " in said and "email" not in said
    [ticket] = tickets_of(stack, call.conversation_id)
    assert ticket.channel == Channel.VOICE
    assert ticket.category == TicketCategory.PROBLEM
    assert ticket.contact == SAM
    assert "lamp" in ticket.description.lower()
    call.report("problem report by speech")


def test_help_centre_question_gets_a_short_spoken_answer(stack: Stack) -> None:
    call = PhoneCall(stack, UNKNOWN_CALLER)
    call.start()
    question = "How long do I have to return something?"
    answer = call.say(question)
    match = KnowledgeBase.from_directory().search(question)
    assert match is not None
    # The voice channel reads only the article's first sentence.
    assert answer.said.startswith(speakable(match.article.summary))
    assert len(answer.said) <= 300
    assert "http" not in answer.said and "**" not in answer.said
    assert answer.gather is not None
    call.report("knowledge base")


def test_account_submenu_starts_registration(stack: Stack) -> None:
    call = PhoneCall(stack, UNKNOWN_CALLER)
    call.start()
    submenu = call.press("3")
    assert "Press 1 to create an account" in submenu.said
    answer = call.press("1")  # /register_account: the assistant takes it from here
    # Nobody spells an email aloud: the caller gets the registration link by SMS,
    # sent with the twilio library's REST client (to the fake Twilio here).
    assert "sent you a text message with a link" in answer.said
    [body] = stack.twilio.bodies_to(UNKNOWN_CALLER)
    assert body.endswith("/register")
    call.report("account submenu")


def test_zero_hands_off_with_a_callback_when_no_agent_is_configured(
    stack: Stack,
) -> None:
    call = PhoneCall(stack, UNKNOWN_CALLER)
    call.start()
    handoff = call.press("0")
    assert "call you back on this number within one business day" in handoff.said
    assert handoff.hangs_up and handoff.gather is None
    [ticket] = tickets_of(stack, call.conversation_id)
    assert ticket.category == TicketCategory.HANDOFF and ticket.handed_off
    assert ticket.channel == Channel.VOICE and ticket.contact == UNKNOWN_CALLER
    call.report("press 0 for an agent")


def test_goodbye_hangs_up(stack: Stack) -> None:
    call = PhoneCall(stack, JANE)
    call.start()
    bye = call.say("Goodbye.")
    assert bye.hangs_up and bye.gather is None and bye.said
    call.report("goodbye")


def test_silence_reprompts_twice_then_offers_an_agent(stack: Stack) -> None:
    call = PhoneCall(stack, JANE)
    greeting = call.start()
    first, second = call.silence(), call.silence()
    for reprompt in (first, second):
        assert reprompt.said.startswith("Sorry, I didn't catch that.")
        assert len(reprompt.said) < len(greeting.said)
        assert reprompt.gather is not None
    offer = call.silence()
    assert "Press 0 to talk to a member of our team" in offer.said
    assert offer.gather is not None
    assert call.silence().hangs_up
    call.report("silence")


def test_a_webhook_replayed_after_the_call_only_hangs_up(stack: Stack) -> None:
    call = PhoneCall(stack, JANE)
    call.start()
    menu = call.last
    assert stack.twilio_post(STATUS, call.params("completed")).status_code == 204
    call.last = menu
    replay = call.press("1")
    assert replay.hangs_up and replay.said == "" and replay.gather is None
    call.report("replay after the end")


def test_status_callback_records_the_end_of_the_call(stack: Stack) -> None:
    call = PhoneCall(stack, JANE)
    call.start()
    call.press("1")
    ended = {**call.params("completed"), "CallDuration": "42", "Timestamp": ""}
    started = time.perf_counter()
    reply = stack.twilio_post(STATUS, ended)
    call.timings.append(("status callback", time.perf_counter() - started, ""))
    assert reply.status_code == 204 and reply.content == b""
    with stack.session() as session:
        row = session.get(ChannelChoice, f"voice-call:{call.sid}")
        assert row is not None and '"ended": "completed"' in row.payloads
    call.report("status callback")


def test_a_replayed_or_boundary_shifted_call_is_refused(stack: Stack) -> None:
    """A captured call replayed, as is or as a "new" call: no turn, no new state."""
    call = PhoneCall(stack, JANE)
    validator = RequestValidator(stack.twilio_token)
    ringing = call.params("ringing")
    greeting_signature = validator.compute_signature(
        f"{stack.rasa_url}{WEBHOOK}", ringing
    )
    call.start()
    action = call._action()
    spoken = {**call.params(), "SpeechResult": "where is my order", "Confidence": "1"}
    signature = validator.compute_signature(action, spoken)
    path = action.removeprefix(stack.rasa_url)
    assert "order number" in call.say("where is my order", confidence="1").said
    replay = stack.twilio_post(path, spoken, signature)  # the very same request
    assert replay.status_code == 200 and "order number" in replay.text
    variant = shifted(spoken, "CallSid")  # CallSid=CA…CallStatusin-progress
    assert validator.validate(action, variant, signature)
    assert stack.twilio_post(path, variant, signature).status_code == 400
    assert stack.user_texts(call.conversation_id) == ["where is my order"]

    assert stack.twilio_post(STATUS, call.params("completed")).status_code == 204
    new_call = shifted(ringing, "CallSid")  # the greeting as a "new" attested call
    assert validator.validate(
        f"{stack.rasa_url}{WEBHOOK}", new_call, greeting_signature
    )
    refused = stack.twilio_post(WEBHOOK, new_call, greeting_signature)
    assert refused.status_code == 400 and "CallSid" in refused.text
    with stack.session() as session:
        assert session.get(ChannelChoice, f"voice-call:{new_call['CallSid']}") is None
    call.report("replays")
