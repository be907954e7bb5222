"""The shop's event webhook: POST /api/shop/events, signed with SHOP_WEBHOOK_SECRET.

Checked in this order, each refusal a clear 4xx with nothing stored: the body's
size (413), the signature over "<X-Shop-Timestamp>.<body>" and the timestamp's
freshness (401), the JSON and the event (400: malformed, unknown event, bad field),
then, in one transaction, a replayed signature (401) and the order (404). An event
id seen before answers 200 "duplicate" and sends nothing again; a new one 202.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from bot.proactive.schema import EventSource
from bot.services import messaging, shop_events
from bot.services.notifications import Rules
from bot.signing import (
    SHOP_MAX_AGE_SECONDS,
    SHOP_SIGNATURE_HEADER,
    SHOP_TIMESTAMP_HEADER,
    is_fresh,
    valid_shop_signature,
)
from bot.web.database import session_factory

bp = Blueprint("shop_events", __name__, url_prefix="/api/shop")

MAX_BODY = 64 * 1024
RULES = "notification_rules"


class Refused(Exception):
    """A request refused before anything is stored."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _error(status: int, code: str, message: str) -> ResponseReturnValue:
    return jsonify(error=code, message=message), status


def _signed_body() -> tuple[bytes, str]:
    """The raw body and an id of its signature (for replays); Refused otherwise."""
    too_large = Refused(413, "too_large", f"events are at most {MAX_BODY} bytes")
    if (request.content_length or 0) > MAX_BODY:
        raise too_large
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        raise too_large
    timestamp = request.headers.get(SHOP_TIMESTAMP_HEADER, "")
    signature = request.headers.get(SHOP_SIGNATURE_HEADER)
    secret = current_app.config["SETTINGS"].shop_webhook_secret
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Refused(401, "bad_signature", f"{SHOP_TIMESTAMP_HEADER} is Unix seconds")
    if signature is None or not valid_shop_signature(
        body, timestamp, signature, secret
    ):
        raise Refused(401, "bad_signature", "the signature does not match the body")
    if not is_fresh(int(timestamp), time.time(), SHOP_MAX_AGE_SECONDS):
        raise Refused(
            401, "stale", f"the timestamp is more than {SHOP_MAX_AGE_SECONDS} s off"
        )
    return body, "shop-event:" + hashlib.sha256(signature.encode()).hexdigest()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


@bp.post("/events")
def receive() -> ResponseReturnValue:
    """Take one order event from the shop (see the README for the contract)."""
    rules: Rules = current_app.extensions[RULES]
    try:
        body, signature_id = _signed_body()
        event = shop_events.parse(_json(body))
        # One transaction: a refusal inside it (replay, unknown order) stores
        # nothing, not even the signature.
        with session_factory().begin() as db:
            if not messaging.first_delivery(db, signature_id):
                raise Refused(401, "replayed", "this signed request was seen before")
            received = shop_events.receive(db, event, EventSource.WEBHOOK, rules)
            answer = {
                "status": "duplicate" if received.duplicate else "accepted",
                "event": received.event.id,
                "notifications": [
                    {
                        "channel": n.channel.value,
                        "status": n.status.value,
                        "reason": n.reason,
                    }
                    for n in received.notifications
                ],  # fmt: skip
            }
    except Refused as exc:
        return _error(exc.status, exc.code, str(exc))
    except shop_events.UnknownOrder as exc:
        return _error(404, exc.code, str(exc))
    except shop_events.BadEvent as exc:
        return _error(400, exc.code, str(exc))
    return jsonify(answer), 200 if received.duplicate else 202


def init_app(app: Flask) -> None:
    """Register the webhook; the templates are checked here, at start."""
    app.extensions[RULES] = Rules.from_settings(app.config["SETTINGS"])
    app.register_blueprint(bp)
