"""The SMS channel while a person has the conversation: the assistant stays silent."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.channels.channel import UserMessage
from sqlalchemy.orm import Session

from bot import migrate
from bot.db import make_engine
from bot.models import Channel, Ticket
from bot.services import handoff, messaging
from bot.settings import Settings
from channels.sms import NO_TEXT_PLACEHOLDER, SmsInput, sms_conversation_id
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


async def test_a_picture_without_text_reaches_the_agent_while_held(
    channel: SmsInput, database_url: str
) -> None:
    ticket_id = hold_conversation(database_url)
    assistant = FakeAssistant()
    assert await channel._handle(assistant, PHONE, "MM1", "") == []
    assert assistant.received == []
    assert customer_lines(database_url, ticket_id) == [NO_TEXT_PLACEHOLDER]
