"""Registering a new customer: name, email, optional phone, then a link by email.

The answer is the same whether or not the email already has an account; the
account exists only once the mailed link is opened (bot/services/registration.py).
"""

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
from bot.services.customers import NewCustomer
from bot.services.messaging import OptedOut, send_text
from bot.services.registration import (
    Links,
    RegistrationThrottled,
    start_registration,
)
from bot.twilio_client import TwilioClient

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
        if by_phone_call(tracker):
            return []  # callers get a link by SMS instead of spelling an email aloud
        return ["name", "reg_email", "phone", "registration_confirmed"]

    def validate_name(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        answer = validation.whole_name(value, tracker.latest_message.get("text"))
        return {"name": validation.person_name(answer, dispatcher)}

    def validate_reg_email(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        # Whether the address has an account is never said: the mail tells its owner.
        return {"reg_email": validation.email(value, dispatcher)}

    def validate_phone(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if str(value).strip().lower() in {SKIP, "none", "no", "skip it", "n/a"}:
            return {"phone": SKIP}
        return {"phone": validation.phone(value, dispatcher)}


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
        if not tracker.get_slot("registration_confirmed"):
            dispatcher.utter_message(response="utter_registration_cancelled")
            return events
        phone = tracker.get_slot("phone")
        email = tracker.get_slot("reg_email")
        new = NewCustomer(
            name=tracker.get_slot("name"),
            email=email,
            phone=None if phone in (None, SKIP) else phone,
        )
        config = settings()
        links = Links(
            secret=config.secret_key,
            confirm_url=config.registration_confirm_url,
            reset_url=config.password_reset_url,
        )
        try:
            with session_scope() as session:
                start_registration(
                    session,
                    new,
                    conversation_id=tracker.sender_id,
                    vouched_phone=channel_phone(tracker),
                    links=links,
                    region=config.default_phone_region,
                )
        except RegistrationThrottled:
            dispatcher.utter_message(response="utter_registration_throttled")
            return events
        except InvalidContact:
            dispatcher.utter_message(response="utter_invalid_email")
            return events
        dispatcher.utter_message(
            response="utter_registration_link_mailed", name=new.name, email=email
        )
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
            send_text(session, client, phone, body)

    try:
        # In a thread: the action server's event loop must not wait on Twilio.
        await asyncio.to_thread(send)
    except (OptedOut, TwilioException, requests.RequestException):
        logger.exception("could not text the registration link")
        dispatcher.utter_message(response="utter_registration_link_failed")
        return
    dispatcher.utter_message(response="utter_registration_link_sent")
