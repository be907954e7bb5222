from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from actions.registration import ActionSubmitRegistrationForm, ValidateRegistrationForm
from bot.mailer import MailOutbox
from bot.models import Customer, OutboxMail
from bot.services.customers import find_by_phone
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


@pytest.mark.parametrize(
    ("text", "entity", "expected"),
    [
        ("Grace Hopper", "Grace", "Grace Hopper"),
        ("my name is ines moreau", "ines", "Ines Moreau"),
        ("Grace, and my order is 104257", "Grace", "Grace"),
    ],
)
async def test_a_name_answer_is_taken_whole(
    text: str, entity: str, expected: str
) -> None:
    # The entity model may pick out only part of the name the customer gave.
    _, slots = await validate(text=text, candidates={"name": entity})
    assert slots["name"] == expected


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


@pytest.mark.parametrize(
    "email", ["Jane.Doe@example.com", "nobody.yet@example.com"], ids=["known", "new"]
)
async def test_the_form_never_says_whether_an_email_has_an_account(email: str) -> None:
    # The attack: type someone's address and learn whether they are a customer.
    dispatcher, slots = await validate(
        slots={"name": "Jane"}, candidates={"reg_email": email}
    )
    assert slots["reg_email"] == email.lower()
    assert slots["requested_slot"] == "phone"
    assert responses(dispatcher) == []


async def test_a_phone_of_another_customer_is_not_refused_either() -> None:
    dispatcher, slots = await validate(
        slots={"name": "Ada", "reg_email": "ada@example.com"},
        candidates={"phone": "(415) 555-0134"},
    )
    assert slots["phone"] == "+14155550134"
    assert slots["requested_slot"] == "registration_confirmed"
    assert responses(dispatcher) == []


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


def mails(connection: Connection, email: str) -> list[OutboxMail]:
    with Session(bind=connection, expire_on_commit=False) as session:
        return MailOutbox(session).sent_to(email)


async def submit(
    slots: dict[str, Any], sender_id: str = "conversation-1", phone: str | None = None
) -> tuple[CollectingDispatcher, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots, sender_id=sender_id, phone=phone)
    events = await ActionSubmitRegistrationForm().run(dispatcher, tracker, DOMAIN)
    return dispatcher, slot_events(events)


def details(email: str, phone: str = "skip") -> dict[str, Any]:
    return {"name": "Ada Lovelace", "reg_email": email, "phone": phone,
            "registration_confirmed": True}  # fmt: skip


@pytest.mark.parametrize(
    "email", ["jane.doe@example.com", "ada@example.com"], ids=["known", "new"]
)
async def test_known_and_new_emails_get_the_same_answer(
    connection: Connection, email: str
) -> None:
    dispatcher, slots = await submit(details(email))
    assert responses(dispatcher) == ["utter_registration_link_mailed"]
    assert dispatcher.messages[0]["email"] == email
    assert slots["registration_confirmed"] is None  # the flow's slots are cleared
    (mail,) = mails(connection, email)
    assert mail.to_address == email


async def test_no_customer_exists_before_the_email_is_confirmed(
    connection: Connection,
) -> None:
    await submit(details("ada@example.com", phone="+14155550199"))
    assert customers(connection, "ada@example.com") == 0
    with Session(bind=connection) as session:
        assert find_by_phone(session, "+14155550199") is None  # no SMS identity


async def test_the_owner_of_a_known_email_is_told_instead_of_sent_a_link(
    connection: Connection,
) -> None:
    await submit(details("jane.doe@example.com"))
    (mail,) = mails(connection, "jane.doe@example.com")
    assert "already has an account" in mail.body
    assert "/account/reset" in mail.body and "/register/confirm" not in mail.body


async def test_registrations_are_throttled_per_conversation(
    connection: Connection,
) -> None:
    for n in range(3):
        await submit(details(f"probe{n}@example.com"), sender_id="c-prober")
    dispatcher, _ = await submit(details("probe3@example.com"), sender_id="c-prober")
    assert responses(dispatcher) == ["utter_registration_throttled"]
    assert mails(connection, "probe3@example.com") == []


async def test_registrations_are_throttled_per_email(connection: Connection) -> None:
    # Mail-bombing one address from fresh conversations.
    for n in range(3):
        await submit(details("jane.doe@example.com"), sender_id=f"c-bomb-{n}")
    dispatcher, _ = await submit(details("jane.doe@example.com"), sender_id="c-bomb-9")
    assert responses(dispatcher) == ["utter_registration_throttled"]
    assert len(mails(connection, "jane.doe@example.com")) == 3


async def test_declined_confirmation_creates_nothing(connection: Connection) -> None:
    slots = {**details("ada2@example.com"), "registration_confirmed": False}
    dispatcher, _ = await submit(slots)
    assert responses(dispatcher) == ["utter_registration_cancelled"]
    assert customers(connection, "ada2@example.com") == 0
    assert mails(connection, "ada2@example.com") == []
