from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from actions.registration import ActionSubmitRegistrationForm, ValidateRegistrationForm
from bot.models import Customer
from tests.unit.trackers import (
    load_domain,
    make_tracker,
    next_slot,
    responses,
    slot_events,
)

pytestmark = pytest.mark.usefixtures("db_scope")
DOMAIN = load_domain()


async def validate(**kwargs: Any) -> tuple[CollectingDispatcher, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(active_loop="registration_form", **kwargs)
    events = slot_events(
        await ValidateRegistrationForm().run(dispatcher, tracker, DOMAIN)
    )
    events["requested_slot"] = next_slot("registration_form", tracker.slots, events)
    return dispatcher, events


@pytest.mark.parametrize(
    ("said", "expected"),
    [("my name is ada lovelace", "Ada Lovelace"), ("I'm Tom O'Brien", "Tom O'Brien"),
     ("Priya", "Priya"), ("JOHN SMITH", "John Smith")],
)  # fmt: skip
async def test_names_are_cleaned_up(said: str, expected: str) -> None:
    _, slots = await validate(candidates={"name": said})
    assert slots["name"] == expected
    assert slots["requested_slot"] == "reg_email"


@pytest.mark.parametrize("said", ["a", "jane@example.com", "12345"])
async def test_implausible_names_reprompt(said: str) -> None:
    dispatcher, slots = await validate(candidates={"name": said})
    assert slots["name"] is None
    assert responses(dispatcher) == ["utter_invalid_name"]


async def test_invalid_email_reprompts() -> None:
    dispatcher, slots = await validate(
        slots={"name": "Ada"}, candidates={"reg_email": "ada at nowhere"}
    )
    assert slots["reg_email"] is None
    assert slots["requested_slot"] == "reg_email"
    assert responses(dispatcher) == ["utter_invalid_email"]


async def test_existing_email_is_refused_with_reset_link() -> None:
    dispatcher, slots = await validate(
        slots={"name": "Jane"}, candidates={"reg_email": "Jane.Doe@example.com"}
    )
    assert slots["registration_blocked"] is True
    assert slots["requested_slot"] is None
    assert responses(dispatcher) == ["utter_account_exists"]
    assert dispatcher.messages[0]["field"] == "email"
    assert dispatcher.messages[0]["reset_url"].endswith("/account/reset")


async def test_existing_phone_is_refused() -> None:
    _, slots = await validate(
        slots={"name": "Ada", "reg_email": "ada@example.com"},
        candidates={"phone": "(415) 555-0134"},
    )
    assert slots["registration_blocked"] is True


@pytest.mark.parametrize(
    ("said", "expected"), [("skip", "skip"), ("415 555 0199", "+14155550199")]
)
async def test_phone_is_optional(said: str, expected: str) -> None:
    _, slots = await validate(
        slots={"name": "Ada", "reg_email": "ada@example.com"},
        candidates={"phone": said},
    )
    assert slots["phone"] == expected
    assert slots["requested_slot"] == "registration_confirmed"


async def test_invalid_phone_reprompts() -> None:
    dispatcher, slots = await validate(
        slots={"name": "Ada", "reg_email": "ada@example.com"},
        candidates={"phone": "12"},
    )
    assert slots["phone"] is None
    assert responses(dispatcher) == ["utter_invalid_phone"]


def customers(connection: Connection, email: str) -> int:
    with Session(bind=connection) as session:
        query = (
            select(func.count()).select_from(Customer).where(Customer.email == email)
        )
        return session.scalar(query) or 0


async def test_confirmed_registration_creates_exactly_one_customer(
    connection: Connection,
) -> None:
    slots = {"name": "Ada Lovelace", "reg_email": "ada@example.com", "phone": "skip",
             "registration_confirmed": True}  # fmt: skip
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitRegistrationForm().run(
        dispatcher, make_tracker(slots=slots), DOMAIN
    )
    assert responses(dispatcher) == ["utter_registered"]
    assert customers(connection, "ada@example.com") == 1
    assert slot_events(events)["registration_confirmed"] is None

    # The same details again (a double submit) must not create a second account.
    again = CollectingDispatcher()
    await ActionSubmitRegistrationForm().run(again, make_tracker(slots=slots), DOMAIN)
    assert responses(again) == ["utter_account_exists"]
    assert customers(connection, "ada@example.com") == 1


async def test_declined_confirmation_creates_nothing(connection: Connection) -> None:
    slots = {"name": "Ada", "reg_email": "ada2@example.com", "phone": "skip",
             "registration_confirmed": False}  # fmt: skip
    dispatcher = CollectingDispatcher()
    await ActionSubmitRegistrationForm().run(
        dispatcher, make_tracker(slots=slots), DOMAIN
    )
    assert responses(dispatcher) == ["utter_registration_cancelled"]
    assert customers(connection, "ada2@example.com") == 0
