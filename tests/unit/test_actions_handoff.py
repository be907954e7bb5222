from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from actions.account import ActionAccountHelp
from actions.handoff import ActionFallback, ActionHandoff
from actions.knowledge import ActionAnswerFaq
from bot import clock
from bot.models import Channel, Order, Sender, Ticket, TicketCategory
from bot.services import handoff as handoff_service
from bot.services import tickets as ticket_service
from bot.services.agents import create_agent
from bot.services.handoff import HandoffContext
from bot.services.queue import claim
from tests.unit.trackers import load_domain, make_tracker, responses

pytestmark = pytest.mark.usefixtures("db_scope")
DOMAIN = load_domain()

HISTORY = [
    {"event": "user", "text": "where is my order"},
    {"event": "bot", "text": "What's your order number?"},
]


def handoff_tickets(connection: Connection, conversation: str) -> list[Ticket]:
    session = Session(bind=connection)
    query = select(Ticket).where(
        Ticket.conversation_id == conversation,
        Ticket.category == TicketCategory.HANDOFF,
    )
    return list(session.scalars(query))


async def test_request_human_opens_handed_off_ticket_with_transcript(
    connection: Connection,
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(
        dispatcher,
        make_tracker(text="can i talk to a real person", intent="request_human",
                     events=HISTORY, sender_id="conv-human"),
        DOMAIN,
    )  # fmt: skip
    [ticket] = handoff_tickets(connection, "conv-human")
    assert ticket.handed_off is True
    assert ticket.description == "Customer asked to talk to a person."
    assert [m.text for m in ticket.messages] == [
        "where is my order",
        "What's your order number?",
        "can i talk to a real person",
    ]
    assert responses(dispatcher) == ["utter_handoff"]
    assert dispatcher.messages[0]["reference"] == ticket.reference
    assert SlotSet("handoff_ticket", ticket.reference) in events
    assert SlotSet("order_number", None) in events  # the abandoned flow is forgotten


async def test_asking_twice_reuses_the_open_handoff_ticket(
    connection: Connection,
) -> None:
    tracker = make_tracker(text="human please", intent="request_human", sender_id="c2")
    await ActionHandoff().run(CollectingDispatcher(), tracker, DOMAIN)
    await ActionHandoff().run(CollectingDispatcher(), tracker, DOMAIN)
    [ticket] = handoff_tickets(connection, "c2")
    assert ticket.messages[-1].sender == Sender.SYSTEM


async def test_first_fallback_asks_to_rephrase(connection: Connection) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionFallback().run(
        dispatcher,
        make_tracker(text="blorp", intent="nlu_fallback", sender_id="f1"),
        DOMAIN,
    )
    assert responses(dispatcher) == ["utter_please_rephrase"]
    assert events == []
    assert handoff_tickets(connection, "f1") == []


async def test_second_fallback_in_a_row_hands_off(connection: Connection) -> None:
    history = [
        {"event": "user", "text": "blorp"},
        {"event": "action", "name": "action_fallback"},
        {"event": "bot", "text": "Sorry, I didn't quite understand."},
        {"event": "action", "name": "action_listen"},
    ]
    dispatcher = CollectingDispatcher()
    await ActionFallback().run(
        dispatcher,
        make_tracker(
            text="zzzt", intent="nlu_fallback", events=history, sender_id="f2"
        ),
        DOMAIN,
    )
    assert responses(dispatcher) == ["utter_handoff"]
    [ticket] = handoff_tickets(connection, "f2")
    assert "could not understand" in ticket.description


async def test_an_unsure_question_the_help_centre_knows_gets_the_article(
    connection: Connection,
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionFallback().run(
        dispatcher,
        make_tracker(text="can i pay with paypal?", intent="nlu_fallback",
                     sender_id="f3"),
        DOMAIN,
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_faq_answer"]
    assert dispatcher.messages[0]["title"] == "Payment methods"
    assert dispatcher.messages[0]["summary"]  # what the IVR reads
    assert events == []
    assert handoff_tickets(connection, "f3") == []


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("returns policy", "nlu_fallback"),  # not a question
        ("do you sell used cars?", "nlu_fallback"),  # no article
        ("can i pay with paypal?", "out_of_scope"),  # the NLU was sure: not asked
    ],
)
async def test_otherwise_the_fallback_asks_to_rephrase(
    connection: Connection, text: str, intent: str
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionFallback().run(
        dispatcher, make_tracker(text=text, intent=intent, sender_id="f4"), DOMAIN
    )
    assert responses(dispatcher) == ["utter_please_rephrase"]


def after_a_fallback(question: str, response: str) -> list[dict[str, Any]]:
    """The previous turn: the fallback, which replied with `response`."""
    return [
        {"event": "user", "text": question},
        {"event": "action", "name": "action_fallback"},
        {"event": "bot", "text": "...", "metadata": {"utter_action": response}},
        {"event": "action", "name": "action_listen"},
    ]


@pytest.mark.parametrize(
    ("previous", "text", "reply"),
    [
        # A question the help centre knows is answered even on the second rung.
        (("blorp", "utter_please_rephrase"), "do gift cards expire?",
         "utter_faq_answer"),
        # A fallback the help centre answered starts the ladder again.
        (("can i pay with paypal?", "utter_faq_answer"), "zzzt",
         "utter_please_rephrase"),
    ],
)  # fmt: skip
async def test_a_help_centre_answer_is_no_rung_of_the_ladder(
    connection: Connection, previous: tuple[str, str], text: str, reply: str
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionFallback().run(
        dispatcher,
        make_tracker(text=text, intent="nlu_fallback",
                     events=after_a_fallback(*previous), sender_id="f5"),
        DOMAIN,
    )  # fmt: skip
    assert responses(dispatcher) == [reply]
    assert handoff_tickets(connection, "f5") == []


async def test_faq_answers_with_article_title() -> None:
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(
        dispatcher, make_tracker(text="can i return an item i bought",
                                 intent="faq"), DOMAIN
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_faq_answer"]
    assert dispatcher.messages[0]["title"] == "Returns and exchanges"
    assert dispatcher.messages[0]["body"]


async def test_faq_without_a_good_match_says_so() -> None:
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(
        dispatcher, make_tracker(text="do you sell used cars", intent="faq"), DOMAIN
    )
    assert responses(dispatcher) == ["utter_faq_unknown"]


@pytest.mark.parametrize(
    "intent", ["reset_password", "account_problem", "delete_account", "update_account"]
)
async def test_account_help(intent: str) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionAccountHelp().run(
        dispatcher, make_tracker(text="...", intent=intent), DOMAIN
    )
    assert responses(dispatcher) == [f"utter_{intent}"]
    assert dispatcher.messages[0]["reset_url"].endswith("/account/reset")
    assert events == []


def test_no_unexpected_tickets(connection: Connection) -> None:
    session = Session(bind=connection)
    assert session.scalar(select(func.count()).select_from(Ticket)) == 0


NY = dt.timezone(dt.timedelta(hours=-5))
MONDAY_NOON = dt.datetime(2026, 11, 16, 12, 0, tzinfo=NY)
SUNDAY_NOON = dt.datetime(2026, 11, 22, 12, 0, tzinfo=NY)


async def handoff_says(moment: dt.datetime) -> str:
    dispatcher = CollectingDispatcher()
    with clock.frozen_at(moment):
        await ActionHandoff().run(
            dispatcher,
            make_tracker(text="a person please", intent="request_human"),
            DOMAIN,
        )
    return str(dispatcher.messages[0]["when"])


async def test_outside_opening_hours_the_customer_hears_when_agents_are_back() -> None:
    when = await handoff_says(SUNDAY_NOON)
    assert when.startswith("Our team is away right now and back tomorrow at 8 am")


async def test_without_history_no_wait_is_promised() -> None:
    assert await handoff_says(MONDAY_NOON) == (
        "A person will answer you as soon as possible."
    )


async def test_the_wait_comes_from_recent_claims(connection: Connection) -> None:
    session = Session(bind=connection)
    agent = create_agent(
        session, "Maria", "maria@shop.example", "correct horse battery"
    )
    for minutes in (10, 20, 30):
        ticket = ticket_service.open_ticket(
            session,
            ticket_service.TicketRequest(
                channel=Channel.WEB, category=TicketCategory.HANDOFF, subject="help"
            ),
        )
        ticket.created_at = MONDAY_NOON - dt.timedelta(minutes=minutes)
        session.flush()
        assert claim(session, ticket.id, agent, now=MONDAY_NOON)
    session.flush()
    assert await handoff_says(MONDAY_NOON) == (
        "People are usually answered within about 20 minutes."
    )


# --- the conversation is held, with context for the agent -------------------------------


def user(
    text: str, intent: str, confidence: float = 0.9, **entities: str
) -> dict[str, Any]:
    """A past user event as Rasa stores it."""
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": confidence},
            "entities": [{"entity": k, "value": v} for k, v in entities.items()],
        },
    }


def held(connection: Connection, conversation: str) -> int | None:
    """The id of the ticket holding `conversation`, if any."""
    ticket = handoff_service.held_ticket(Session(bind=connection), conversation)
    return ticket.id if ticket is not None else None


ORDER_QUESTION = [
    user("where is my order 104257", "check_order_status", 0.93, order_number="104257"),
    {"event": "bot", "text": "What's the email address on the order?"},
    user("it's jane@example.org", "inform", 0.8, email="jane@example.org"),
    {"event": "bot", "text": "Sorry, that doesn't match the order."},
]


async def test_handing_off_holds_the_conversation_with_context(
    connection: Connection,
) -> None:
    await ActionHandoff().run(
        CollectingDispatcher(),
        make_tracker(text="a person please", intent="request_human",
                     events=ORDER_QUESTION, sender_id="held-1"),
        DOMAIN,
    )  # fmt: skip
    [ticket] = handoff_tickets(connection, "held-1")
    assert held(connection, "held-1") == ticket.id
    assert HandoffContext.from_json(ticket.context) == HandoffContext(
        reason="Customer asked to talk to a person.",
        intent="check_order_status",
        confidence=0.93,
        entities={"order_number": "104257", "email": "jane@example.org"},
        last_message="it's jane@example.org",
        verified=False,
        customer_messages=3,
    )
    assert ticket.summary == (
        "An anonymous visitor wrote on web chat (3 messages). "
        "The assistant understood: check order status, 93% sure. "
        "Mentioned order 104257 (not verified). "
        "Last message: “it's jane@example.org”. "
        "Handed off because: Customer asked to talk to a person."
    )
    # From now on the customer's messages reach the ticket, not the assistant.
    session = Session(bind=connection)
    got = handoff_service.receive_customer_message(session, "held-1", "hello?")
    assert got is not None and got.id == ticket.id


async def test_a_verified_customer_is_named_in_the_summary(
    connection: Connection,
) -> None:
    await ActionHandoff().run(
        CollectingDispatcher(),
        make_tracker(text="agent", intent="request_human", phone="+14155550134",
                     sender_id="held-2"),
        DOMAIN,
    )  # fmt: skip
    [ticket] = handoff_tickets(connection, "held-2")
    context = HandoffContext.from_json(ticket.context)
    assert context is not None and context.verified is True
    assert context.intent == "request_human"  # nothing better to go on
    assert context.last_message is None  # "agent" only asks for a person
    assert ticket.summary is not None
    assert ticket.summary.startswith(
        "Jane Doe (jane.doe@example.com, verified) wrote on SMS (1 message). "
    )


async def test_a_detailed_request_for_a_person_is_the_last_message(
    connection: Connection,
) -> None:
    text = "i want to talk to someone about the broken lamp in my last order"
    await ActionHandoff().run(
        CollectingDispatcher(),
        make_tracker(text=text, intent="request_human", sender_id="held-3"),
        DOMAIN,
    )
    [ticket] = handoff_tickets(connection, "held-3")
    context = HandoffContext.from_json(ticket.context)
    assert context is not None and context.last_message == text


async def test_a_fallback_handoff_summary_quotes_the_customer(
    connection: Connection,
) -> None:
    history = [
        user("blorp", "nlu_fallback", 0.2),
        {"event": "action", "name": "action_fallback"},
        {"event": "bot", "text": "Sorry, I didn't quite understand."},
        {"event": "action", "name": "action_listen"},
    ]
    await ActionFallback().run(
        CollectingDispatcher(),
        make_tracker(text="zzzt", intent="nlu_fallback", events=history,
                     sender_id="held-4"),
        DOMAIN,
    )  # fmt: skip
    [ticket] = handoff_tickets(connection, "held-4")
    assert ticket.summary == (
        "An anonymous visitor wrote on web chat (2 messages). "
        "Last message: “zzzt”. "
        "Handed off because: The assistant could not understand the customer twice "
        "in a row."
    )
    assert held(connection, "held-4") == ticket.id


async def test_asking_again_after_a_hand_back_updates_the_ticket(
    connection: Connection,
) -> None:
    """Returned to the bot, the customer asks again: same ticket, new lines, new context."""
    first = make_tracker(text="human please", intent="request_human",
                         events=ORDER_QUESTION, sender_id="held-5")  # fmt: skip
    events = await ActionHandoff().run(CollectingDispatcher(), first, DOMAIN)
    session = Session(bind=connection)
    [ticket] = handoff_tickets(connection, "held-5")
    handoff_service.release(session, ticket)  # "Return to bot"
    session.flush()
    later = [
        *first.events,
        {"event": "action", "name": "action_handoff"},
        {"event": "bot", "text": "I've passed our conversation to our support team."},
        *({"event": "slot", "name": e["name"], "value": e["value"]} for e in events),
        user(
            "is order 108842 also late",
            "check_order_status",
            0.88,
            order_number="108842",
        ),
        {"event": "bot", "text": "Which email address is on the order?"},
    ]
    await ActionHandoff().run(
        CollectingDispatcher(),
        make_tracker(text="a person again please", intent="request_human",
                     events=later, sender_id="held-5"),
        DOMAIN,
    )  # fmt: skip
    [again] = handoff_tickets(connection, "held-5")
    assert again.id == ticket.id
    assert [(m.sender, m.text) for m in again.messages][-4:] == [
        (Sender.CUSTOMER, "is order 108842 also late"),
        (Sender.BOT, "Which email address is on the order?"),
        (Sender.CUSTOMER, "a person again please"),
        (Sender.SYSTEM, "Customer asked again."),
    ]
    context = HandoffContext.from_json(again.context)
    assert context is not None
    assert (context.intent, context.customer_messages) == ("check_order_status", 5)
    assert context.entities["order_number"] == "108842"
    assert held(connection, "held-5") == again.id


async def test_calls_are_held_too(connection: Connection) -> None:
    await ActionHandoff().run(
        CollectingDispatcher(),
        make_tracker(text="/request_human", intent="request_human", channel="voice",
                     phone="+14155550134", sender_id="voice:CA123"),
        DOMAIN,
    )  # fmt: skip
    [ticket] = handoff_tickets(connection, "voice:CA123")
    assert ticket.channel == Channel.VOICE
    assert held(connection, "voice:CA123") == ticket.id


@pytest.mark.parametrize(
    ("number", "linked"),
    [("104257", True), ("108842", False)],  # Jane's own order; Sam's order
)
async def test_an_order_the_verified_customer_mentions_is_linked_only_if_theirs(
    connection: Connection, number: str, linked: bool
) -> None:
    sender = f"held-order-{number}"
    await ActionHandoff().run(
        CollectingDispatcher(),
        make_tracker(
            text=f"I need a person about order {number}",
            intent="request_human",
            entities=[{"entity": "order_number", "value": number}],
            phone="+14155550134",
            sender_id=sender,
        ),
        DOMAIN,
    )
    [ticket] = handoff_tickets(connection, sender)
    order = Session(bind=connection).get(Order, ticket.order_id) if linked else None
    assert (ticket.order_id is not None) is linked
    if order is not None:
        assert order.number == number
        assert f"Order {number} is shipped." in (ticket.summary or "")
    else:
        assert f"Mentioned order {number} (not verified)." in (ticket.summary or "")
