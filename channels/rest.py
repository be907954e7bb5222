"""REST channel: POST /webhooks/rest/webhook {"sender": "...", "message": "..."}.

Rasa's own REST channel, with its request checked first: the body must be a JSON
object (at most `MAX_BODY` bytes) with a sender (a conversation id of printable
characters) and a message as the web chat takes it (bot/services/customer_text.py);
metadata, if any, an object. Anything else is a 400 (413 when too large), where
Rasa's would answer 500 or write into a shared "default" conversation. The input
channel is always "rest": clients do not choose it. Nothing a client sends here is
believed (identities come only from signed channel metadata).
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels import rest
from sanic.exceptions import InvalidUsage, PayloadTooLarge
from sanic.request import Request

from bot.services.customer_text import clean_message

MAX_BODY = 64 * 1024
MAX_SENDER_LENGTH = 255
_BODY = "switchboard_rest_body"


def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object, checked once (InvalidUsage: a 400 saying why)."""
    checked = getattr(request.ctx, _BODY, None)
    if checked is not None:
        return dict(checked)
    if len(request.body or b"") > MAX_BODY:
        raise PayloadTooLarge(f"the body can be at most {MAX_BODY} bytes")
    data = request.json  # InvalidUsage for a body that is not JSON
    if not isinstance(data, dict):
        raise InvalidUsage('send a JSON object: {"sender": "...", "message": "..."}')
    sender, message = data.get("sender"), data.get("message")
    if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_LENGTH:
        raise InvalidUsage(f"sender must be a string of 1-{MAX_SENDER_LENGTH} chars")
    if not sender.isprintable():
        raise InvalidUsage("sender must not contain control characters")
    if not isinstance(message, str):
        raise InvalidUsage("message must be a string")
    try:
        message = clean_message(message)
    except ValueError as exc:
        raise InvalidUsage(str(exc)) from exc
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidUsage("metadata must be a JSON object")
    checked = {"sender": sender, "message": message, "metadata": metadata}
    setattr(request.ctx, _BODY, checked)
    return dict(checked)


class RestInput(rest.RestInput):
    """Rasa's REST channel, refusing malformed requests with a 4xx."""

    async def _extract_sender(self, req: Request) -> str | None:
        return str(_body(req)["sender"])

    def _extract_message(self, req: Request) -> str | None:
        return str(_body(req)["message"])

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata: dict[str, Any] | None = _body(request)["metadata"]
        return metadata
