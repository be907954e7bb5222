"""Order status, cancellation, change and refund requests."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import validation
from actions.common import (
    apologise_on_failure,
    channel_of,
    channel_phone,
    now,
    reset_flow_slots,
    session_scope,
    today,
    transcript,
    verification_locked,
)
from actions.verification import VerifyingFormValidation
from bot.models import Channel, Order, OrderStatus, TicketCategory
from bot.services import notifications
from bot.services import orders as order_service
from bot.services.tickets import (
    TicketRequest,
    open_ticket,
    status_sentence,
    tickets_for_order,
)

REQUEST_CATEGORIES = {
    "cancel": TicketCategory.CANCELLATION,
    "change": TicketCategory.ORDER_CHANGE,
    "refund": TicketCategory.REFUND,
}


class ValidateOrderForm(VerifyingFormValidation):
    """Validates `order_form`: order number, verification, then request details."""

    subject = "order"
    key_slot = "order_number"
    verified_slot = "verified_order"

    def name(self) -> str:
        return "validate_order_form"

    def is_verified(
        self,
        session: Session,
        key: str,
        email: str | None,
        phone: str | None,
        customer_id: int | None = None,
    ) -> bool:
        order = order_service.find_verified_order(
            session, key, email=email, phone=phone, customer_id=customer_id
        )
        return order is not None

    def on_verified(self, session: Session, key: str) -> dict[str, Any]:
        order = order_service.get_order(session, key)
        cancellable = order is not None and order_service.can_cancel_directly(order)
        return {"order_cancellable": cancellable}

    def after_verification_slots(self, tracker: Tracker) -> list[str]:
        request = tracker.get_slot("order_request") or "status"
        if request in ("change", "refund"):
            return ["request_details"]
        if request == "cancel" and tracker.get_slot("order_cancellable"):
            return ["cancel_confirmed"]
        return []

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The order of the latest text we sent this phone, as the form starts.

        A customer answering an update ("where is it now?", "cancel it") means
        that order. Only the phone the SMS channel vouches for picks it, from the
        server's own record; an order number in the message wins.
        """
        if tracker.get_slot("requested_slot") or tracker.get_slot("order_number"):
            return {}
        if next(tracker.get_latest_entity_values("order_number"), None):
            return {}
        phone = channel_phone(tracker)
        if phone is None:
            return {}
        with session_scope() as session:
            number = notifications.last_notified_order(session, phone, now())
        return {"order_number": number} if number else {}

    def validate_order_number(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        return {"order_number": validation.order_number(value, dispatcher)}

    def validate_request_details(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(text) < 3:
            dispatcher.utter_message(response="utter_ask_request_details")
            return {"request_details": None}
        return {"request_details": text}


class ActionSubmitOrderForm(Action):
    """Answers or files the order request once the order is verified."""

    def name(self) -> str:
        return "action_submit_order_form"

    @apologise_on_failure
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = reset_flow_slots()
        request = tracker.get_slot("order_request") or "status"
        with session_scope() as session:
            number = ValidateOrderForm.proven(session, tracker)
            if verification_locked(tracker) or number is None:
                dispatcher.utter_message(response="utter_verification_locked")
                return [*events, FollowupAction("action_offer_human")]
            order = order_service.get_order(session, number)
            if order is None:  # deleted since verification
                dispatcher.utter_message(response="utter_order_number_not_verified")
                return events
            if request == "status":
                summary = order_service.summarise(order)
                dispatcher.utter_message(
                    response="utter_order_status",
                    status=summary.sentence(today()),
                    spoken=summary.sentence(today(), spoken=True),
                )
                if summary.tracking_url and channel_of(tracker) != Channel.VOICE:
                    dispatcher.utter_message(
                        response="utter_tracking_link", url=summary.tracking_url
                    )
                return events
            if request == "refund_status":
                dispatcher.utter_message(
                    response="utter_refund_status",
                    status=refund_status_sentence(session, order),
                )
                return events
            if request == "cancel" and order_service.can_cancel_directly(order):
                if tracker.get_slot("cancel_confirmed") and order_service.cancel_order(
                    session, order
                ):
                    dispatcher.utter_message(
                        response="utter_order_cancelled", number=number
                    )
                else:
                    dispatcher.utter_message(response="utter_order_kept", number=number)
                return events
            category = REQUEST_CATEGORIES.get(request, TicketCategory.ORDER_CHANGE)
            ticket = open_ticket(
                session,
                TicketRequest(
                    channel=channel_of(tracker),
                    category=category,
                    subject=f"{category.value.replace('_', ' ').capitalize()} request "
                    f"for order {number}",
                    description=tracker.get_slot("request_details")
                    or f"Customer asked to {request} order {number} "
                    f"(status: {order.status.value}).",
                    customer=order.customer,
                    order=order,
                    conversation_id=tracker.sender_id,
                    contact=order.customer.email,
                    transcript=transcript(tracker),
                ),
            )
            dispatcher.utter_message(
                response=f"utter_{request}_ticket_created",
                reference=ticket.reference,
                number=number,
                status=order.status.value.replace("_", " "),
            )
        return events


def refund_status_sentence(session: Session, order: Order) -> str:
    """Where the customer's refund for `order` stands."""
    requests = tickets_for_order(session, order, TicketCategory.REFUND)
    if requests:
        return status_sentence(requests[-1])
    if order.status == OrderStatus.RETURNED:
        return (
            f"We've received your return of order {order.number}. Refunds go back to "
            "your original payment method within 5 to 7 business days of receipt."
        )
    return (
        f"I don't see a refund request for order {order.number} yet. Just say "
        '"I want a refund" if you\'d like to ask for one.'
    )
