"""A caller waiting in the agents' queue can go back to the assistant.

By pressing star or saying so, and by themselves when their conversation's hold is
released meanwhile (nobody claimed it in time). Webhooks are posted straight to the
channel, as Twilio would post them; the hold is made as the assistant's handoff
action makes it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import migrate
from bot.db import make_engine, make_session_factory
from bot.models import Channel, Sender, Ticket, TicketStatus, utcnow
from bot.services import back_to_bot, handoff, queue
from bot.services.assistant_request import asks_for_the_assistant
from channels.voice.channel import VoiceInput
from channels.voice.handoff import STAR_PRESSED
from channels.voice.prompts import (
    BACK,
    BACK_KEPT,
    BACK_PROMPT,
    BACK_UNCLAIMED,
    BACK_WITHDRAWN,
    QUEUE_WAITING,
)
from channels.voice.twiml import HOLD_MUSIC
from tests.unit.holds import hold_for_a_person
from tests.unit.queue_setup import make_team
from tests.unit.voice_calls import (
    CALLER,
    Caller,
    FakeAssistant,
    make_channel,
    query,
    said,
    tags,
)

TRANSFER = [
    {"text": "I've passed our call to our team."},
    {"custom": {"switchboard": "transfer"}},
]
ANSWER = [{"text": "Your order has shipped."}]


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
async def channel(sessions: sessionmaker[Session]) -> AsyncIterator[VoiceInput]:
    url = str(sessions.kw["bind"].url)
    channel = make_channel(url, agent_queue_name="support")
    yield channel
    await asyncio.gather(*channel.turns.running, return_exceptions=True)


async def enqueued(
    channel: VoiceInput, sessions: sessionmaker[Session], held: bool = True
) -> tuple[Caller, ET.Element]:
    """A caller put through to the agents' queue: the call and its first wait."""
    call = Caller(channel, FakeAssistant(list(TRANSFER)))
    await call.start()
    if held:  # what the assistant's handoff action does
        with sessions.begin() as session:
            hold_for_a_person(session, call.conversation_id, Channel.VOICE, CALLER)
    transfer = await call.press("0")
    enqueue = transfer.find("Enqueue")
    assert enqueue is not None and enqueue.text == "support"
    call.assistant.replies = list(ANSWER)
    return call, await wait(call, enqueue.attrib["waitUrl"])


async def wait(call: Caller, url: str) -> ET.Element:
    """Twilio asking the wait URL, with the fields it adds in a queue."""
    return await call.post(
        args=query(url), QueueSid="QU" + "0" * 32, QueuePosition="1", QueueTime="42"
    )


def is_waiting(twiml: ET.Element) -> bool:
    gather = twiml.find("Gather")
    if gather is None or tags(twiml) != ["Gather"]:
        return False
    play = gather.find("Play")
    return (
        query(gather.attrib["action"]).get("queue") == "input"
        and said(gather) == QUEUE_WAITING
        and play is not None
        and play.text == HOLD_MUSIC
    )


@dataclass(frozen=True)
class Seen:
    """The call's handoff ticket, as the console would show it."""

    id: int
    reference: str
    status: TicketStatus
    lines: list[tuple[Sender, str]]
    events: int
    held: bool


def the_ticket(sessions: sessionmaker[Session], call: Caller) -> Seen:
    with sessions() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.conversation_id == call.conversation_id)
        ).one()
        return Seen(
            id=ticket.id,
            reference=ticket.reference,
            status=ticket.status,
            lines=[(m.sender, m.text) for m in ticket.messages],
            events=len(ticket.events),
            held=handoff.held_ticket(session, call.conversation_id) is not None,
        )


def wait_url(waiting: ET.Element) -> str:
    """The wait URL Twilio asks again when the wait prompt is over."""
    gather = waiting.find("Gather")
    assert gather is not None
    return gather.attrib["action"].replace("queue=input", "queue=wait")


async def test_star_leaves_the_queue_withdraws_the_request_and_the_bot_answers(
    channel: VoiceInput, sessions: sessionmaker[Session]
) -> None:
    call, waiting = await enqueued(channel, sessions)
    assert is_waiting(waiting)
    left = await call.answer(waiting, Digits="*")
    assert tags(left) == ["Say", "Leave"] and said(left) == BACK_WITHDRAWN
    ticket = the_ticket(sessions, call)
    assert ticket.status == TicketStatus.RESOLVED and not ticket.held
    assert ticket.lines == [
        (Sender.CUSTOMER, STAR_PRESSED),
        (Sender.SYSTEM, back_to_bot.withdrawn_notice(ticket.reference)),
    ]
    # Twilio tells the Enqueue's action the caller left: the assistant listens.
    back = await call.post(args={"after": "transfer"}, QueueResult="leave")
    assert said(back) == BACK_PROMPT and tags(back) == ["Gather", "Redirect"]
    answer = await call.answer(back, SpeechResult="where is my order")
    assert said(answer) == "Your order has shipped."
    assert call.assistant.texts == ["/request_human", "where is my order"]


async def test_saying_so_leaves_the_queue_and_other_words_keep_the_caller_waiting(
    channel: VoiceInput, sessions: sessionmaker[Session]
) -> None:
    call, waiting = await enqueued(channel, sessions)
    assert not asks_for_the_assistant("is anyone there")
    still = await call.answer(waiting, SpeechResult="Is anyone there?")
    assert is_waiting(still)
    assert the_ticket(sessions, call).held
    assert the_ticket(sessions, call).lines == []  # hold music, not a message
    assert is_waiting(await call.answer(still, Digits="5"))
    left = await call.answer(still, SpeechResult="Back to the assistant please.")
    assert said(left) == BACK_WITHDRAWN
    ticket = the_ticket(sessions, call)
    assert not ticket.held
    assert ticket.lines[0] == (Sender.CUSTOMER, "Back to the assistant please.")


async def test_a_claimed_request_stays_with_its_agent(
    channel: VoiceInput, sessions: sessionmaker[Session]
) -> None:
    call, waiting = await enqueued(channel, sessions)
    ticket_id = the_ticket(sessions, call).id
    with sessions.begin() as session:
        assert queue.claim(session, ticket_id, make_team(session).alice)
    left = await call.answer(waiting, Digits="*")
    assert said(left) == BACK_KEPT
    assert the_ticket(sessions, call).status == TicketStatus.CLAIMED


async def test_a_caller_transferred_without_a_ticket_waits_and_may_leave(
    channel: VoiceInput, sessions: sessionmaker[Session]
) -> None:
    # The channel's own transfer (the assistant could not hand off): no hold to lose.
    call, waiting = await enqueued(channel, sessions, held=False)
    assert is_waiting(waiting)
    assert is_waiting(await wait(call, wait_url(waiting)))
    left = await call.answer(waiting, Digits="*")
    assert said(left) == BACK and tags(left) == ["Say", "Leave"]


async def test_a_hold_nobody_claimed_in_time_sends_the_caller_back(
    channel: VoiceInput, sessions: sessionmaker[Session]
) -> None:
    call, waiting = await enqueued(channel, sessions)
    with sessions.begin() as session:
        later = utcnow() + dt.timedelta(minutes=31)
        back_to_bot.release_unclaimed(
            session, dt.timedelta(minutes=30), secret="s", now=later
        )
    # The next time Twilio asks what to play, the caller hears why and leaves.
    left = await wait(call, wait_url(waiting))
    assert tags(left) == ["Say", "Leave"] and said(left) == BACK_UNCLAIMED
    assert the_ticket(sessions, call).status == TicketStatus.NEW  # still queued


async def test_a_replayed_star_changes_nothing_more(
    channel: VoiceInput, sessions: sessionmaker[Session]
) -> None:
    call, waiting = await enqueued(channel, sessions)
    await call.answer(waiting, Digits="*")
    before = the_ticket(sessions, call)
    again = await call.answer(waiting, Digits="*")  # the same signed request
    assert said(again) == BACK  # resolved meanwhile: only "you're back"
    assert the_ticket(sessions, call) == before
