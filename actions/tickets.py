"""Problem tickets, ticket status and feedback."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import validation
from actions.common import (
    apologise_on_failure,
    channel_of,
    channel_phone,
    identity,
    now,
    reset_flow_slots,
    session_scope,
    settings,
    transcript,
    verification_locked,
)
from actions.verification import VerifyingFormValidation
from bot.models import Customer, TicketCategory
from bot.services import tickets as ticket_service
from bot.services import verification
from bot.services.contact import InvalidContact, normalise_email, try_normalise_phone
from bot.services.customers import find_by_email, find_by_phone
from bot.services.orders import get_order

NO_ORDER = "none"
DESCRIPTION_MIN_WORDS = 6
PROBLEM_SLOTS = (
    "problem_description",
    "problem_order_number",
    "contact",
    "order_number",
)


class ValidateProblemForm(FormValidationAction):
    """Validates `problem_form`: what went wrong, which order, how to reach them."""

    def name(self) -> str:
        return "validate_problem_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        slots = ["problem_description"]
        if not tracker.get_slot("order_number"):
            slots.append("problem_order_number")
        vouched = identity(tracker)
        if not (vouched and (vouched.phone or vouched.customer_id)) and not (
            tracker.get_slot("verified_contact")
        ):
            slots.append("contact")
        return slots

    async def extract_problem_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # A detailed first message already says what went wrong: don't ask again.
        if tracker.get_slot("problem_description") or tracker.get_slot(
            "requested_slot"
        ):
            return {}
        text = tracker.latest_message.get("text") or ""
        if (
            validation.latest_intent(tracker) == "report_problem"
            and len(text.split()) >= DESCRIPTION_MIN_WORDS
        ):
            return {"problem_description": text}
        return {}

    def validate_problem_description(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(text) < 3:
            dispatcher.utter_message(response="utter_ask_problem_description")
            return {"problem_description": None}
        return {"problem_description": text}

    def validate_problem_order_number(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if value == NO_ORDER or validation.says_no(value):
            return {"problem_order_number": NO_ORDER}
        return {"problem_order_number": validation.order_number(value, dispatcher)}

    def validate_contact(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        text = str(value or "")
        try:
            return {"contact": normalise_email(text)}
        except InvalidContact:
            pass
        phone = try_normalise_phone(text, settings().default_phone_region)
        if phone is None:
            dispatcher.utter_message(response="utter_invalid_contact")
        return {"contact": phone}


def verified_customer(session: Session, tracker: Tracker) -> Customer | None:
    """The customer, only if this conversation proved who they are.

    That is the phone the channel vouches for, or the email/phone that passed an
    order or ticket verification in this conversation (as recorded in the database).
    A contact merely typed in proves nothing.
    """
    vouched = identity(tracker)
    if vouched and vouched.customer_id is not None:
        customer = session.get(Customer, vouched.customer_id)
        if customer:
            return customer
    phone = vouched.phone if vouched else None
    if phone:
        customer = find_by_phone(session, phone)
        if customer:
            return customer
    contact = tracker.get_slot("verified_contact")
    if not contact or not verification.contact_verified(
        session, tracker.sender_id, contact, now()
    ):
        return None  # a slot alone proves nothing: anyone could have set it
    return (
        find_by_email(session, contact)
        if "@" in contact
        else find_by_phone(session, contact)
    )


class ActionSubmitProblemForm(Action):
    """Opens the problem ticket and gives the customer its reference."""

    def name(self) -> str:
        return "action_submit_problem_form"

    @apologise_on_failure
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        description = tracker.get_slot("problem_description") or ""
        subject = _subject(description)
        number = tracker.get_slot("order_number") or tracker.get_slot(
            "problem_order_number"
        )
        contact = (
            tracker.get_slot("contact")
            or channel_phone(tracker)
            or tracker.get_slot("verified_contact")
        )
        with session_scope() as session:
            customer = verified_customer(session, tracker)
            order = (
                get_order(session, number) if number and number != NO_ORDER else None
            )
            if order is not None and (
                customer is None or order.customer_id != customer.id
            ):
                # Not proven to be theirs: keep the number for the agent, don't link it.
                order = None
            if number and number != NO_ORDER and order is None:
                description += f"\n\nOrder number given (not verified): {number}"
            ticket = ticket_service.open_ticket(
                session,
                ticket_service.TicketRequest(
                    channel=channel_of(tracker),
                    category=TicketCategory.PROBLEM,
                    subject=subject,
                    description=description,
                    customer=customer,
                    order=order,
                    conversation_id=tracker.sender_id,
                    contact=contact,
                    transcript=transcript(tracker),
                ),
            )
            reference = ticket.reference
        dispatcher.utter_message(response="utter_ticket_created", reference=reference)
        return reset_flow_slots()


def _subject(description: str, limit: int = 80) -> str:
    line = " ".join(description.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


class ValidateTicketStatusForm(VerifyingFormValidation):
    """Validates `ticket_status_form`: reference, then verification."""

    subject = "ticket"
    key_slot = "ticket_reference"
    verified_slot = "verified_ticket"

    def name(self) -> str:
        return "validate_ticket_status_form"

    def is_verified(
        self,
        session: Session,
        key: str,
        email: str | None,
        phone: str | None,
        customer_id: int | None = None,
    ) -> bool:
        found = ticket_service.find_verified_ticket(
            session, key, email=email, phone=phone, customer_id=customer_id
        )
        return found is not None

    def validate_ticket_reference(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        return {"ticket_reference": validation.ticket_reference(value, dispatcher)}


class ActionSubmitTicketStatusForm(Action):
    """Tells a verified customer the status of their ticket."""

    def name(self) -> str:
        return "action_submit_ticket_status_form"

    @apologise_on_failure
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = reset_flow_slots()
        with session_scope() as session:
            reference = ValidateTicketStatusForm.proven(session, tracker)
            if verification_locked(tracker) or reference is None:
                dispatcher.utter_message(response="utter_verification_locked")
                return [*events, FollowupAction("action_offer_human")]
            ticket = ticket_service.get_ticket(session, reference)
            if ticket is not None:
                dispatcher.utter_message(
                    response="utter_ticket_status",
                    status=ticket_service.status_sentence(ticket),
                )
        return events


class ActionRecordFeedback(Action):
    """Stores feedback as a low-priority ticket so the team reads it."""

    def name(self) -> str:
        return "action_record_feedback"

    @apologise_on_failure
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        with session_scope() as session:
            ticket_service.open_ticket(
                session,
                ticket_service.TicketRequest(
                    channel=channel_of(tracker),
                    category=TicketCategory.FEEDBACK,
                    subject=_subject(text) or "Feedback",
                    description=text,
                    customer=verified_customer(session, tracker),
                    conversation_id=tracker.sender_id,
                ),
            )
        dispatcher.utter_message(response="utter_thanks_for_feedback")
        return []
