"""JSON for the console's live views, polled by console.js.

The queue (every 3 s), and a ticket's new transcript lines and delivery states
(every 2 s).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from bot.models import Delivery, TicketMessage, utcnow
from bot.services import handoff
from bot.web.console.auth import protect
from bot.web.console.common import error, find_ticket, me, parse_id
from bot.web.console.queries import (
    QueueFilters,
    queue_listing,
    ticket_state,
)
from bot.web.console.views import refresh_priorities
from bot.web.database import session_factory

bp = Blueprint("console_api", __name__, url_prefix="/console/api")
protect(bp)

UNDELIVERED = (Delivery.PENDING, Delivery.FAILED)


@bp.get("/queue")
def queue() -> ResponseReturnValue:
    """The queue under the same filters as the page: tickets and counts per status."""
    try:
        filters = QueueFilters.parse(request.args)
    except ValueError as exc:
        return error(400, str(exc))
    refresh_priorities()
    now = utcnow()
    with session_factory()() as db:
        rows, counts = queue_listing(db, filters, me(db).id, now)
    return jsonify(tickets=rows, counts=counts)


@bp.get("/tickets/<reference>")
def ticket(reference: str) -> ResponseReturnValue:
    """Transcript lines after `after`, delivery states, and the ticket's state.

    `deliveries` has the delivery state of every line sent to the customer;
    `undelivered` is its pending and failed part.

    The new lines are read first and the delivery states after them, with fresh
    rows: a line in `messages` is always in `deliveries` (if it was sent anywhere)
    with a state at least as recent, so a reply committed between the two reads is
    never taken for delivered.
    """
    raw = request.args.get("after", "0")
    try:
        after = 0 if raw == "0" else parse_id(raw, "after")
    except ValueError:
        return error(400, "after must be a message id (a whole number, 0 for all).")
    with session_factory()() as db:
        me(db)
        found = find_ticket(db, reference)
        lines = handoff.transcript(db, found, after)
        outgoing = list(
            db.scalars(
                select(TicketMessage)
                .where(
                    TicketMessage.ticket_id == found.id,
                    TicketMessage.delivery.is_not(None),
                )
                .order_by(TicketMessage.id)
                # Lines read above are in the identity map: refresh, don't reuse.
                .execution_options(populate_existing=True)
            )
        )
        held = bool(handoff.held_conversations(db, found))
        return jsonify(
            ticket=ticket_state(found, utcnow(), held),
            messages=[handoff.message_json(m) for m in lines],
            deliveries=[delivery_json(m) for m in outgoing],
            undelivered=[
                handoff.message_json(m) for m in outgoing if m.delivery in UNDELIVERED
            ],
        )


def delivery_json(message: TicketMessage) -> dict[str, Any]:
    """Where a line sent to the customer stands: what the live view updates."""
    return {
        "id": message.id,
        "delivery": message.delivery.value if message.delivery is not None else None,
        "attempts": message.attempts,
        "last_error": message.last_error,
    }
