"""Slot validators shared by several forms."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import settings
from bot.nlu.normalise import extract
from bot.services.contact import InvalidContact, normalise_email, normalise_phone
from bot.services.orders import normalise_order_number
from bot.services.tickets import normalise_reference


def _first_entity(text: str, entity: str) -> str | None:
    for found in extract(text, settings().default_phone_region):
        if found.entity == entity:
            return found.value
    return None


NEGATIVE_WORDS = frozenset(
    {"no", "not", "none", "nope", "nah", "nothing", "isn't", "isnt", "doesn't", "n't"}
)


def says_no(text: Any) -> bool:
    """True for a free-text "no" without any number: "No, it's not about an order".

    The intent classifier may call such an answer `inform`; a form question that
    accepts "no" should still take it as one.
    """
    if not isinstance(text, str) or any(c.isdigit() for c in text):
        return False
    words = re.findall(r"[a-z']+", text.lower().replace("’", "'"))
    return any(w in NEGATIVE_WORDS or w.endswith("n't") for w in words)


def order_number(value: Any, dispatcher: CollectingDispatcher) -> str | None:
    """A 6-digit order number from a slot value or free text, else a reprompt."""
    text = str(value or "")
    number = normalise_order_number(text) or _first_entity(text, "order_number")
    if number is None:
        dispatcher.utter_message(response="utter_invalid_order_number")
    return number


def email(value: Any, dispatcher: CollectingDispatcher) -> str | None:
    """A valid email from a slot value or free text, else a reprompt."""
    text = str(value or "")
    candidate = _first_entity(text, "email") or text
    try:
        return normalise_email(candidate)
    except InvalidContact:
        dispatcher.utter_message(response="utter_invalid_email")
        return None


def phone(value: Any, dispatcher: CollectingDispatcher) -> str | None:
    """A valid phone number in E.164 from a slot value or free text, else a reprompt."""
    text = str(value or "")
    region = settings().default_phone_region
    candidate = _first_entity(text, "phone") or text
    try:
        return normalise_phone(candidate, region)
    except InvalidContact:
        dispatcher.utter_message(response="utter_invalid_phone")
        return None


def ticket_reference(value: Any, dispatcher: CollectingDispatcher) -> str | None:
    """A canonical ticket reference, else a reprompt."""
    text = str(value or "")
    reference = normalise_reference(text) or _first_entity(text, "ticket_reference")
    if reference is None:
        dispatcher.utter_message(response="utter_invalid_ticket_reference")
    return reference


_NAME_PREFIX = re.compile(
    r"^(hi|hello|hey)?[\s,]*(my name is|my name's|i am|i'm|im|it's|its|this is|call me)\s+",
    re.IGNORECASE,
)


def person_name(value: Any, dispatcher: CollectingDispatcher) -> str | None:
    """A plausible full name ("my name is jane doe" -> "Jane Doe"), else a reprompt."""
    text = _NAME_PREFIX.sub("", str(value or "").strip()).strip(" .!,")
    if not (2 <= len(text) <= 100) or re.search(r"[\d@#$%^*_=+<>/\\]", text):
        dispatcher.utter_message(response="utter_invalid_name")
        return None
    if text.islower() or text.isupper():
        text = " ".join(part.capitalize() for part in text.split())
    return " ".join(text.split())


_NAME_WORDS = re.compile(
    r"[^\W\d_]+(?:['’-][^\W\d_]+)*(?: [^\W\d_]+(?:['’-][^\W\d_]+)*){0,3}"
)


def whole_name(value: Any, message: str | None) -> Any:
    """The whole answer when it is only a name that contains the extracted one.

    Asked for their name, a customer who answers "Grace Hopper" means all of it, even
    when the entity model picked out only "Grace".
    """
    if not isinstance(value, str) or not message:
        return value
    answer = _NAME_PREFIX.sub("", message.strip()).strip(" .!,")
    if _NAME_WORDS.fullmatch(answer) and value.strip().lower() in answer.lower():
        return answer
    return value


def latest_intent(tracker: Tracker) -> str | None:
    """Name of the intent of the latest user message."""
    return (tracker.latest_message.get("intent") or {}).get("name")
