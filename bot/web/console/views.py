"""The console's pages: the queue and a ticket (the forms are in actions.py).

Priorities are refreshed when the queue is looked at, at most every
CONSOLE_PRIORITY_REFRESH_SECONDS (30 s) per process; the worker may do it too.
"""

from __future__ import annotations

import threading
import time

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.models import Agent, AgentRole, Ticket, utcnow
from bot.services import consent, handoff, notifications, priority, queue
from bot.web.console import once
from bot.web.console.auth import protect
from bot.web.console.common import error, find_ticket, me, sentence, settings
from bot.web.console.queries import (
    QUEUE_LIMIT,
    QueueFilters,
    queue_listing,
)
from bot.web.database import session_factory

bp = Blueprint("console", __name__, url_prefix="/console")
protect(bp)

RECENT_TICKETS = 5


class PriorityRefresher:
    """Runs priority.refresh_priorities at most every `interval` seconds per process.

    The queue page and its API both ask, so priorities are fresh while anyone
    looks at the queue, without every 3-second poll rewriting every open ticket.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = float("-inf")
        self._lock = threading.Lock()

    def due(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                return False
            self._last = now
            return True

    def run(self) -> None:
        if not self.due():
            return
        try:
            with session_factory().begin() as db:
                priority.refresh_priorities(db)
        except SQLAlchemyError as exc:  # the queue still shows; next time, again
            current_app.logger.warning("refreshing priorities failed: %s", exc)


def refresh_priorities() -> None:
    refresher: PriorityRefresher = current_app.extensions["console_priorities"]
    refresher.run()


@bp.get("/")
def queue_view() -> ResponseReturnValue:
    """The queue: filters, the tickets in queue order, Next ticket."""
    try:
        filters = QueueFilters.parse(request.args)
    except ValueError as exc:
        return error(400, sentence(exc))
    refresh_priorities()
    now = utcnow()
    with session_factory()() as db:
        rows, counts = queue_listing(db, filters, me(db).id, now)
    return render_template(
        "console/queue.html",
        rows=rows,
        counts=counts,
        filters=filters,
        limit=QUEUE_LIMIT,
    )


@bp.post("/next")
def next_ticket() -> ResponseReturnValue:
    """Claim the most urgent waiting ticket and open it."""
    with session_factory()() as db, db.begin():
        ticket = queue.next_ticket(db, me(db))
        reference = ticket.reference if ticket is not None else None
    if reference is None:
        flash("No tickets are waiting.")
        return redirect(url_for("console.queue_view"), 303)
    flash(f"You have {reference}.")
    return redirect(url_for("console.ticket", reference=reference), 303)


def _others(db: Session, ticket: Ticket) -> list[Ticket]:
    if ticket.customer_id is None:
        return []
    return list(
        db.scalars(
            select(Ticket)
            .where(Ticket.customer_id == ticket.customer_id, Ticket.id != ticket.id)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(RECENT_TICKETS)
        )
    )


@bp.get("/tickets/<reference>")
def ticket(reference: str) -> ResponseReturnValue:
    """Everything about one ticket, its live transcript and the actions."""
    config = settings()
    now = utcnow()
    with session_factory()() as db:
        agent = me(db)
        found = find_ticket(db, reference)
        messages = handoff.transcript(db, found)
        may_reassign = agent.role == AgentRole.SUPERVISOR or (
            found.assigned_agent_id == agent.id
        )
        agents = (
            list(
                db.scalars(
                    select(Agent).where(Agent.active.is_(True)).order_by(Agent.name)
                )
            )
            if may_reassign
            else []
        )
        return render_template(
            "console/ticket.html",
            ticket=found,
            agent=agent,
            context=handoff.HandoffContext.from_json(found.context),
            messages=messages,
            last_id=messages[-1].id if messages else 0,
            events=queue.events(db, found),
            others=_others(db, found),
            updates=notifications.for_customer(db, found.customer_id)
            if found.customer_id
            else [],
            consents=consent.agreed_channels(db, found.customer_id)
            if found.customer_id
            else [],
            destination=handoff.destination(
                found, config.secret_key, config.default_phone_region
            ),
            held=bool(handoff.held_conversations(db, found)),
            sla=priority.sla_state(found, now),
            agents=agents,
            may_reassign=may_reassign,
            max_reply=handoff.MAX_REPLY_LENGTH,
            reply_key=once.new_key(),
            max_note=queue.MAX_NOTE_LENGTH,
        )
