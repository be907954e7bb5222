"""The action server's answers checked against Rasa's schema by a validator built once.

Rasa 3.6 checks each answer with `jsonschema.validate`, which first checks the
schema itself against JSON Schema's meta-schema and builds a new validator, on
every custom action call: a sixth of the Rasa server's CPU under load (py-spy,
`make benchmark-load`). The schema is a constant, so here it is checked once and
its validator kept; each answer is checked as before and a bad one raises the same
`ValidationError`. Installed by bot/rasa_server.py.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import exceptions, validators
from jsonschema.protocols import Validator
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_INSTALLED = "_switchboard_one_validator"
# What Rasa adds to the message of an answer that fails (rasa.core.actions.action).
HINT = (
    ". Failed to validate Action server response from API, make sure your response "
    "from the Action endpoint is valid. For more information about the format "
    f"visit {DOCS_BASE_URL}/custom-actions"
)


@functools.cache
def response_validator() -> Validator:
    """The validator of Rasa's action response schema, its schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(_action: RemoteAction, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result`, without re-checking the schema."""
    error = exceptions.best_match(response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += HINT
    raise error


def install() -> None:
    """Make every RemoteAction check answers with the one validator."""
    if getattr(RemoteAction._validate_action_result, _INSTALLED, False):
        return
    setattr(validate_action_result, _INSTALLED, True)
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
