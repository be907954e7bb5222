"""Handing a conversation to a person, offering to, and the fallback ladder."""

from __future__ import annotations

import datetime as dt

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import (
    apologise_on_failure,
    channel_of,
    channel_phone,
    logger,
    now,
    reset_flow_slots,
    session_scope,
    settings,
    transcript,
    verification_locked,
)
from actions.tickets import verified_customer
from actions.validation import latest_intent
from bot.models import Customer, Order, Sender, TicketCategory
from bot.services import tickets as ticket_service
from bot.services.hours import OpeningHours, describe_opening
from bot.services.orders import get_order
from bot.services.queue import estimated_wait

FALLBACK_ACTION = "action_fallback"


def _reason(tracker: Tracker) -> str:
    if verification_locked(tracker):
        return "Customer could not be verified after several attempts."
    if latest_intent(tracker) == "request_human" or latest_intent(tracker) == "affirm":
        return "Customer asked to talk to a person."
    return "The assistant could not understand the customer twice in a row."


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """Open (or reuse) the conversation's handoff ticket and tell the customer."""
    with session_scope() as session:
        existing = [
            t
            for t in ticket_service.open_tickets_for_conversation(
                session, tracker.sender_id
            )
            if t.handed_off
        ]
        if existing:
            ticket = existing[0]
            ticket_service.add_transcript(
                ticket,
                [ticket_service.TranscriptLine(Sender.SYSTEM, "Customer asked again.")],
            )
        else:
            customer = verified_customer(session, tracker)
            verified_order = tracker.get_slot("verified_order")
            ticket = ticket_service.open_ticket(
                session,
                ticket_service.TicketRequest(
                    channel=channel_of(tracker),
                    category=TicketCategory.HANDOFF,
                    subject="Conversation handed off to a person",
                    description=_reason(tracker),
                    customer=customer,
                    order=get_order(session, verified_order)
                    if verified_order
                    else None,
                    conversation_id=tracker.sender_id,
                    contact=channel_phone(tracker)
                    or (customer.email if customer else None),
                    handed_off=True,
                    transcript=transcript(tracker),
                ),
            )
        reference = ticket.reference
        when = when_to_expect_a_person(session, now())
    dispatcher.utter_message(response="utter_handoff", reference=reference, when=when)
    return [*reset_flow_slots(), SlotSet("handoff_ticket", reference)]


def when_to_expect_a_person(session: Session, moment: dt.datetime) -> str:
    """Roughly when a person will answer: from opening hours and recent waits."""
    config = settings()
    try:
        hours = OpeningHours.parse(config.opening_hours, config.timezone)
    except ValueError:
        logger.exception("OPENING_HOURS cannot be read; assuming always open")
        hours = None
    if hours is not None and not hours.is_open(moment):
        opening = hours.next_opening(moment)
        if opening is not None:
            return (
                f"Our team is away right now and back {describe_opening(opening, moment)}; "
                "your ticket waits in the queue and a person will answer you then."
            )
    wait = estimated_wait(session, moment)
    if wait is None:
        return "A person will answer you as soon as possible."
    minutes = max(5, 5 * round(wait.total_seconds() / 300))
    if minutes <= 90:
        return f"People are usually answered within about {minutes} minutes."
    return f"People are usually answered within about {round(minutes / 60)} hours."


def _verified_order(
    session: Session, number: str | None, customer: Customer | None
) -> Order | None:
    order = get_order(session, number) if number else None
    if order is None or customer is None or order.customer_id != customer.id:
        return None
    return order


class ActionHandoff(Action):
    """Passes the conversation to the support team."""

    def name(self) -> str:
        return "action_handoff"

    @apologise_on_failure
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return hand_off(dispatcher, tracker)


class ActionStopFlow(Action):
    """The customer said "no" to a form's question: stop and forget the flow."""

    def name(self) -> str:
        return "action_stop_flow"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_form_stopped")
        return reset_flow_slots()


class ActionOfferHuman(Action):
    """Asks whether the customer wants a person; rules act on the yes or no."""

    def name(self) -> str:
        return "action_offer_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_offer_human")
        return []


def _previous_turn_was_fallback(tracker: Tracker) -> bool:
    """True when the bot's reply to the previous user message was the fallback."""
    user_turns = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            user_turns += 1
            if user_turns == 2:
                return False
        elif user_turns == 1 and event.get("event") == "action":
            if event.get("name") == FALLBACK_ACTION:
                return True
    return False


class ActionFallback(Action):
    """Asks to rephrase; the second misunderstanding in a row hands off."""

    def name(self) -> str:
        return FALLBACK_ACTION

    @apologise_on_failure
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if _previous_turn_was_fallback(tracker):
            return hand_off(dispatcher, tracker)
        dispatcher.utter_message(response="utter_please_rephrase")
        return []
