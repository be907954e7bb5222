"""Forms that disclose personal data only after a second identifier matches."""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import validation
from actions.common import (
    SafeFormValidation,
    identity,
    limits,
    now,
    session_scope,
    settings,
    verification_locked,
)
from bot.models import Customer
from bot.services import verification as attempts


class VerifyingFormValidation(SafeFormValidation):
    """Asks for a key (order number, ticket reference) and verifies it.

    The key is verified against the phone the customer is texting or calling from,
    or else the email on the account. Unknown keys and wrong pairs get the same
    answer. Failed attempts are counted in the database (per conversation, per key
    and per identifier); once a limit is reached nothing more is checked. A success
    is recorded in the database for this conversation, and only that record (not
    the `verified_slot`, which any caller could set) lets an action disclose.
    """

    subject: str = ""
    key_slot: str = ""
    verified_slot: str = ""

    @abstractmethod
    def name(self) -> str:
        """Name of the validation action."""

    @abstractmethod
    def is_verified(
        self,
        session: Session,
        key: str,
        email: str | None,
        phone: str | None,
        customer_id: int | None = None,
    ) -> bool:
        """True when `key` belongs to the customer with this email, phone or id."""

    def on_verified(self, session: Session, key: str) -> dict[str, Any]:
        """Extra slots to set once verified."""
        return {}

    @classmethod
    def proven(cls, session: Session, tracker: Tracker) -> str | None:
        """The key this conversation verified, if its record in the database agrees."""
        key = tracker.get_slot(cls.key_slot)
        if not key or tracker.get_slot(cls.verified_slot) != key:
            return None
        if not attempts.is_verified(
            session, tracker.sender_id, cls.subject, key, now()
        ):
            return None
        return str(key)

    def verified(self, tracker: Tracker) -> bool:
        key = tracker.get_slot(self.key_slot)
        if key is None or tracker.get_slot(self.verified_slot) != key:
            return False  # the usual case, without a query
        with session_scope() as session:
            return self.proven(session, tracker) is not None

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if verification_locked(tracker):
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
        conversation = tracker.sender_id
        with session_scope() as session:
            if verification_locked(tracker) or attempts.conversation_locked(
                session, conversation, limits()
            ):
                return self._locked_events()
            vouched = identity(tracker)
            phone = vouched.phone if vouched else None
            if phone and self.is_verified(session, key, None, phone):
                self._record(session, key, phone, conversation, succeeded=True)
                return self._success(session, key, phone, conversation)
            customer_id = vouched.customer_id if vouched else None
            if customer_id is not None and self.is_verified(
                session, key, None, None, customer_id
            ):
                customer = session.get(Customer, customer_id)
                contact = customer.email if customer else f"customer:{customer_id}"
                self._record(session, key, contact, conversation, succeeded=True)
                return self._success(session, key, contact, conversation)
            email = tracker.get_slot("email")
            if not email:
                return []  # ask for the email next
            requester = attempts.requester_of(conversation, phone, customer_id)
            # A throttled key or email is not even checked: same answer as a mismatch.
            refused = attempts.throttled(
                session, key, email, limits(), requester=requester
            )
            ok = not refused and self.is_verified(session, key, email, None)
            self._record(
                session,
                key,
                email,
                conversation,
                succeeded=ok,
                requester=requester,
                throttled=refused,
            )
            if ok:
                return self._success(session, key, email, conversation)
            failed = attempts.conversation_failures(session, conversation)
        if failed < limits().per_conversation:
            dispatcher.utter_message(response=f"utter_{self.key_slot}_not_verified")
        return [
            SlotSet("verification_failures", float(failed)),
            SlotSet(self.key_slot, None),
            SlotSet("email", None),
        ]

    def _record(
        self,
        session: Session,
        key: str,
        identifier: str,
        conversation: str,
        succeeded: bool,
        requester: str | None = None,
        throttled: bool = False,
    ) -> None:
        attempts.record_attempt(
            session,
            subject=self.subject,
            key=key,
            identifier=identifier,
            conversation_id=conversation,
            succeeded=succeeded,
            requester=requester,
            throttled=throttled,
        )

    def _locked_events(self) -> list[EventType]:
        return [
            SlotSet("verification_failures", float(limits().per_conversation)),
            SlotSet(self.key_slot, None),
            SlotSet("email", None),
        ]

    def _success(
        self, session: Session, key: str, identifier: str, conversation: str
    ) -> list[EventType]:
        attempts.record_verification(
            session,
            conversation_id=conversation,
            subject=self.subject,
            key=key,
            identifier=identifier,
            valid_for=verified_for(),
            now=now(),
        )
        slots = {
            self.verified_slot: key,
            "verified_contact": identifier,
            **self.on_verified(session, key),
        }
        return [SlotSet(name, value) for name, value in slots.items()]


def verified_for() -> dt.timedelta:
    """How long a verification counts in its conversation (`VERIFICATION_TTL_MINUTES`)."""
    return dt.timedelta(minutes=settings().verification_ttl_minutes)
