"""A database failure gets the customer an apology, never silence or a crash."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from actions import common
from actions.handoff import ActionHandoff
from actions.orders import ValidateOrderForm
from actions.registration import (
    ActionSubmitRegistrationForm,
    ValidateRegistrationForm,
)
from tests.unit.trackers import load_domain, make_tracker, responses

DOMAIN = load_domain()


@pytest.fixture(autouse=True)
def broken_database() -> Iterator[None]:
    @contextmanager
    def scope() -> Iterator[Session]:
        raise OperationalError("SELECT 1", {}, Exception("database is down"))
        yield  # pragma: no cover

    common.use_session_scope(scope)
    yield
    common.use_session_scope(None)


async def test_verification_apologises_and_counts_no_failure() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        active_loop="order_form",
        candidates={"order_number": "104257", "email": "jane.doe@example.com"},
    )
    events = await ValidateOrderForm().run(dispatcher, tracker, DOMAIN)
    # Ask for the order number again; no failure is counted, nothing is disclosed.
    assert events == [
        SlotSet("order_number", None),
        SlotSet("email", None),
        SlotSet("requested_slot", "order_number"),
    ]
    assert responses(dispatcher) == ["utter_technical_problem"]


@pytest.mark.parametrize(
    ("action", "slots"),
    [
        (ActionHandoff(), {}),
        (ActionSubmitRegistrationForm(),
         {"name": "Ada", "reg_email": "ada@example.com", "registration_confirmed": True}),
    ],
)  # fmt: skip
async def test_submit_actions_apologise(
    action: object, slots: dict[str, object]
) -> None:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, make_tracker(slots=slots), DOMAIN)  # type: ignore[attr-defined]
    assert events == []
    assert responses(dispatcher) == ["utter_technical_problem"]


async def test_registration_email_step_needs_no_database() -> None:
    # It looks nothing up (that would tell who is a customer), so an outage only
    # shows at the end, where submitting apologises (above) and nothing is lost.
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        active_loop="registration_form",
        slots={"name": "Ada", "requested_slot": "reg_email"},
        candidates={"reg_email": "ada@example.com"},
    )
    events = await ValidateRegistrationForm().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("reg_email", "ada@example.com")]
    assert responses(dispatcher) == []
