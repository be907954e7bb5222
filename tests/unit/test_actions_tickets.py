import pytest
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from actions.tickets import (
    ActionRecordFeedback,
    ActionSubmitProblemForm,
    ActionSubmitTicketStatusForm,
    ValidateProblemForm,
    ValidateTicketStatusForm,
)
from bot.models import Channel, Sender, Ticket, TicketCategory
from tests.unit.trackers import (
    load_domain,
    make_tracker,
    next_slot,
    responses,
    slot_events,
    verify_order,
)

pytestmark = pytest.mark.usefixtures("db_scope")
DOMAIN = load_domain()

CONVERSATION = [
    {"event": "user", "text": "my lamp arrived broken"},
    {"event": "action", "name": "problem_form"},
    {"event": "bot", "text": "I'm sorry to hear that. What went wrong?"},
]


def latest_ticket(connection: Connection) -> Ticket:
    session = Session(bind=connection)
    ticket = session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
    assert ticket is not None
    return ticket


async def test_detailed_first_message_is_the_description() -> None:
    text = "the lamp from order 104257 arrived with a cracked shade"
    events = await ValidateProblemForm().run(
        CollectingDispatcher(),
        make_tracker(text=text, intent="report_problem", active_loop="problem_form",
                     candidates={"order_number": "104257"}),
        DOMAIN,
    )  # fmt: skip
    slots = slot_events(events)
    assert slots["problem_description"] == text
    assert slots["requested_slot"] == "contact"  # order known, contact not yet


async def test_short_first_message_asks_what_went_wrong() -> None:
    tracker = make_tracker(
        text="i have a problem", intent="report_problem", active_loop="problem_form"
    )
    events = await ValidateProblemForm().run(CollectingDispatcher(), tracker, DOMAIN)
    slots = slot_events(events)
    assert "problem_description" not in slots
    assert next_slot("problem_form", tracker.slots, slots) == "problem_description"


@pytest.mark.parametrize(
    ("said", "expected"),
    [("me@example.com", "me@example.com"), ("415 555 0199", "+14155550199"),
     ("no idea", None)],
)  # fmt: skip
async def test_contact_accepts_email_or_phone(said: str, expected: str | None) -> None:
    dispatcher = CollectingDispatcher()
    events = await ValidateProblemForm().run(
        dispatcher,
        make_tracker(slots={"problem_description": "broken", "problem_order_number": "none"},
                     candidates={"contact": said}, active_loop="problem_form"),
        DOMAIN,
    )  # fmt: skip
    assert slot_events(events)["contact"] == expected
    assert responses(dispatcher) == ([] if expected else ["utter_invalid_contact"])


async def test_problem_ticket_has_reference_order_contact_and_transcript(
    connection: Connection,
) -> None:
    dispatcher = CollectingDispatcher()
    # Jane proved who she is earlier in the conversation (an order verification).
    await verify_order("104257", "jane.doe@example.com")
    slots = {"problem_description": "The shade is cracked", "order_number": "104257",
             "verified_contact": "jane.doe@example.com"}  # fmt: skip
    await ActionSubmitProblemForm().run(
        dispatcher,
        make_tracker(slots=slots, events=CONVERSATION, text="jane.doe@example.com"),
        DOMAIN,
    )
    ticket = latest_ticket(connection)
    assert responses(dispatcher) == ["utter_ticket_created"]
    assert dispatcher.messages[0]["reference"] == ticket.reference
    assert ticket.category == TicketCategory.PROBLEM
    assert ticket.order is not None and ticket.order.number == "104257"
    assert (
        ticket.customer is not None and ticket.customer.email == "jane.doe@example.com"
    )
    assert ticket.conversation_id == "conversation-1"
    assert [(m.sender, m.text) for m in ticket.messages] == [
        (Sender.CUSTOMER, "my lamp arrived broken"),
        (Sender.BOT, "I'm sorry to hear that. What went wrong?"),
        (Sender.CUSTOMER, "jane.doe@example.com"),
    ]


async def test_typed_contact_and_order_number_are_not_trusted(
    connection: Connection,
) -> None:
    # Anyone can type Jane's email and order number: the ticket must not be filed
    # under her account or her order, but the agent still sees what was said.
    await ActionSubmitProblemForm().run(
        CollectingDispatcher(),
        make_tracker(slots={"problem_description": "Broken lamp",
                            "order_number": "104257",
                            "contact": "jane.doe@example.com"}),
        DOMAIN,
    )  # fmt: skip
    ticket = latest_ticket(connection)
    assert ticket.customer is None and ticket.order is None
    assert ticket.contact == "jane.doe@example.com"
    assert ticket.subject == "Broken lamp"
    assert "Order number given (not verified): 104257" in ticket.description


async def test_sms_ticket_records_channel_and_caller(connection: Connection) -> None:
    await ActionSubmitProblemForm().run(
        CollectingDispatcher(),
        make_tracker(slots={"problem_description": "Payment failed twice",
                            "problem_order_number": "none"}, phone="+14155550178"),
        DOMAIN,
    )  # fmt: skip
    ticket = latest_ticket(connection)
    assert ticket.channel == Channel.SMS
    assert ticket.contact == "+14155550178"
    assert ticket.customer is not None and ticket.customer.name == "Sam Lee"
    assert ticket.order is None


async def make_ticket(connection: Connection) -> str:
    """Jane's problem ticket, opened after she verified an order."""
    await verify_order("104257", "jane.doe@example.com")
    dispatcher = CollectingDispatcher()
    await ActionSubmitProblemForm().run(
        dispatcher,
        make_tracker(slots={"problem_description": "Wrong size", "order_number": "104257",
                            "verified_contact": "jane.doe@example.com"}),
        DOMAIN,
    )  # fmt: skip
    return str(dispatcher.messages[0]["reference"])


async def test_ticket_status_after_verification(connection: Connection) -> None:
    reference = await make_ticket(connection)
    dispatcher = CollectingDispatcher()
    events = await ValidateTicketStatusForm().run(
        dispatcher,
        make_tracker(candidates={"ticket_reference": reference.lower().replace("-", ""),
                                 "email": "jane.doe@example.com"},
                     active_loop="ticket_status_form"),
        DOMAIN,
    )  # fmt: skip
    slots = slot_events(events)
    assert slots["verified_ticket"] == reference
    submit = CollectingDispatcher()
    await ActionSubmitTicketStatusForm().run(
        submit, make_tracker(slots={"ticket_reference": reference,
                                    "verified_ticket": reference}), DOMAIN
    )  # fmt: skip
    assert responses(submit) == ["utter_ticket_status"]
    assert submit.messages[0]["status"] == (
        f"Your ticket {reference} (Wrong size) is waiting for a member of our team."
    )


async def test_ticket_status_with_wrong_email_discloses_nothing(
    connection: Connection,
) -> None:
    reference = await make_ticket(connection)
    dispatcher = CollectingDispatcher()
    events = await ValidateTicketStatusForm().run(
        dispatcher,
        make_tracker(candidates={"ticket_reference": reference, "email": "x@example.com"},
                     active_loop="ticket_status_form"),
        DOMAIN,
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_ticket_reference_not_verified"]
    assert "verified_ticket" not in slot_events(events)
    submit = CollectingDispatcher()
    result = await ActionSubmitTicketStatusForm().run(
        submit, make_tracker(slots={"ticket_reference": None}), DOMAIN
    )
    assert responses(submit) == ["utter_verification_locked"]
    assert FollowupAction("action_offer_human") in result


async def test_feedback_is_stored(connection: Connection) -> None:
    dispatcher = CollectingDispatcher()
    await ActionRecordFeedback().run(
        dispatcher,
        make_tracker(text="your delivery drivers are always so friendly",
                     intent="give_feedback"),
        DOMAIN,
    )  # fmt: skip
    ticket = latest_ticket(connection)
    assert ticket.category == TicketCategory.FEEDBACK
    assert ticket.description == "your delivery drivers are always so friendly"
    assert responses(dispatcher) == ["utter_thanks_for_feedback"]


@pytest.mark.parametrize(
    ("said", "expected", "reprompted"),
    [("No, it's not about an order.", "none", False),
     ("it isn’t about an order", "none", False),
     ("nope", "none", False),
     ("104257", "104257", False),
     ("not sure, maybe 104257", "104257", False),
     ("the blue one", None, True)],
)  # fmt: skip
async def test_the_order_question_takes_a_worded_no(
    said: str, expected: str | None, reprompted: bool
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ValidateProblemForm().run(
        dispatcher,
        make_tracker(slots={"problem_description": "broken"}, intent="inform",
                     candidates={"problem_order_number": said},
                     active_loop="problem_form"),
        DOMAIN,
    )  # fmt: skip
    assert slot_events(events)["problem_order_number"] == expected
    assert bool(responses(dispatcher)) is reprompted


# --- Verified slots prove nothing without the form's record (issue 8, item 1) ---


async def test_a_forged_verified_ticket_discloses_nothing(
    connection: Connection,
) -> None:
    reference = await make_ticket(connection)
    dispatcher = CollectingDispatcher()
    result = await ActionSubmitTicketStatusForm().run(
        dispatcher,
        make_tracker(slots={"ticket_reference": reference, "verified_ticket": reference},
                     sender_id="attacker"),
        DOMAIN,
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_verification_locked"]
    assert FollowupAction("action_offer_human") in result
    assert "Wrong size" not in str(dispatcher.messages)


async def test_a_forged_verified_contact_links_no_customer(
    connection: Connection,
) -> None:
    await ActionSubmitProblemForm().run(
        CollectingDispatcher(),
        make_tracker(slots={"problem_description": "Broken lamp", "order_number": "104257",
                            "verified_contact": "jane.doe@example.com"}),
        DOMAIN,
    )  # fmt: skip
    ticket = latest_ticket(connection)
    assert ticket.customer is None and ticket.order is None
    assert "Order number given (not verified): 104257" in ticket.description
