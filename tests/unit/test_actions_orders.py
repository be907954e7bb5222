import datetime as dt
from typing import Any

import pytest
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from actions.orders import ActionSubmitOrderForm, ValidateOrderForm
from bot import clock
from bot.models import OrderStatus, Ticket, TicketCategory
from bot.services.orders import get_order
from tests.unit.trackers import (
    load_domain,
    make_tracker,
    responses,
    slot_events,
    verify_order,
)

pytestmark = pytest.mark.usefixtures("db_scope")
DOMAIN = load_domain()


async def validate(**kwargs: Any) -> tuple[CollectingDispatcher, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateOrderForm().run(
        dispatcher, make_tracker(active_loop="order_form", **kwargs), DOMAIN
    )
    return dispatcher, slot_events(events)


async def test_order_number_and_matching_email_verify() -> None:
    dispatcher, slots = await validate(
        candidates={"order_number": "104257", "email": "jane.doe@example.com"}
    )
    assert slots["verified_order"] == "104257"
    assert slots["requested_slot"] is None  # status requests need nothing more
    assert responses(dispatcher) == []


async def test_spoken_order_number_is_normalised_then_email_asked() -> None:
    _, slots = await validate(candidates={"order_number": "one oh four two five seven"})
    assert slots["order_number"] == "104257"
    assert slots["requested_slot"] == "email"
    assert "verified_order" not in slots


async def test_invalid_order_number_reprompts() -> None:
    dispatcher, slots = await validate(candidates={"order_number": "my order"})
    assert slots["order_number"] is None
    assert slots["requested_slot"] == "order_number"
    assert responses(dispatcher) == ["utter_invalid_order_number"]


@pytest.mark.parametrize(
    ("number", "email"),
    [("104257", "sam.lee@example.com"), ("999999", "jane.doe@example.com")],
    ids=["wrong pair", "unknown number"],
)
async def test_wrong_pair_and_unknown_number_get_the_same_answer(
    number: str, email: str
) -> None:
    dispatcher, slots = await validate(
        slots={"verification_failures": 0.0},
        candidates={"order_number": number, "email": email},
    )
    assert responses(dispatcher) == ["utter_order_number_not_verified"]
    assert slots["verification_failures"] == 1.0
    assert slots["order_number"] is None and slots["email"] is None
    assert slots["requested_slot"] == "order_number"
    assert "verified_order" not in slots


async def fail(
    sender: str, failures: float, email: str = "wrong@example.com"
) -> tuple[CollectingDispatcher, dict[str, Any]]:
    return await validate(
        slots={"verification_failures": failures},
        candidates={"order_number": "104257", "email": email},
        sender_id=sender,
    )


async def test_third_failure_stops_asking() -> None:
    for attempt in (0.0, 1.0):
        _, slots = await fail("c-three", attempt)
        assert slots["verification_failures"] == attempt + 1
    dispatcher, slots = await fail("c-three", 2.0)
    assert slots["verification_failures"] == 3.0
    assert slots["requested_slot"] is None
    assert responses(dispatcher) == []  # the submit action explains and offers a person


async def test_locked_conversation_checks_nothing_even_with_the_right_pair() -> None:
    for attempt in (0.0, 1.0, 2.0):
        await fail("c-locked", attempt)
    _, slots = await fail("c-locked", 3.0, email="jane.doe@example.com")
    assert "verified_order" not in slots
    assert slots["requested_slot"] is None


async def test_a_reset_conversation_stays_locked() -> None:
    # `/restart` or a session timeout clears the slots, not the database.
    for attempt in (0.0, 1.0, 2.0):
        await fail("c-restart", attempt)
    _, slots = await fail("c-restart", 0.0, email="jane.doe@example.com")
    assert "verified_order" not in slots
    assert slots["verification_failures"] == 3.0


async def test_an_order_number_guessed_at_from_many_conversations_is_throttled() -> (
    None
):
    for n in range(5):
        await fail(f"c-spray-{n}", 0.0, email=f"guess{n}@example.com")
    dispatcher, slots = await fail("c-owner", 0.0, email="jane.doe@example.com")
    assert "verified_order" not in slots  # throttled: not even checked
    assert responses(dispatcher) == ["utter_order_number_not_verified"]


async def test_caller_phone_verifies_without_asking_email() -> None:
    _, slots = await validate(
        candidates={"order_number": "104257"}, phone="+14155550134"
    )
    assert slots["verified_order"] == "104257"
    assert slots["requested_slot"] is None


async def test_other_callers_phone_falls_back_to_email() -> None:
    _, slots = await validate(
        candidates={"order_number": "104257"}, phone="+14155550178"
    )
    assert "verified_order" not in slots
    assert slots["requested_slot"] == "email"


async def test_unsigned_phone_metadata_is_not_trusted() -> None:
    tracker = make_tracker(
        active_loop="order_form", candidates={"order_number": "104257"}
    )
    tracker.latest_message["metadata"] = {
        "switchboard_identity": {"channel": "sms", "phone": "+14155550134"}
    }
    events = await ValidateOrderForm().run(CollectingDispatcher(), tracker, DOMAIN)
    assert "verified_order" not in slot_events(events)


EMAILS = {"104257": "jane.doe@example.com", "112233": "sam.lee@example.com",
          "113377": "tom.obrien@example.com"}  # fmt: skip


async def submit(
    slots: dict[str, Any], *, verify: bool = True, sender_id: str = "conversation-1"
) -> tuple[CollectingDispatcher, list[Any]]:
    """Run the submit action; a `verified_order` slot was first earned by the form.

    With verify=False the slot is forged: sent without any verification.
    """
    number = slots.get("verified_order")
    if number and verify:
        await verify_order(number, EMAILS[number], sender_id)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots=slots, text="yes", intent="affirm", sender_id=sender_id
    )
    events = await ActionSubmitOrderForm().run(dispatcher, tracker, DOMAIN)
    return dispatcher, events


async def test_locked_submit_discloses_nothing_even_if_verified_earlier() -> None:
    dispatcher, events = await submit(
        {"order_number": "104257", "verified_order": "104257",
         "verification_failures": 3.0, "order_request": "status"}
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_verification_locked"]


async def test_status_answer_for_verified_order() -> None:
    dispatcher, events = await submit(
        {
            "order_number": "104257",
            "verified_order": "104257",
            "order_request": "status",
        }
    )
    assert responses(dispatcher) == ["utter_order_status", "utter_tracking_link"]
    status = dispatcher.messages[0]["status"]
    assert status.startswith("Your order 104257 has shipped.")
    assert "UPS" in status and "1Z999AA10123456784" in status and "We expect" in status
    assert SlotSet("order_number", None) in events


async def test_unverified_submit_discloses_nothing_and_offers_a_person() -> None:
    dispatcher, events = await submit(
        {"order_number": None, "verification_failures": 3.0, "order_request": "status"}
    )
    assert responses(dispatcher) == ["utter_verification_locked"]
    assert events[-1] == FollowupAction("action_offer_human")


async def test_placed_order_is_cancelled_after_confirmation(session: Session) -> None:
    dispatcher, _ = await submit(
        {"order_number": "112233", "verified_order": "112233",
         "order_request": "cancel", "cancel_confirmed": True}
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_order_cancelled"]
    order = get_order(session, "112233")
    assert order is not None and order.status == OrderStatus.CANCELLED


async def test_declined_cancellation_keeps_order(session: Session) -> None:
    dispatcher, _ = await submit(
        {"order_number": "112233", "verified_order": "112233",
         "order_request": "cancel", "cancel_confirmed": False}
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_order_kept"]
    order = get_order(session, "112233")
    assert order is not None and order.status == OrderStatus.PLACED


@pytest.mark.parametrize(
    ("request_kind", "category"),
    [("cancel", TicketCategory.CANCELLATION), ("change", TicketCategory.ORDER_CHANGE),
     ("refund", TicketCategory.REFUND)],
)  # fmt: skip
async def test_requests_on_shipped_orders_become_tickets(
    connection: Connection, request_kind: str, category: TicketCategory
) -> None:
    dispatcher, _ = await submit(
        {"order_number": "104257", "verified_order": "104257",
         "order_request": request_kind, "request_details": "please send it to my office"}
    )  # fmt: skip
    assert responses(dispatcher) == [f"utter_{request_kind}_ticket_created"]
    with Session(bind=connection) as session:
        ticket = session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
        assert ticket is not None
        assert ticket.category == category
        assert ticket.reference == dispatcher.messages[0]["reference"]
        assert ticket.order is not None and ticket.order.number == "104257"
        assert (
            ticket.customer is not None
            and ticket.customer.email == "jane.doe@example.com"
        )


async def test_refund_status_of_returned_order() -> None:
    dispatcher, _ = await submit(
        {"order_number": "113377", "verified_order": "113377",
         "order_request": "refund_status"}
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_refund_status"]
    assert "received your return of order 113377" in dispatcher.messages[0]["status"]


async def test_verified_cancel_of_placed_order_asks_confirmation() -> None:
    _, slots = await validate(
        slots={"order_request": "cancel"},
        candidates={"order_number": "112233", "email": "sam.lee@example.com"},
    )
    assert slots["order_cancellable"] is True
    assert slots["requested_slot"] == "cancel_confirmed"


async def fail_as(
    sender: str, *, phone: str | None = None, order: str = "104257"
) -> dict[str, Any]:
    _, slots = await validate(
        candidates={"order_number": order, "email": "wrong@example.com"},
        sender_id=sender,
        phone=phone,
    )
    return slots


async def test_one_texter_from_many_conversations_cannot_lock_out_the_customer() -> (
    None
):
    # The attack: wrong pairs against someone else's order from fresh conversations,
    # until the order is locked for an hour. One phone is one requester, however
    # many conversations it opens: it is stopped, the order is not locked.
    for n in range(4):
        for _ in range(2):
            await fail_as(f"c-attacker-{n}", phone="+14155550199")
    _, slots = await validate(
        candidates={"order_number": "104257", "email": "jane.doe@example.com"},
        sender_id="c-owner-web",
    )
    assert slots["verified_order"] == "104257"


async def test_a_requester_over_its_limit_is_refused_even_with_the_right_pair() -> None:
    for n in range(3):
        await fail_as(f"c-guesser-{n}", phone="+14155550199")
    _, slots = await validate(
        candidates={"order_number": "104257", "email": "jane.doe@example.com"},
        sender_id="c-guesser-new",
        phone="+14155550199",
    )
    assert "verified_order" not in slots  # its own limit: nothing more is checked


async def test_a_locked_order_still_verifies_the_customers_own_phone() -> None:
    # Conversations are free on the REST channel: five of them do lock the typed
    # email path of an order, but not a proof an attacker cannot forge.
    for n in range(5):
        await fail_as(f"c-rest-{n}")
    _, slots = await validate(
        candidates={"order_number": "104257", "email": "jane.doe@example.com"},
        sender_id="c-owner-web",
    )
    assert "verified_order" not in slots
    _, slots = await validate(
        candidates={"order_number": "104257"},
        sender_id="c-owner-sms",
        phone="+14155550134",
    )
    assert slots["verified_order"] == "104257"


# --- A verified_order slot proves nothing without the form's record (issue 8, 1) ---


def disclosed(dispatcher: CollectingDispatcher) -> str:
    return " ".join(str(message) for message in dispatcher.messages)


@pytest.mark.parametrize("request_kind", ["status", "refund_status", "change"])
async def test_a_forged_verified_order_discloses_nothing(
    connection: Connection, request_kind: str
) -> None:
    dispatcher, events = await submit(
        {"order_number": "104257", "verified_order": "104257",
         "order_request": request_kind, "request_details": "to my office please"},
        verify=False,
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_verification_locked"]
    assert events[-1] == FollowupAction("action_offer_human")
    assert "1Z999AA10123456784" not in disclosed(dispatcher)
    assert "UPS" not in disclosed(dispatcher)
    with Session(bind=connection) as session:
        assert session.scalars(select(Ticket)).all() == []  # no ticket filed either


async def test_a_forged_verified_order_cancels_nothing(session: Session) -> None:
    dispatcher, _ = await submit(
        {"order_number": "112233", "verified_order": "112233",
         "order_request": "cancel", "cancel_confirmed": True},
        verify=False,
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_verification_locked"]
    order = get_order(session, "112233")
    assert order is not None and order.status == OrderStatus.PLACED


async def test_a_verification_counts_only_in_its_own_conversation() -> None:
    await verify_order("104257", "jane.doe@example.com", sender_id="jane")
    dispatcher, _ = await submit(
        {"order_number": "104257", "verified_order": "104257",
         "order_request": "status"},
        verify=False,
        sender_id="someone-else",
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_verification_locked"]


async def test_a_verification_expires() -> None:
    await verify_order("104257", "jane.doe@example.com")
    slots = {"order_number": "104257", "verified_order": "104257",
             "order_request": "status"}  # fmt: skip
    # VERIFICATION_TTL_MINUTES is 60, like Rasa's session.
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=59)):
        dispatcher, _ = await submit(slots, verify=False)
    assert responses(dispatcher) == ["utter_order_status", "utter_tracking_link"]
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=61)):
        dispatcher, _ = await submit(slots, verify=False)
    assert responses(dispatcher) == ["utter_verification_locked"]


async def test_the_form_asks_for_the_email_when_the_slot_is_forged() -> None:
    dispatcher, slots = await validate(
        slots={"order_number": "104257", "verified_order": "104257"}
    )
    assert slots["requested_slot"] == "email"
    assert responses(dispatcher) == []
