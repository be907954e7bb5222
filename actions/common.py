"""What every action needs: database sessions, the caller's identity, the transcript."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import clock
from bot.db import session_factory
from bot.identity import ChannelIdentity, verify_identity
from bot.models import Channel, Sender
from bot.services.tickets import TranscriptLine
from bot.services.verification import Limits
from bot.settings import Settings

logger = logging.getLogger(__name__)

SessionScope = Callable[[], AbstractContextManager[Session]]
Run = Callable[
    [Any, CollectingDispatcher, Tracker, DomainDict], Awaitable[list[EventType]]
]

_scope_override: SessionScope | None = None


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Settings of this action server process."""
    return Settings.from_env()


def session_scope() -> AbstractContextManager[Session]:
    """A short-lived session, committed on success and rolled back on error."""
    if _scope_override is not None:
        return _scope_override()
    return session_factory(settings().database_url).begin()


def use_session_scope(scope: SessionScope | None) -> None:
    """Point actions at another database (tests); None restores the default."""
    global _scope_override
    _scope_override = scope


def now() -> dt.datetime:
    """The current time (UTC), from `bot.clock` (tests set it there)."""
    return clock.now()


def today() -> dt.date:
    """Today's date in the shop's time zone."""
    return clock.today(settings().timezone)


def identity(tracker: Tracker) -> ChannelIdentity | None:
    """What the customer's channel vouches for (signed), if anything."""
    metadata: Any = (
        tracker.latest_message.get("metadata") if tracker.latest_message else None
    )
    return verify_identity(metadata, settings().secret_key, tracker.sender_id)


def channel_phone(tracker: Tracker) -> str | None:
    """The phone number the customer is texting or calling from, if vouched for."""
    found = identity(tracker)
    return found.phone if found else None


def channel_of(tracker: Tracker) -> Channel:
    """Ticket channel of this conversation."""
    found = identity(tracker)
    if found and found.channel in {c.value for c in Channel}:
        return Channel(found.channel)
    return Channel.WEB


def transcript(tracker: Tracker) -> tuple[TranscriptLine, ...]:
    """Every customer and bot message of the conversation so far."""
    return transcript_lines(tracker.events)


def transcript_lines(events: Iterable[dict[str, Any]]) -> tuple[TranscriptLine, ...]:
    """The customer and bot messages among tracker `events`."""
    lines = []
    for event in events:
        text = event.get("text")
        if not text:
            continue
        if event.get("event") == "user":
            lines.append(TranscriptLine(Sender.CUSTOMER, text))
        elif event.get("event") == "bot":
            lines.append(TranscriptLine(Sender.BOT, text))
    return tuple(lines)


def failures(tracker: Tracker) -> int:
    """Failed verification attempts in this conversation (mirrored from the database)."""
    return int(tracker.get_slot("verification_failures") or 0)


def verification_locked(tracker: Tracker) -> bool:
    """True once the customer failed verification too often in this conversation."""
    return failures(tracker) >= settings().max_verification_attempts


def limits() -> Limits:
    """Verification limits from settings."""
    config = settings()
    return Limits(
        per_conversation=config.max_verification_attempts,
        per_key=config.max_attempts_per_key,
        per_identifier=config.max_attempts_per_identifier,
        window=dt.timedelta(minutes=config.attempt_window_minutes),
    )


# Slots of a flow, cleared when it ends or is abandoned, so nothing leaks into the next.
FLOW_SLOTS = (
    "order_number", "email", "request_details", "cancel_confirmed",
    "order_cancellable", "verified_order", "ticket_reference", "verified_ticket",
    "name", "reg_email", "phone", "registration_confirmed",
    "problem_description", "problem_order_number", "contact",
)  # fmt: skip


def reset_flow_slots() -> list[EventType]:
    """SlotSet events clearing every flow slot."""
    return [SlotSet(slot, None) for slot in FLOW_SLOTS]


def apologise_on_failure(run: Run) -> Run:
    """Turn a database failure into an apology instead of a silent bot.

    Nothing is lost: the customer's message stays in the tracker store and the
    question is asked again on the next turn.
    """

    @functools.wraps(run)
    async def wrapper(
        self: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[EventType]:
        try:
            return await run(self, dispatcher, tracker, domain)
        except SQLAlchemyError:
            logger.exception("database error in %s", self.name())
            dispatcher.messages.clear()
            dispatcher.utter_message(response="utter_technical_problem")
            return []

    return wrapper


class SafeFormValidation(FormValidationAction, ABC):
    """A form validation that survives database failures.

    The customer gets an apology, the values just extracted are cleared (so nothing
    unvalidated stays in the form) and the same question is asked again.
    """

    @abstractmethod
    def name(self) -> str:
        """Name of the validation action."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        candidates = list(tracker.slots_to_validate())
        try:
            return await super().run(dispatcher, tracker, domain)
        except SQLAlchemyError:
            logger.exception("database error in %s", self.name())
            dispatcher.messages.clear()
            dispatcher.utter_message(response="utter_technical_problem")
            ask = tracker.get_slot("requested_slot") or next(iter(candidates), None)
            return [
                *(SlotSet(slot, None) for slot in candidates),
                SlotSet("requested_slot", ask),
            ]
