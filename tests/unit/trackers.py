"""Build rasa-sdk trackers for action tests."""

from __future__ import annotations

from typing import Any

import yaml
from rasa_sdk import Tracker

from bot.identity import ChannelIdentity, sign_identity
from bot.settings import PROJECT_ROOT


def load_domain() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())


def make_tracker(
    *,
    slots: dict[str, Any] | None = None,
    candidates: dict[str, Any] | None = None,
    text: str = "",
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    phone: str | None = None,
    channel: str = "sms",
    events: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    sender_id: str = "conversation-1",
) -> Tracker:
    """A tracker whose latest user message and slot candidates are given.

    `candidates` are the slots the form just extracted (validated by form actions).
    `phone` adds a channel identity signed with the test secret.
    """
    metadata = (
        sign_identity(
            ChannelIdentity(channel=channel, phone=phone), "test-secret", sender_id
        )
        if phone
        else {}
    )
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "entities": entities or [],
        "metadata": metadata,
    }
    all_events = list(events or [])
    all_events.append({"event": "user", "text": text, "parse_data": latest})
    for name, value in (candidates or {}).items():
        all_events.append({"event": "slot", "name": name, "value": value})
    merged = {**(slots or {}), **(candidates or {})}
    loop = {"name": active_loop} if active_loop else {}
    return Tracker(sender_id, merged, latest, all_events, False, None, loop, None)


async def verify_order(
    number: str, email: str, sender_id: str = "conversation-1"
) -> dict[str, Any]:
    """Verify `number` with `email` through the order form, as a customer would.

    The form records the verification for `sender_id` in the database; the slots it
    returns are what Rasa would send along afterwards.
    """
    from rasa_sdk.executor import CollectingDispatcher

    from actions.orders import ValidateOrderForm

    tracker = make_tracker(
        candidates={"order_number": number, "email": email},
        active_loop="order_form",
        sender_id=sender_id,
    )
    events = await ValidateOrderForm().run(
        CollectingDispatcher(), tracker, load_domain()
    )
    slots = slot_events(events)
    assert slots["verified_order"] == number
    return slots


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """{slot: value} of the SlotSet events in an action's result."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def responses(dispatcher: Any) -> list[str | None]:
    """Names of the responses an action sent."""
    return [m.get("response") for m in dispatcher.messages]


def next_slot(form: str, slots: dict[str, Any], events: dict[str, Any]) -> str | None:
    """The slot the form asks for next.

    rasa-sdk leaves this to Rasa (no `requested_slot` event) when the form's required
    slots are the domain's; Rasa then asks for the first empty one.
    """
    if "requested_slot" in events:
        return events["requested_slot"]
    merged = {**slots, **events}
    required = load_domain()["forms"][form]["required_slots"]
    return next((slot for slot in required if merged.get(slot) is None), None)
