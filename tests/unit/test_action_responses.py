"""Action server answers are checked as Rasa checks them, by one validator."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot import action_responses

GOOD = {
    "events": [{"event": "slot", "name": "order_number", "value": "104257"}],
    "responses": [{"text": "Your order has shipped.", "buttons": []}],
}
BAD: list[dict[str, Any]] = [
    {"events": [{"name": "order_number"}]},  # an event without its type
    {"events": "not a list"},
    {"responses": "not a list"},
]


def test_the_schema_is_checked_once() -> None:
    assert (
        action_responses.response_validator() is action_responses.response_validator()
    )


def test_a_good_answer_passes() -> None:
    assert action_responses.validate_action_result(None, GOOD) is True  # type: ignore[arg-type]
    jsonschema.validate(GOOD, RemoteAction.action_response_format_spec())


@pytest.mark.parametrize("answer", BAD)
def test_a_bad_answer_raises_the_error_rasa_raises(answer: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError) as rasa_error:
        jsonschema.validate(answer, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError) as ours:
        action_responses.validate_action_result(None, answer)  # type: ignore[arg-type]
    assert ours.value.message == rasa_error.value.message + action_responses.HINT
    assert "Failed to validate Action server response" in ours.value.message


def test_installed_on_every_remote_action() -> None:
    original = RemoteAction._validate_action_result
    try:
        action_responses.install()
        action_responses.install()  # twice is once
        action = RemoteAction("action_check_order", None)
        assert action._validate_action_result(GOOD) is True
        with pytest.raises(jsonschema.ValidationError):
            action._validate_action_result(BAD[0])
    finally:
        RemoteAction._validate_action_result = original  # type: ignore[method-assign]
