"""The SMS channel: held conversations, slow answers, replays, signed fields."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from rasa.core.channels.channel import UserMessage
from sanic.response import HTTPResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import migrate
from bot.db import make_engine
from bot.models import (
    Channel,
    ProcessedWebhook,
    Ticket,
)
from bot.services import back_to_bot, handoff, messaging
from bot.settings import Settings
from channels.sms import (
    ERROR_REPLY,
    NO_TEXT_PLACEHOLDER,
    SLOW_REPLY,
    SmsInput,
    sms_conversation_id,
)
from tests.fakes.twilio import FakeTwilio
from tests.fakes.twilio_webhooks import TwilioWebhooks, shifted
from tests.unit.holds import customer_lines as lines_of
from tests.unit.holds import hold_for_a_person

SECRET = "sms-test-secret"
PHONE = "+14155550134"


class FakeAssistant:
    def __init__(self) -> None:
        self.received: list[str] = []

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message.text or "")
        await message.output_channel.send_text_message(
            message.sender_id or "", "Hello from the assistant."
        )


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'sms.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def channel(database_url: str) -> SmsInput:
    return SmsInput(
        Settings(
            database_url=database_url,
            twilio_auth_token="twilio-token",
            secret_key=SECRET,
            public_base_url="https://sms.example.com",
        )
    )


def hold_conversation(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            conversation = sms_conversation_id(PHONE, SECRET)
            return hold_for_a_person(session, conversation, Channel.SMS, PHONE).id
    finally:
        engine.dispose()


def customer_lines(database_url: str, ticket_id: int) -> list[str]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return lines_of(session, ticket_id)
    finally:
        engine.dispose()


async def test_a_held_conversation_reaches_the_agent_and_the_bot_stays_silent(
    channel: SmsInput, database_url: str
) -> None:
    ticket_id = hold_conversation(database_url)
    assistant = FakeAssistant()
    assert await channel._handle(assistant, PHONE, "SM1", "Is my lamp coming?") == []
    # Twilio retrying the same message: stored once.
    assert await channel._handle(assistant, PHONE, "SM1", "Is my lamp coming?") == []
    # "1" is the customer's words, not a numbered choice of the bot's last reply.
    assert await channel._handle(assistant, PHONE, "SM2", "1") == []
    assert assistant.received == []
    assert customer_lines(database_url, ticket_id) == ["Is my lamp coming?", "1"]


async def test_carrier_keywords_still_work_while_held(
    channel: SmsInput, database_url: str
) -> None:
    ticket_id = hold_conversation(database_url)
    assistant = FakeAssistant()
    [reply] = await channel._handle(assistant, PHONE, "SM1", "STOP")
    assert "unsubscribed" in reply
    assert await channel._handle(assistant, PHONE, "SM2", "hello?") == []
    assert customer_lines(database_url, ticket_id) == []  # opted out: nothing read
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            assert messaging.is_opted_out(session, PHONE)
    finally:
        engine.dispose()


async def test_the_assistant_answers_once_the_conversation_is_handed_back(
    channel: SmsInput, database_url: str
) -> None:
    ticket_id = hold_conversation(database_url)
    engine = make_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
            handoff.release(session, ticket)
    finally:
        engine.dispose()
    assistant = FakeAssistant()
    replies = await channel._handle(assistant, PHONE, "SM1", "thanks")
    assert replies == ["Hello from the assistant."]
    assert assistant.received == ["thanks"]


async def test_asking_for_the_assistant_by_text_gets_it_back(
    channel: SmsInput, database_url: str
) -> None:
    ticket_id = hold_conversation(database_url)
    assistant = FakeAssistant()
    [notice] = await channel._handle(assistant, PHONE, "SM1", "Back to the bot!")
    reference = notice.split("(")[1].split(")")[0]
    assert notice == back_to_bot.withdrawn_notice(reference)
    # Twilio retrying the same message: answered once.
    assert await channel._handle(assistant, PHONE, "SM1", "Back to the bot!") == []
    assert assistant.received == []
    assert customer_lines(database_url, ticket_id) == ["Back to the bot!"]
    replies = await channel._handle(assistant, PHONE, "SM2", "where is my order")
    assert replies == ["Hello from the assistant."]
    assert assistant.received == ["where is my order"]


async def test_a_picture_without_text_reaches_the_agent_while_held(
    channel: SmsInput, database_url: str
) -> None:
    ticket_id = hold_conversation(database_url)
    assistant = FakeAssistant()
    assert await channel._handle(assistant, PHONE, "MM1", "") == []
    assert assistant.received == []
    assert customer_lines(database_url, ticket_id) == [NO_TEXT_PLACEHOLDER]


# --- a slow assistant ------------------------------------------------------------------


class SlowAssistant(FakeAssistant):
    """Answers only once released; or fails then."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.fail = fail

    async def __call__(self, message: UserMessage) -> None:
        await self.release.wait()
        if self.fail:
            raise RuntimeError("action server down")
        await super().__call__(message)


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def slow_channel(channel: SmsInput, fake_twilio: FakeTwilio) -> SmsInput:
    settings = replace(channel.settings, twilio_api_base_url=fake_twilio.url)
    slow = SmsInput(settings)
    slow.turns.timeout = 0.01  # the assistant above is always slower
    return slow


async def test_a_slow_answer_is_texted_when_it_is_ready(
    slow_channel: SmsInput, fake_twilio: FakeTwilio
) -> None:
    assistant = SlowAssistant()
    replies = await slow_channel._handle(assistant, PHONE, "SM1", "where is my order")
    assert replies == [SLOW_REPLY]
    [turn] = slow_channel.turns.running  # kept until it ends
    assistant.release.set()
    await turn
    assert fake_twilio.bodies_to(PHONE) == ["Hello from the assistant."]
    assert slow_channel.turns.running == frozenset()


async def test_a_slow_answer_is_not_texted_after_stop(
    slow_channel: SmsInput, fake_twilio: FakeTwilio
) -> None:
    assistant = SlowAssistant()
    assert await slow_channel._handle(assistant, PHONE, "SM1", "hi") == [SLOW_REPLY]
    [turn] = slow_channel.turns.running
    [stopped] = await slow_channel._handle(assistant, PHONE, "SM2", "STOP")
    assert "unsubscribed" in stopped
    assistant.release.set()
    await turn
    assert fake_twilio.sent == []


async def test_a_slow_turn_that_fails_texts_nothing(
    slow_channel: SmsInput, fake_twilio: FakeTwilio
) -> None:
    assistant = SlowAssistant(fail=True)
    assert await slow_channel._handle(assistant, PHONE, "SM1", "hi") == [SLOW_REPLY]
    [turn] = slow_channel.turns.running
    assistant.release.set()
    await asyncio.wait({turn})
    assert fake_twilio.sent == []


async def test_a_failure_in_time_asks_the_customer_to_text_again(
    channel: SmsInput,
) -> None:
    assistant = SlowAssistant(fail=True)
    assistant.release.set()
    assert await channel._handle(assistant, PHONE, "SM1", "hi") == [ERROR_REPLY]


# --- replays: the webhook as Twilio signs it ------------------------------------------

ACCOUNT = Settings().twilio_account_sid
SID = "SM" + "5" * 32


def inbound(body: str, sid: str = SID) -> dict[str, str]:
    """The form fields Twilio posts for an inbound SMS."""
    return {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
        "ToCity": "", "FromZip": "94107", "SmsSid": sid, "FromState": "CA",
        "SmsStatus": "received", "FromCity": "SAN FRANCISCO", "Body": body,
        "FromCountry": "US", "To": "+15005550006", "ToZip": "", "NumSegments": "1",
        "MessageSid": sid, "AccountSid": ACCOUNT, "From": PHONE,
        "ApiVersion": "2010-04-01",
    }  # fmt: skip


def webhooks_of(channel: SmsInput) -> tuple[TwilioWebhooks, FakeAssistant]:
    """Signed webhooks to `channel`, and the assistant behind it."""
    assistant = FakeAssistant()
    webhooks = TwilioWebhooks(
        channel.blueprint(assistant),
        channel.settings.twilio_auth_token,
        channel.settings.public_base_url,
        "/webhooks/sms",
    )
    return webhooks, assistant


@pytest.fixture
def twilio(channel: SmsInput) -> tuple[TwilioWebhooks, FakeAssistant]:
    return webhooks_of(channel)


def messages(reply: HTTPResponse) -> list[str]:
    assert reply.status == 200, reply.body
    return [m.text or "" for m in ET.fromstring(reply.body or b"<Response/>")]


def processed_count(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return int(
                session.scalar(select(func.count()).select_from(ProcessedWebhook)) or 0
            )
    finally:
        engine.dispose()


async def test_a_replayed_message_is_answered_once(
    twilio: tuple[TwilioWebhooks, FakeAssistant],
) -> None:
    webhooks, assistant = twilio
    params = inbound("where is my order")
    signature = webhooks.sign("/webhook", params)
    first = await webhooks.post("/webhook", params, signature)
    assert messages(first) == ["Hello from the assistant."]
    assert messages(await webhooks.post("/webhook", params, signature)) == []
    assert assistant.received == ["where is my order"]


# Each swallows the next field in Twilio's order: the signature stays valid.
REFUSED_SHIFTS = [
    "MessageSid",  # MessageSid=SM…NumMedia0: a new Sid, the message again
    "SmsSid",  # SmsSid=SM…SmsStatusreceived
    "SmsMessageSid",  # swallows SmsSid
    "FromZip",  # swallows MessageSid itself
    "From",  # From=+1…FromCitySAN FRANCISCO
    "AccountSid",  # swallows ApiVersion
]


@pytest.mark.parametrize("field_name", REFUSED_SHIFTS)
async def test_a_boundary_shifted_replay_is_refused(
    twilio: tuple[TwilioWebhooks, FakeAssistant], database_url: str, field_name: str
) -> None:
    webhooks, assistant = twilio
    params = inbound("yes")  # an old "yes" to a cancellation
    signature = webhooks.sign("/webhook", params)
    assert messages(await webhooks.post("/webhook", params, signature))
    stored = processed_count(database_url)
    variant = shifted(params, field_name)
    assert webhooks.accepts("/webhook", variant, signature)
    reply = await webhooks.post("/webhook", variant, signature)
    assert reply.status == 400 and reply.body
    assert assistant.received == ["yes"]
    assert processed_count(database_url) == stored  # nothing stored either


@pytest.mark.parametrize("field_name", ["ApiVersion", "SmsStatus", "NumSegments"])
async def test_a_shift_the_checks_let_through_is_still_a_duplicate(
    twilio: tuple[TwilioWebhooks, FakeAssistant], field_name: str
) -> None:
    """Fields we don't read may swallow others: the Sid and signature are the same."""
    webhooks, assistant = twilio
    params = inbound("where is my order")
    signature = webhooks.sign("/webhook", params)
    assert messages(await webhooks.post("/webhook", params, signature))
    variant = shifted(params, field_name)
    assert webhooks.accepts("/webhook", variant, signature)
    assert messages(await webhooks.post("/webhook", variant, signature)) == []
    assert assistant.received == ["where is my order"]


async def test_a_signature_seen_with_another_sid_is_a_duplicate(
    channel: SmsInput,
) -> None:
    """De-duplication reads the signature too, not only the (signed) Sid."""
    assistant = FakeAssistant()
    signature = "twilio-signature:" + "a" * 64
    assert await channel._handle(assistant, PHONE, SID, "hi", signature)
    other_sid = "SM" + "6" * 32
    assert await channel._handle(assistant, PHONE, other_sid, "hi", signature) == []
    assert assistant.received == ["hi"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"AccountSid": "AC" + "9" * 32}, "this shop's Twilio account"),
        ({"MessageSid": "SM" + "5" * 31 + "X"}, "MessageSid"),
        ({"MessageSid": "SM" + "5" * 32 + "\n"}, "MessageSid"),
        ({"SmsSid": "SM" + "6" * 32}, "must equal MessageSid"),
        ({"NumMedia": "1x"}, "NumMedia"),
        ({"From": "4155550134"}, "E.164"),
        ({"&step": "=1"}, "unexpected field name"),
    ],
)
async def test_fields_must_have_twilios_formats_even_when_signed(
    twilio: tuple[TwilioWebhooks, FakeAssistant],
    changes: dict[str, str],
    reason: str,
) -> None:
    webhooks, assistant = twilio
    reply = await webhooks.post("/webhook", {**inbound("hello"), **changes})
    assert reply.status == 400 and reason in (reply.body or b"").decode()
    assert assistant.received == []


async def test_the_database_down_the_customer_is_asked_to_text_again(
    closed_port: int,
) -> None:
    channel = SmsInput(
        Settings(
            database_url=f"postgresql://postgres@127.0.0.1:{closed_port}/shop",
            twilio_auth_token="twilio-token",
            secret_key=SECRET,
            public_base_url="https://sms.example.com",
        )
    )
    webhooks, assistant = webhooks_of(channel)
    params = inbound("where is my order")
    reply = await webhooks.post("/webhook", params, webhooks.sign("/webhook", params))
    assert messages(reply) == [ERROR_REPLY]
    assert assistant.received == []  # nothing reached the assistant
