"""Registering a new customer: name, email, optional phone, confirmation."""

from __future__ import annotations

import asyncio
from typing import Any

import requests
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from twilio.base.exceptions import TwilioException

from actions import validation
from actions.common import (
    SafeFormValidation,
    apologise_on_failure,
    channel_of,
    channel_phone,
    logger,
    reset_flow_slots,
    session_scope,
    settings,
)
from bot.models import Channel
from bot.services.contact import InvalidContact
from bot.services.customers import (
    CustomerExists,
    NewCustomer,
    conflict_field,
    register_customer,
)
from bot.twilio_client import OptedOut, TwilioClient

SKIP = "skip"


class ValidateRegistrationForm(SafeFormValidation):
    """Validates `registration_form`."""

    def name(self) -> str:
        return "validate_registration_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("registration_blocked") or by_phone_call(tracker):
            return []  # callers get a link by SMS instead of spelling an email aloud
        return ["name", "reg_email", "phone", "registration_confirmed"]

    def validate_name(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        return {"name": validation.person_name(value, dispatcher)}

    def validate_reg_email(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        email = validation.email(value, dispatcher)
        if email is None:
            return {"reg_email": None}
        return self._refuse_if_taken(dispatcher, "reg_email", email, email=email)

    def validate_phone(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if str(value).strip().lower() in {SKIP, "none", "no", "skip it", "n/a"}:
            return {"phone": SKIP}
        phone = validation.phone(value, dispatcher)
        if phone is None:
            return {"phone": None}
        return self._refuse_if_taken(dispatcher, "phone", phone, phone=phone)

    def _refuse_if_taken(
        self,
        dispatcher: CollectingDispatcher,
        slot: str,
        value: str,
        email: str | None = None,
        phone: str | None = None,
    ) -> dict[str, Any]:
        with session_scope() as session:
            taken = conflict_field(session, email, phone)
        if taken is None:
            return {slot: value}
        dispatcher.utter_message(
            response="utter_account_exists",
            field=taken,
            reset_url=settings().password_reset_url,
        )
        return {slot: None, "registration_blocked": True}


class ActionAskRegistrationConfirmed(Action):
    """Reads the collected details back before creating the account."""

    def name(self) -> str:
        return "action_ask_registration_form_registration_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        phone = tracker.get_slot("phone")
        dispatcher.utter_message(
            response="utter_confirm_registration",
            name=tracker.get_slot("name"),
            email=tracker.get_slot("reg_email"),
            phone="none" if phone in (None, SKIP) else phone,
        )
        return []


class ActionSubmitRegistrationForm(Action):
    """Creates the customer once the details are confirmed."""

    def name(self) -> str:
        return "action_submit_registration_form"

    @apologise_on_failure
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = reset_flow_slots()
        if by_phone_call(tracker):
            await text_registration_link(dispatcher, tracker)
            return events
        if tracker.get_slot("registration_blocked"):
            return events
        if not tracker.get_slot("registration_confirmed"):
            dispatcher.utter_message(response="utter_registration_cancelled")
            return events
        phone = tracker.get_slot("phone")
        new = NewCustomer(
            name=tracker.get_slot("name"),
            email=tracker.get_slot("reg_email"),
            phone=None if phone in (None, SKIP) else phone,
        )
        try:
            with session_scope() as session:
                customer = register_customer(
                    session, new, settings().default_phone_region
                )
                name = customer.name
        except CustomerExists as exc:
            # Someone registered the same details between validation and now.
            dispatcher.utter_message(
                response="utter_account_exists",
                field=exc.field,
                reset_url=settings().password_reset_url,
            )
            return events
        except InvalidContact:
            dispatcher.utter_message(response="utter_invalid_email")
            return events
        dispatcher.utter_message(response="utter_registered", name=name)
        return events


def by_phone_call(tracker: Tracker) -> bool:
    return channel_of(tracker) == Channel.VOICE


async def text_registration_link(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> None:
    """Send the caller an SMS with the registration link."""
    phone = channel_phone(tracker)
    if phone is None:
        dispatcher.utter_message(response="utter_registration_link_failed")
        return
    client = TwilioClient.from_settings(settings())
    body = (
        f"Create your Switchboard demo shop account here: {settings().registration_url}"
    )

    def send() -> None:
        with session_scope() as session:
            client.send_sms(session, phone, body)

    try:
        # In a thread: the action server's event loop must not wait on Twilio.
        await asyncio.to_thread(send)
    except (OptedOut, TwilioException, requests.RequestException):
        logger.exception("could not text the registration link")
        dispatcher.utter_message(response="utter_registration_link_failed")
        return
    dispatcher.utter_message(response="utter_registration_link_sent")
