"""What every console view needs: settings, the signed-in agent, errors.

Errors are pages for people and JSON for the live views' API (/console/api/...),
always with a message that says what to do; bad input is a 4xx, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import abort, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import Session

from bot.models import MAX_ID, Agent, AgentRole, Ticket
from bot.services import tickets
from bot.services.messaging import SmsSender
from bot.settings import Settings

API_PREFIX = "/console/api/"
SMS_SENDER = "sms_sender"


def settings() -> Settings:
    configured: Settings = current_app.config["SETTINGS"]
    return configured


def sms_sender() -> SmsSender:
    """A new SMS sender from the factory in app.extensions["sms_sender"]."""
    make: Callable[[], SmsSender] = current_app.extensions[SMS_SENDER]
    return make()


def wants_json() -> bool:
    return request.path.startswith(API_PREFIX)


def error(status: int, message: str) -> ResponseReturnValue:
    """An error the agent can act on: a console page, or JSON for the API."""
    if wants_json():
        return jsonify(error=_ERROR_CODES.get(status, "error"), message=message), status
    page = render_template(
        "console/error.html", status=status, message=message, back=_back()
    )
    return page, status


def _back() -> str | None:
    """The console page the agent came from (same site only), to go back to."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host or not parts.path.startswith("/console/"):
        return None
    return parts.path if parts.path != request.path else None


_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "too_many_requests",
}


def sentence(exc: Exception) -> str:
    """A service error's message as a sentence for the page."""
    text = str(exc).strip() or "That did not work."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def parse_id(raw: str | None, what: str) -> int:
    """A database id from a form field or URL part; ValueError with a message if not."""
    value = (raw or "").strip()
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_ID:
        raise ValueError(f"{what} must be a number (an id from the console)")
    return int(value)


def me(db: Session) -> Agent:
    """The signed-in agent, loaded in `db` (403 if the account went away meanwhile)."""
    agent = db.get(Agent, current_user.id)
    if agent is None or not agent.active:
        abort(403, description="Your account is no longer active.")
    return agent


def is_supervisor() -> bool:
    return bool(
        current_user.is_authenticated and current_user.role == AgentRole.SUPERVISOR
    )


def find_ticket(db: Session, reference: str) -> Ticket:
    """The ticket with this reference, or a 404."""
    canonical = tickets.normalise_reference(reference)
    ticket = tickets.get_ticket(db, canonical) if canonical else None
    if ticket is None:
        abort(404, description=f"There is no ticket {reference[:20]!s}.")
    return ticket
