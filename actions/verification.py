"""Forms that disclose personal data only after a second identifier matches."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import validation
from actions.common import (
    apologise_on_failure,
    channel_phone,
    failures,
    session_scope,
    settings,
)


class VerifyingFormValidation(FormValidationAction, ABC):
    """Asks for a key (order number, ticket reference) and verifies it.

    The key is verified against the phone the customer is texting or calling from,
    or else the email on the account. Unknown keys and wrong pairs get the same
    answer, and failed attempts are counted per conversation.
    """

    key_slot: str = ""
    verified_slot: str = ""

    @abstractmethod
    def name(self) -> str:
        """Name of the validation action."""

    @abstractmethod
    def is_verified(
        self, session: Session, key: str, email: str | None, phone: str | None
    ) -> bool:
        """True when `key` belongs to the customer with this email or phone."""

    @apologise_on_failure
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return await super().run(dispatcher, tracker, domain)

    def on_verified(self, session: Session, key: str) -> dict[str, Any]:
        """Extra slots to set once verified."""
        return {}

    def verified(self, tracker: Tracker) -> bool:
        key = tracker.get_slot(self.key_slot)
        return key is not None and tracker.get_slot(self.verified_slot) == key

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if failures(tracker) >= settings().max_verification_attempts:
            return []
        if not self.verified(tracker):
            return [self.key_slot, "email"]
        return [self.key_slot, *self.after_verification_slots(tracker)]

    def after_verification_slots(self, tracker: Tracker) -> list[str]:
        """Slots to ask for once the key is verified."""
        return []

    def validate_email(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        return {"email": validation.email(value, dispatcher)}

    async def get_validation_events(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        tracker.add_slots(events)
        return events + self._verify(dispatcher, tracker)

    def _verify(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        key = tracker.get_slot(self.key_slot)
        if not key or self.verified(tracker):
            return []
        email = tracker.get_slot("email")
        phone = channel_phone(tracker)
        with session_scope() as session:
            if phone and self.is_verified(session, key, None, phone):
                return self._success(session, key)
            if not email:
                return []  # ask for the email next
            if self.is_verified(session, key, email, None):
                return self._success(session, key)
        attempts = failures(tracker) + 1
        if attempts < settings().max_verification_attempts:
            dispatcher.utter_message(response=f"utter_{self.key_slot}_not_verified")
        return [
            SlotSet("verification_failures", float(attempts)),
            SlotSet(self.key_slot, None),
            SlotSet("email", None),
        ]

    def _success(self, session: Session, key: str) -> list[EventType]:
        slots = {self.verified_slot: key, **self.on_verified(session, key)}
        return [SlotSet(name, value) for name, value in slots.items()]
