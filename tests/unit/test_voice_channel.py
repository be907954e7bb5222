"""The phone IVR channel's webhook handling with a fake assistant on a real database.

What the end-to-end tests cannot provoke on demand: a slow or failing assistant, a
turn finishing between webhooks, Twilio retrying a webhook, a failed transfer, a
database outage, a webhook replayed after the call.
"""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from sanic.response import HTTPResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import migrate
from bot.db import make_engine
from bot.identity import ChannelIdentity, verify_identity
from bot.models import Channel, ChannelChoice, Customer, Ticket, TicketCategory
from bot.services import tickets as ticket_service
from bot.settings import Settings
from channels.voice import ivr
from channels.voice import state as store
from channels.voice.channel import VoiceInput
from channels.voice.handoff import callback_ticket
from channels.voice.prompts import DELAY, DIDNT_CATCH, ERROR, STILL_WAITING
from channels.voice.twiml import AgentRoute
from tests.fakes.twilio_webhooks import TwilioWebhooks, shifted
from tests.unit.voice_calls import (
    ATTESTED,
    CALLER,
    SECRET,
    SUNDAY_NOON,
    Caller,
    FakeAssistant,
    make_channel,
    query,
    said,
    tags,
)

OUTAGE = (
    "Sorry, we're having technical trouble. Please call us back later on "
    "5 0 0, 5 5 5, 0 0 0 6."
)


def end(channel: VoiceInput, call: Caller, **fields: str) -> Awaitable[None]:
    """The call's status callback, as a first delivery."""
    params = {"CallSid": call.sid, "CallStatus": "completed", **fields}
    return channel._record_status(params, f"twilio-signature:{uuid.uuid4().hex}")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('voice') / 'switchboard.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            session.add(Customer(name="Jane", email="jane@example.com", phone=CALLER))
    finally:
        engine.dispose()
    return url


@pytest.fixture
async def channel(database_url: str) -> AsyncIterator[VoiceInput]:
    channel = make_channel(database_url)
    yield channel
    await asyncio.gather(*channel.turns.running, return_exceptions=True)


def janes_id(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return session.scalars(
                select(Customer.id).where(Customer.phone == CALLER)
            ).one()
    finally:
        engine.dispose()


def tickets(database_url: str, conversation_id: str) -> list[Ticket]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return list(
                session.scalars(
                    select(Ticket).where(Ticket.conversation_id == conversation_id)
                )
            )
    finally:
        engine.dispose()


async def test_the_call_is_its_own_conversation_with_a_vouched_number(
    channel: VoiceInput,
) -> None:
    assistant = FakeAssistant([{"text": "Hello! How can I help?"}])
    call = Caller(channel, assistant)
    await call.start()
    reply = await call.say("Hi there.")
    assert said(reply) == "Hello! How can I help?"
    [message] = assistant.received
    assert message.sender_id == f"voice:{call.sid}"
    assert message.input_channel == "voice"
    assert message.output_channel.name() == "voice"  # picks `channel: voice` variants
    assert verify_identity(message.metadata, SECRET, message.sender_id) == (
        ChannelIdentity(channel="voice", phone=CALLER)
    )


async def vouched_phone(call: Caller) -> str | None:
    """The phone the assistant was given for the caller's first message."""
    await call.start()
    await call.say("Hello.")
    message = call.assistant.received[-1]
    identity = verify_identity(message.metadata, SECRET, message.sender_id or "")
    assert identity is not None and identity.channel == "voice"
    return identity.phone


async def test_a_withheld_number_is_not_vouched_for(channel: VoiceInput) -> None:
    call = Caller(channel, FakeAssistant([{"text": "OK."}]), caller="anonymous")
    assert await vouched_phone(call) is None


@pytest.mark.parametrize(
    "verstat",
    [None, "", "TN-Validation-Passed-B", "TN-Validation-Passed-C",
     "TN-Validation-Failed-A", "No-TN-Validation"],
)  # fmt: skip
async def test_a_number_without_full_attestation_is_not_vouched_for(
    channel: VoiceInput, verstat: str | None
) -> None:
    """Caller ID can be spoofed: without STIR/SHAKEN "A" the caller gives an email."""
    call = Caller(channel, FakeAssistant([{"text": "OK."}]), verstat=verstat)
    assert await vouched_phone(call) is None


async def test_the_attestation_of_the_first_webhook_holds_for_the_call(
    channel: VoiceInput,
) -> None:
    call = Caller(channel, FakeAssistant([{"text": "OK."}]))
    await call.start()  # with StirVerstat
    call.verstat = None  # later webhooks without it
    await call.say("Hello.")
    [message] = call.assistant.received
    identity = verify_identity(message.metadata, SECRET, message.sender_id or "")
    assert identity is not None and identity.phone == CALLER


async def test_trusting_every_caller_id_or_none(database_url: str) -> None:
    always = make_channel(database_url, voice_trust_caller_id="always")
    unattested = Caller(always, FakeAssistant([{"text": "OK."}]), verstat=None)
    assert await vouched_phone(unattested) == CALLER
    never = make_channel(database_url, voice_trust_caller_id="never")
    attested = Caller(never, FakeAssistant([{"text": "OK."}]))
    assert await vouched_phone(attested) is None


async def test_an_unverified_caller_still_gets_a_callback_to_their_number(
    channel: VoiceInput, database_url: str
) -> None:
    """Calling back the real number is harmless; the ticket isn't Jane's, though."""
    call = Caller(channel, FakeAssistant(fail=True), verstat="TN-Validation-Passed-C")
    await call.start()
    handoff = await call.press("0")
    assert "call you back on this number" in said(handoff)
    [ticket] = tickets(database_url, f"voice:{call.sid}")
    assert ticket.contact == CALLER and ticket.customer_id is None
    verified = Caller(channel, FakeAssistant(fail=True))
    await verified.start()
    await verified.press("0")
    [ticket] = tickets(database_url, f"voice:{verified.sid}")
    assert ticket.contact == CALLER and ticket.customer_id == janes_id(database_url)


async def test_the_assistants_handoff_ticket_gets_the_number_to_call_back(
    channel: VoiceInput,
) -> None:
    """Without a vouched number the assistant's ticket has no contact: add From."""
    conversation_id = f"voice:CA{uuid.uuid4().hex}"

    def open_without_contact(session: Session) -> str:
        request = ticket_service.TicketRequest(
            channel=Channel.VOICE,
            category=TicketCategory.HANDOFF,
            subject="Conversation handed off to a person",
            conversation_id=conversation_id,
            handed_off=True,
        )
        return ticket_service.open_ticket(session, request).reference

    reference = await channel._db(open_without_contact)

    def ensure(session: Session) -> tuple[str, str | None]:
        found = callback_ticket(session, conversation_id, CALLER)
        [ticket] = ticket_service.open_tickets_for_conversation(
            session, conversation_id
        )
        return found, ticket.contact

    assert await channel._db(ensure) == (reference, CALLER)


async def test_a_slow_turn_is_spoken_at_the_next_webhook(channel: VoiceInput) -> None:
    release = asyncio.Event()
    assistant = FakeAssistant([{"text": "Your order has shipped."}], release=release)
    call = Caller(channel, assistant)
    await call.start()
    delayed = await call.say("Where is my order?")
    assert said(delayed) == DELAY
    gather = delayed.find("Gather")
    assert gather is not None and query(gather.attrib["action"])["wait"] == "1"
    release.set()
    await asyncio.sleep(0.05)  # the turn finishes between two webhooks
    assert said(await call.wait()) == "Your order has shipped."
    assert assistant.texts == ["Where is my order?"]  # sent once


async def test_a_webhook_waits_for_a_turn_still_running(channel: VoiceInput) -> None:
    release = asyncio.Event()
    assistant = FakeAssistant([{"text": "Done."}], release=release)
    call = Caller(channel, assistant)
    await call.start()
    assert said(await call.say("Cancel my order.")) == DELAY
    asyncio.get_running_loop().call_later(0.05, release.set)
    assert said(await call.wait()) == "Done."


async def test_a_turn_that_never_ends_is_given_up_after_three_waits(
    channel: VoiceInput,
) -> None:
    release = asyncio.Event()
    assistant = FakeAssistant([{"text": "Too late."}], release=release)
    call = Caller(channel, assistant)
    await call.start()
    assert said(await call.say("Hello?")) == DELAY
    assert said(await call.wait()) == STILL_WAITING
    assert said(await call.wait()) == STILL_WAITING
    apology = await call.wait()
    assert said(apology) == ERROR and apology.find("Gather") is not None
    release.set()
    await asyncio.gather(*channel.turns.running)
    # The late replies are dropped, not spoken in the middle of the next exchange.
    assert await channel._db(lambda s: store.load_pending(s, call.sid)) is None


async def test_zero_while_waiting_hands_off(
    channel: VoiceInput, database_url: str
) -> None:
    release = asyncio.Event()
    call = Caller(channel, FakeAssistant(release=release))
    await call.start()
    await call.say("Where is my order?")
    handoff = await call.press("0")
    assert "call you back on this number" in said(handoff)
    assert handoff.find("Hangup") is not None
    [ticket] = tickets(database_url, f"voice:{call.sid}")
    assert ticket.category == TicketCategory.HANDOFF and ticket.handed_off
    assert ticket.channel == Channel.VOICE and ticket.contact == CALLER
    release.set()


async def test_a_failing_assistant_gets_an_apology_and_a_person_offered(
    channel: VoiceInput,
) -> None:
    call = Caller(channel, FakeAssistant(fail=True))
    await call.start()
    reply = await call.say("Where is my order?")
    assert said(reply) == ERROR and reply.find("Gather") is not None


async def test_asking_for_a_person_works_even_when_the_assistant_fails(
    channel: VoiceInput, database_url: str
) -> None:
    call = Caller(channel, FakeAssistant(fail=True))
    await call.start()
    handoff = await call.press("0")
    assert "call you back" in said(handoff) and handoff.find("Hangup") is not None
    assert len(tickets(database_url, f"voice:{call.sid}")) == 1


async def test_the_transfer_payload_dials_the_agents(database_url: str) -> None:
    channel = make_channel(database_url, agent_phone_number="+1 415 555 0100")
    assistant = FakeAssistant(
        [{"text": "I've passed our conversation to our team."},
         {"custom": {"switchboard": "transfer"}}]
    )  # fmt: skip
    call = Caller(channel, assistant)
    await call.start()
    transfer = await call.press("0")
    assert assistant.texts == ["/request_human"]
    number = transfer.find("Dial/Number")
    assert number is not None and number.text == "+14155550100"
    assert "Putting you through" in said(transfer)


TRANSFER: list[dict[str, Any]] = [
    {"text": "I've passed our call to our team as ticket T 0 0 0 0 0 1."},
    {"custom": {"switchboard": "transfer"}},
]


async def test_outside_opening_hours_the_caller_gets_a_callback_not_a_transfer(
    database_url: str,
) -> None:
    channel = make_channel(
        database_url, at=SUNDAY_NOON, agent_phone_number="+1 415 555 0100"
    )
    call = Caller(channel, FakeAssistant(list(TRANSFER)))
    await call.start()
    handoff = await call.press("0")
    assert handoff.find("Dial") is None and handoff.find("Enqueue") is None
    assert tags(handoff)[-1] == "Hangup"
    assert said(handoff) == (
        "I've passed our call to our team as ticket T 0 0 0 0 0 1. "
        "Our team is away right now and back tomorrow at 8 am. A member of our team "
        "will call you back on this number within one business day. "
        "Thank you for calling. Goodbye."
    )
    [ticket] = tickets(database_url, f"voice:{call.sid}")
    assert ticket.contact == CALLER and ticket.handed_off


async def test_outside_opening_hours_a_withheld_number_is_asked_to_call_again(
    database_url: str,
) -> None:
    channel = make_channel(database_url, at=SUNDAY_NOON, agent_queue_name="support")
    call = Caller(channel, FakeAssistant(list(TRANSFER)), caller="anonymous")
    await call.start()
    handoff = await call.press("0")
    assert handoff.find("Enqueue") is None
    assert "back tomorrow at 8 am. I can't see the number you're calling from" in (
        said(handoff)
    )


async def test_within_opening_hours_the_caller_is_put_through(
    database_url: str,
) -> None:
    channel = make_channel(database_url, agent_queue_name="support")
    call = Caller(channel, FakeAssistant(list(TRANSFER)))
    await call.start()
    transfer = await call.press("0")
    enqueue = transfer.find("Enqueue")
    assert enqueue is not None and enqueue.text == "support"


async def test_without_agents_to_transfer_to_hours_still_say_when_we_are_back(
    database_url: str,
) -> None:
    channel = make_channel(database_url, at=SUNDAY_NOON)
    call = Caller(channel, FakeAssistant(fail=True))
    await call.start()
    assert "back tomorrow at 8 am" in said(await call.press("0"))
    open_channel = make_channel(database_url)
    open_call = Caller(open_channel, FakeAssistant(fail=True))
    await open_call.start()
    assert said(await open_call.press("0")).endswith(
        "call you back on this number within one business day. "
        "Thank you for calling. Goodbye."
    )


def test_unreadable_opening_hours_are_refused_at_start(database_url: str) -> None:
    with pytest.raises(ValueError, match="OPENING_HOURS"):
        make_channel(database_url, opening_hours="weekdays 9 to 5")
    with pytest.raises(ValueError, match="SWITCHBOARD_TIMEZONE"):
        make_channel(database_url, timezone="Mars/Olympus_Mons")


async def test_a_transfer_nobody_answers_becomes_a_callback(
    channel: VoiceInput, database_url: str
) -> None:
    call = Caller(channel, FakeAssistant())
    missed = await call.post(
        args={"after": "transfer"}, DialCallStatus="no-answer", DialCallDuration="0"
    )
    assert "nobody could take your call" in said(missed)
    assert missed.find("Hangup") is not None
    assert len(tickets(database_url, f"voice:{call.sid}")) == 1
    done = await call.post(args={"after": "transfer"}, DialCallStatus="completed")
    assert [child.tag for child in done] == ["Hangup"]


async def test_the_hangup_payload_ends_the_call(channel: VoiceInput) -> None:
    assistant = FakeAssistant(
        [{"text": "Thanks for calling. Goodbye!", "custom": {"switchboard": "hangup"}}]
    )
    call = Caller(channel, assistant)
    await call.start()
    bye = await call.say("bye")
    assert said(bye) == "Thanks for calling. Goodbye!"
    assert [child.tag for child in bye] == ["Say", "Hangup"]


async def test_numbered_choices_round_trip(channel: VoiceInput) -> None:
    assistant = FakeAssistant(
        [{"text": "Shall I cancel it?",
          "buttons": [{"title": "Yes, cancel it", "payload": "/affirm"},
                      {"title": "No, keep it", "payload": "/deny"}]}]
    )  # fmt: skip
    call = Caller(channel, assistant)
    await call.start()
    asked = await call.say("I want to cancel an order.")
    assert "Press 1 for Yes, cancel it. Press 2 for No, keep it." in said(asked)
    await call.press("2")
    await call.say("Option one.")
    assert assistant.texts == ["I want to cancel an order.", "/deny", "/affirm"]


async def test_a_keyed_number_reaches_the_assistant_only_once_confirmed(
    channel: VoiceInput,
) -> None:
    assistant = FakeAssistant([{"text": "What's your order number?"}])
    call = Caller(channel, assistant)
    await call.start()
    await call.press("1")
    readback = await call.press("104257")
    assert said(readback).startswith("I heard 1 0 4 2 5 7.")
    assert assistant.texts == ["/check_order_status"]
    await call.press("1")
    assert assistant.texts == ["/check_order_status", "104257"]


async def test_a_retried_webhook_is_not_sent_twice(channel: VoiceInput) -> None:
    """The same signed request is one delivery, whatever its unsigned headers say."""
    assistant = FakeAssistant([{"text": "What went wrong?"}])
    call = Caller(channel, assistant)
    await call.start()
    step = {"step": "0123456789abcdef"}
    first = await call.post(
        step, {"I-Twilio-Idempotency-Token": "one"}, SpeechResult="My lamp is broken."
    )
    retry = await call.post(
        step, {"I-Twilio-Idempotency-Token": "two"}, SpeechResult="My lamp is broken."
    )
    assert assistant.texts == ["My lamp is broken."]
    assert said(first) == said(retry) == "What went wrong?"


async def test_the_status_callback_records_the_end(channel: VoiceInput) -> None:
    call = Caller(channel, FakeAssistant())
    await call.start()
    await end(channel, call, CallDuration="31")
    state, pending = await channel._db(lambda s: store.load_call(s, call.sid))
    assert state is not None and state.ended == "completed" and pending is None


async def test_two_failures_in_a_row_end_the_call(channel: VoiceInput) -> None:
    assistant = FakeAssistant(fail=True)
    call = Caller(channel, assistant)
    await call.start()
    first = await call.say("Where is my order?")
    assert said(first) == ERROR
    gather, redirect = first.find("Gather"), first.find("Redirect")
    assert gather is not None and query(gather.attrib["action"]).keys() == {
        "err",
        "step",
    }
    assert query(gather.attrib["action"])["err"] == "1"
    assert redirect is not None and redirect.text
    assert query(redirect.text).items() >= {("noinput", "1"), ("err", "1")}
    second = await call.answer(first, SpeechResult="Where is my order?")
    assert tags(second) == ["Say", "Hangup"] and said(second) == OUTAGE
    assert len(assistant.received) == 2


async def test_the_failure_count_survives_silence_and_menus(
    channel: VoiceInput,
) -> None:
    assistant = FakeAssistant(fail=True)
    call = Caller(channel, assistant)
    await call.start()
    apology = await call.say("Where is my order?")
    reprompt = await call.fall_silent(apology)
    assert said(reprompt) == f"{DIDNT_CATCH} {ERROR}"
    last = await call.answer(reprompt, SpeechResult="Where is my order?")
    assert tags(last) == ["Say", "Hangup"] and said(last) == OUTAGE


async def test_a_reply_in_between_starts_the_count_again(channel: VoiceInput) -> None:
    assistant = FakeAssistant([{"text": "What's your order number?"}], fail=True)
    call = Caller(channel, assistant)
    await call.start()
    apology = await call.say("Where is my order?")
    assistant.fail = False
    asked = await call.answer(apology, SpeechResult="Where is my order?")
    assert said(asked) == "What's your order number?"
    gather = asked.find("Gather")
    assert gather is not None and "err=" not in gather.attrib["action"]
    assistant.fail = True
    again = await call.answer(asked, SpeechResult="I don't know it.")
    assert said(again) == ERROR and again.find("Gather") is not None


async def test_a_database_outage_ends_the_call_after_two_apologies(
    channel: VoiceInput, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(store, "load_call", broken)
    call = Caller(channel, FakeAssistant())
    first = await call.start()
    assert said(first) == ERROR
    last = await call.fall_silent(first)
    assert tags(last) == ["Say", "Hangup"] and said(last) == OUTAGE
    assert call.assistant.received == []


async def test_a_webhook_replayed_after_the_call_ended_only_hangs_up(
    channel: VoiceInput, database_url: str
) -> None:
    assistant = FakeAssistant([{"text": "Your order has shipped."}])
    call = Caller(channel, assistant)
    await call.start()
    await end(channel, call)
    replay = await call.say("Where is my order?")
    assert tags(replay) == ["Hangup"] and said(replay) == ""
    missed = await call.post(args={"after": "transfer"}, DialCallStatus="no-answer")
    assert tags(missed) == ["Hangup"]
    assert assistant.received == []
    assert tickets(database_url, f"voice:{call.sid}") == []
    state, _ = await channel._db(lambda s: store.load_call(s, call.sid))
    assert state is not None and state.ended == "completed"


async def test_a_webhook_older_than_any_call_only_hangs_up(
    channel: VoiceInput, monkeypatch: pytest.MonkeyPatch
) -> None:
    assistant = FakeAssistant([{"text": "Your order has shipped."}])
    call = Caller(channel, assistant)
    await call.start()
    monkeypatch.setattr(ivr, "MAX_CALL_SECONDS", -1.0)  # the call began "long ago"
    replay = await call.say("Where is my order?")
    assert tags(replay) == ["Hangup"] and assistant.received == []


async def test_a_later_save_keeps_the_end_of_the_call(channel: VoiceInput) -> None:
    """A webhook in flight when the status callback came doesn't undo the end."""
    call = Caller(channel, FakeAssistant())
    await call.start()
    await end(channel, call)
    await channel._db(lambda s: store.save_state(s, call.sid, ivr.greeting_state()))
    state, _ = await channel._db(lambda s: store.load_call(s, call.sid))
    assert state is not None and state.ended == "completed"


async def test_a_failure_forgets_the_numbered_choices(channel: VoiceInput) -> None:
    assistant = FakeAssistant(
        [{"text": "Shall I cancel it?",
          "buttons": [{"title": "Yes, cancel it", "payload": "/affirm"}]}]
    )  # fmt: skip
    call = Caller(channel, assistant)
    conversation_id = f"voice:{call.sid}"
    await call.start()
    await call.say("I want to cancel an order.")
    assert (
        await channel._db(lambda s: s.get(ChannelChoice, conversation_id)) is not None
    )
    assistant.fail = True
    assert said(await call.say("Hmm.")) == ERROR
    assert await channel._db(lambda s: s.get(ChannelChoice, conversation_id) is None)
    assistant.fail = False
    await call.say("Option one.")
    assert "/affirm" not in assistant.texts


async def test_buttons_without_text_are_offered_not_apologised_for(
    channel: VoiceInput,
) -> None:
    assistant = FakeAssistant(
        [{"text": "",  # Rasa's collector keeps an empty text
          "buttons": [{"title": "Yes", "payload": "/affirm"},
                      {"title": "No", "payload": "/deny"}]}]
    )  # fmt: skip
    call = Caller(channel, assistant)
    await call.start()
    offered = await call.say("Cancel my order.")
    assert said(offered) == "Press 1 for Yes. Press 2 for No."
    await call.press("2")
    assert assistant.texts == ["Cancel my order.", "/deny"]


async def test_keyed_stars_and_odd_digits(channel: VoiceInput) -> None:
    assistant = FakeAssistant([{"text": "What's your order number?"}])
    call = Caller(channel, assistant)
    await call.start()
    await call.press("1")
    reprompt = f"{DIDNT_CATCH} What's your order number?"
    assert said(await call.press("**")) == reprompt  # no match
    assert said(await call.press("²")) == reprompt  # no match
    assert said(await call.post(Digits="*")) == "What's your order number?"  # repeat
    readback = await call.press("1042*57")
    assert said(readback).startswith("I heard 1 0 4 2 5 7.")
    await call.press("1")
    assert assistant.texts == ["/check_order_status", "104257"]


async def test_an_unexpected_error_still_answers_with_twiml(
    channel: VoiceInput, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(store, "load_call", broken)
    reply = await Caller(channel, FakeAssistant()).start()
    assert said(reply) == ERROR and reply.find("Gather") is not None


# --- replays: webhooks as Twilio signs them ------------------------------------------

ACCOUNT = Settings().twilio_account_sid
SHOP = "+15005550006"


def call_fields(sid: str, status: str = "in-progress", **extra: str) -> dict[str, str]:
    """The form fields of a Twilio Voice webhook for an attested call from Jane."""
    return {
        "AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": sid,
        "CallStatus": status, "Called": SHOP, "Caller": CALLER, "Direction": "inbound",
        "From": CALLER, "FromCity": "SAN FRANCISCO", "StirVerstat": ATTESTED,
        "To": SHOP, **extra,
    }  # fmt: skip


@dataclass
class Phone:
    channel: VoiceInput
    assistant: FakeAssistant
    webhooks: TwilioWebhooks
    sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)

    async def state(self, sid: str | None = None) -> store.CallState | None:
        state, _ = await self.channel._db(lambda s: store.load_call(s, sid or self.sid))
        return state

    async def greeting(self) -> str:
        """Start the call; the path its <Gather> posts to."""
        reply = await self.webhooks.post("/webhook", call_fields(self.sid, "ringing"))
        gather = ET.fromstring(reply.body or b"").find("Gather")
        assert gather is not None
        return gather.attrib["action"].removeprefix(self.webhooks.url(""))


@pytest.fixture
def phone(channel: VoiceInput) -> Phone:
    assistant = FakeAssistant([{"text": "What's your order number?"}])
    webhooks = TwilioWebhooks(
        channel.blueprint(assistant),
        channel.settings.twilio_auth_token,
        channel.settings.public_base_url,
        "/webhooks/voice",
    )
    return Phone(channel, assistant, webhooks)


def twiml_of(reply: HTTPResponse) -> ET.Element:
    assert reply.status == 200, reply.body
    return ET.fromstring(reply.body or b"")


async def test_a_replayed_call_does_not_become_a_new_attested_call(
    phone: Phone,
) -> None:
    ringing = call_fields(phone.sid, "ringing")
    signature = phone.webhooks.sign("/webhook", ringing)
    assert twiml_of(await phone.webhooks.post("/webhook", ringing, signature))
    ended = call_fields(phone.sid, "completed", CallDuration="40")
    assert (await phone.webhooks.post("/status", ended)).status == 204
    variant = shifted(ringing, "CallSid")  # CallSid=CA…CallStatusringing
    assert phone.webhooks.accepts("/webhook", variant, signature)
    reply = await phone.webhooks.post("/webhook", variant, signature)
    assert reply.status == 400 and b"CallSid" in (reply.body or b"")
    assert await phone.state(variant["CallSid"]) is None
    replay = twiml_of(await phone.webhooks.post("/webhook", ringing, signature))
    assert tags(replay) == ["Hangup"]  # the genuine one: the call is over


async def test_a_replayed_webhook_is_not_a_second_turn(phone: Phone) -> None:
    path = await phone.greeting()
    spoken = call_fields(phone.sid, SpeechResult="Where is my order?", Confidence="1")
    signature = phone.webhooks.sign(path, spoken)
    token = "I-Twilio-Idempotency-Token"  # unsigned: a replayer picks any
    first = await phone.webhooks.post(path, spoken, signature, {token: "a"})
    assert said(twiml_of(first)) == "What's your order number?"
    after_first = await phone.state()
    again = await phone.webhooks.post(path, spoken, signature, {token: "b"})
    assert said(twiml_of(again)) == "What's your order number?"  # asked again
    assert phone.assistant.texts == ["Where is my order?"]  # not a second turn
    variant = shifted(spoken, "CallSid")  # CallSid=CA…CallStatusin-progress
    assert phone.webhooks.accepts(path, variant, signature)
    assert (await phone.webhooks.post(path, variant, signature)).status == 400
    # A shift among fields no check reads keeps the signature: a duplicate.
    unread = shifted(spoken, "Called")
    assert phone.webhooks.accepts(path, unread, signature)
    assert said(twiml_of(await phone.webhooks.post(path, unread, signature)))
    assert phone.assistant.texts == ["Where is my order?"]
    assert await phone.state() == after_first
    assert await phone.state(variant["CallSid"]) is None


async def test_no_two_answers_send_twilio_to_the_same_url(phone: Phone) -> None:
    """Identical genuine webhooks (silence twice) must not look like a replay."""
    path = await phone.greeting()
    fields = call_fields(phone.sid)
    urls = {path}
    for expected in (DIDNT_CATCH, DIDNT_CATCH, "I still can't hear you."):
        reply = twiml_of(await phone.webhooks.post(path, fields))
        assert said(reply).startswith(expected)
        redirect, gather = reply.find("Redirect"), reply.find("Gather")
        assert redirect is not None and redirect.text and gather is not None
        path = redirect.text.removeprefix(phone.webhooks.url(""))
        assert path not in urls and gather.attrib["action"] not in urls
        urls |= {path, gather.attrib["action"]}
    state = await phone.state()
    assert state is not None and state.silences == 3


async def test_a_replayed_status_callback_changes_nothing(phone: Phone) -> None:
    await phone.greeting()
    ended = call_fields(phone.sid, "completed", CallDuration="40")
    signature = phone.webhooks.sign("/status", ended)
    assert (await phone.webhooks.post("/status", ended, signature)).status == 204
    recorded = await phone.state()
    assert recorded is not None and recorded.ended == "completed"
    for field_name in ("CallSid", "CallStatus"):
        variant = shifted(ended, field_name)
        assert phone.webhooks.accepts("/status", variant, signature)
        reply = await phone.webhooks.post("/status", variant, signature)
        assert reply.status == 400
    assert await phone.state(shifted(ended, "CallSid")["CallSid"]) is None
    assert (await phone.webhooks.post("/status", ended, signature)).status == 204
    assert await phone.state() == recorded


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"AccountSid": "AC" + "9" * 32}, "this shop's Twilio account"),
        ({"AccountSid": "AC" + "0" * 31}, "AccountSid"),
        ({"CallSid": "CA" + "A" * 32}, "CallSid"),
        ({"CallStatus": "ringingx"}, "CallStatus"),
        ({"Digits": "1Direction"}, "Digits"),
        ({"DialCallStatus": "done"}, "DialCallStatus"),
        ({"QueueResult": "?"}, "QueueResult"),
        ({"?noinput": "=1"}, "unexpected field name"),
    ],
)
async def test_call_fields_must_have_twilios_formats_even_when_signed(
    phone: Phone, changes: dict[str, str], reason: str
) -> None:
    for path in ("/webhook", "/status"):
        fields = {**call_fields(phone.sid, "completed"), **changes}
        reply = await phone.webhooks.post(path, fields)
        assert reply.status == 400 and reason in (reply.body or b"").decode()
    assert await phone.state() is None and phone.assistant.received == []


# --- settings --------------------------------------------------------------------------

VALID = Settings(twilio_auth_token="token", public_base_url="https://ivr.example.com")


def test_invalid_settings_are_refused_at_start() -> None:
    """The checks are bot.settings.check_voice's (see test_settings.py)."""
    with pytest.raises(ValueError, match="VOICE_TRUST_CALLER_ID"):
        VoiceInput(replace(VALID, voice_trust_caller_id="sometimes"))


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
