"""Handing a conversation to a person, offering to, and the fallback ladder."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

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
    transcript_lines,
    verification_locked,
)
from actions.knowledge import ANSWER_RESPONSE, answer_with, knowledge_base
from actions.tickets import verified_customer
from actions.validation import latest_intent
from bot.models import Customer, Order, Sender, TicketCategory
from bot.services import handoff
from bot.services import tickets as ticket_service
from bot.services.hours import OpeningHours, describe_opening
from bot.services.orders import get_order
from bot.services.reports import estimated_wait
from knowledge_base.unsure import answer_when_unsure

FALLBACK_ACTION = "action_fallback"
# The FallbackClassifier's intent: the NLU could not place the message.
UNSURE_INTENT = "nlu_fallback"
# Intents that say "a person, please", yes/no, or a bare answer to a question, not
# what the customer needs: the handoff context looks past them to an earlier one.
NOT_A_TOPIC = {
    "request_human", "affirm", "deny", "nlu_fallback", "inform", "greet", "goodbye",
    "thank", "bot_challenge",
}  # fmt: skip
# A message of these intents this short only asks for a person (or says yes to it).
ASKING_FOR_A_PERSON = {"request_human", "affirm", "deny"}
SHORT_REQUEST_WORDS = 6
CONTEXT_ENTITIES = ("order_number", "email", "phone", "ticket_reference", "name")
MAX_ENTITY_LENGTH = 200


def _reason(tracker: Tracker) -> str:
    if verification_locked(tracker):
        return "Customer could not be verified after several attempts."
    if latest_intent(tracker) == "request_human" or latest_intent(tracker) == "affirm":
        return "Customer asked to talk to a person."
    return "The assistant could not understand the customer twice in a row."


def _user_events(tracker: Tracker) -> Iterator[dict[str, Any]]:
    for event in tracker.events:
        if event.get("event") == "user":
            yield event


def _intent_of(event: dict[str, Any]) -> tuple[str | None, float | None]:
    intent = (event.get("parse_data") or {}).get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    confidence = intent.get("confidence") if isinstance(intent, dict) else None
    if not isinstance(confidence, int | float) or not math.isfinite(confidence):
        confidence = None
    return (name if isinstance(name, str) else None), confidence


def _only_asks_for_a_person(event: dict[str, Any]) -> bool:
    text = str(event.get("text") or "").strip()
    intent, _ = _intent_of(event)
    return text.startswith("/") or (
        intent in ASKING_FOR_A_PERSON and len(text.split()) <= SHORT_REQUEST_WORDS
    )


def handoff_context(
    tracker: Tracker, reason: str, verified: bool
) -> handoff.HandoffContext:
    """What the assistant understood in this conversation, for the agent.

    The intent is the latest one that says what the customer needs (not "a person,
    please" or "yes"); the entities are the latest value of each the customer typed;
    the last message is the latest that is more than a request for a person.
    """
    events = list(_user_events(tracker))
    intent, confidence = _intent_of(events[-1]) if events else (None, None)
    for event in reversed(events):
        name, score = _intent_of(event)
        if name and name not in NOT_A_TOPIC:
            intent, confidence = name, score
            break
    entities: dict[str, str] = {}
    for event in events:
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            if not isinstance(entity, dict):
                continue
            name, value = entity.get("entity"), entity.get("value")
            if name in CONTEXT_ENTITIES and isinstance(value, str | int | float):
                entities[str(name)] = str(value)[:MAX_ENTITY_LENGTH]
    last_message = next(
        (
            str(event["text"]).strip()
            for event in reversed(events)
            if str(event.get("text") or "").strip()
            and not _only_asks_for_a_person(event)
        ),
        None,
    )
    return handoff.HandoffContext(
        reason=reason,
        intent=intent,
        confidence=confidence,
        entities=entities,
        last_message=last_message,
        verified=verified,
        customer_messages=len(events),
    )


def _since_last_handoff(tracker: Tracker) -> tuple[ticket_service.TranscriptLine, ...]:
    """Transcript lines after the previous handoff of this conversation.

    They are what the customer and the assistant said after the conversation was
    handed back; the ticket's transcript has everything before.
    """
    events = list(tracker.events)
    starts = [
        i
        for i, event in enumerate(events)
        if event.get("event") == "slot"
        and event.get("name") == "handoff_ticket"
        and event.get("value")
    ]
    return transcript_lines(events[starts[-1] + 1 :]) if starts else ()


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """Open (or reuse) the conversation's handoff ticket and tell the customer.

    From then on the conversation is held: the customer's messages go to the
    ticket (and the agents' console), and the assistant stays silent until an agent
    hands the conversation back. Voice calls are held too, for uniformity: the call
    is transferred or ends anyway.
    """
    reason = _reason(tracker)
    with session_scope() as session:
        customer = verified_customer(session, tracker)
        context = handoff_context(tracker, reason, verified=customer is not None)
        asked_again = ticket_service.TranscriptLine(
            Sender.SYSTEM, "Customer asked again."
        )
        ticket = handoff.ensure_ticket(
            session,
            tracker.sender_id,
            lambda: _handoff_request(session, tracker, context, customer),
            again=[*_since_last_handoff(tracker), asked_again],
        )
        handoff.record_context(ticket, context)
        try:
            handoff.hold(session, ticket, tracker.sender_id)
        except handoff.ConversationTaken:
            # A person already has this conversation under another ticket: they
            # keep it (the hold gate lets no held message through, so this is a race
            # between two handoffs of one conversation).
            logger.info("%s is already held by another ticket", tracker.sender_id)
        reference = ticket.reference
        when = when_to_expect_a_person(session, now())
    dispatcher.utter_message(response="utter_handoff", reference=reference, when=when)
    return [*reset_flow_slots(), SlotSet("handoff_ticket", reference)]


def _handoff_request(
    session: Session,
    tracker: Tracker,
    context: handoff.HandoffContext,
    customer: Customer | None,
) -> ticket_service.TicketRequest:
    """A new handoff ticket for the conversation, with what the assistant knew."""
    # The order the flow verified, or one the verified customer mentioned.
    order = _verified_order(
        session,
        tracker.get_slot("verified_order") or context.entities.get("order_number"),
        customer,
    )
    return ticket_service.TicketRequest(
        channel=channel_of(tracker),
        category=TicketCategory.HANDOFF,
        subject="Conversation handed off to a person",
        description=context.reason,
        customer=customer,
        order=order,
        conversation_id=tracker.sender_id,
        contact=channel_phone(tracker) or (customer.email if customer else None),
        handed_off=True,
        transcript=transcript(tracker),
    )


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
    """True when the bot's reply to the previous user message was the fallback.

    A fallback the help centre answered (:class:`ActionFallback`) does not count:
    the customer was understood, so the ladder starts again.
    """
    user_turns = 0
    answered = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            user_turns += 1
            if user_turns == 2:
                return False
        elif user_turns == 1 and event.get("event") == "bot":
            metadata = event.get("metadata")
            if isinstance(metadata, dict):
                answered |= metadata.get("utter_action") == ANSWER_RESPONSE
        elif user_turns == 1 and event.get("event") == "action":
            if event.get("name") == FALLBACK_ACTION:
                return not answered
    return False


class ActionFallback(Action):
    """Answers from the help centre if it can; else asks to rephrase, then hands off.

    Only when the NLU was unsure (``nlu_fallback``) and the message is a question the
    help centre answers with confidence (:mod:`knowledge_base.unsure`); a confident
    ``out_of_scope`` never comes here.
    """

    def name(self) -> str:
        return FALLBACK_ACTION

    @apologise_on_failure
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if latest_intent(tracker) == UNSURE_INTENT:
            match = answer_when_unsure(
                knowledge_base(), tracker.latest_message.get("text") or ""
            )
            if match is not None:
                answer_with(dispatcher, match)
                return []
        if _previous_turn_was_fallback(tracker):
            return hand_off(dispatcher, tracker)
        dispatcher.utter_message(response="utter_please_rephrase")
        return []
