"""What agents do to a ticket: the console's forms (POST, each with its token).

Every change is one transaction through bot/services (queue, handoff, delivery);
a message for the customer is committed first and delivered right after, so a
channel that is down leaves it saved and marked undelivered, never lost. Service
errors become pages with their message: 400 for bad input or a move the ticket
cannot make, 403 when the agent may not, 409 when someone else was first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import Session

from bot.models import Agent, Delivery, Ticket, TicketMessage
from bot.services import delivery, handoff, queue, shop_events, tickets
from bot.services.notifications import Rules
from bot.shared_state import SharedStateDown
from bot.web import shop_events as shop_events_web
from bot.web.console import once
from bot.web.console.common import (
    error,
    find_ticket,
    me,
    parse_id,
    sentence,
    settings,
    sms_sender,
)
from bot.web.console.views import bp
from bot.web.database import session_factory

USED_KEYS = "console_used_keys"
UNCHECKED = (
    "The reply was not sent: it could not be checked against sending twice. Try "
    "again in a minute."
)

Action = Callable[[Session, Agent, Ticket], int | None]


def deliver(message_id: int) -> delivery.Outcome | None:
    """Send a saved message now; a failure leaves it pending for the worker."""
    config = settings()
    try:
        return delivery.deliver(
            session_factory(),
            message_id,
            sms_sender(),
            secret=config.secret_key,
            region=config.default_phone_region,
        )
    except Exception:  # saved already: it shows as undelivered and is retried
        current_app.logger.exception("delivering message %s failed", message_id)
        return None


def _flash_delivery(outcome: delivery.Outcome | None, what: str) -> None:
    if outcome is None:
        flash(f"{what} saved; it is being sent.")
    elif outcome.delivery == Delivery.DELIVERED:
        flash(f"{what} delivered.")
    elif outcome.delivery == Delivery.FAILED:
        flash(f"{what} could not be delivered: {outcome.error}", "error")
    else:
        flash(
            f"{what} saved but not delivered yet ({outcome.error}); it will be "
            "retried.",
            "error",
        )


def form_text(name: str) -> str:
    """A text field; ValueError for a NUL character (PostgreSQL cannot store it)."""
    text = request.form.get(name, "")
    if "\x00" in text:
        raise ValueError("the text contains a NUL character, which cannot be stored")
    return text


def used_keys() -> once.OnceKeys | once.SharedOnceKeys:
    keys: once.OnceKeys | once.SharedOnceKeys = current_app.extensions[USED_KEYS]
    return keys


def rules() -> Rules:
    """The proactive service's rules (checked when the app started)."""
    found: Rules = current_app.extensions[shop_events_web.RULES]
    return found


def _to_ticket(reference: str) -> ResponseReturnValue:
    return redirect(url_for("console.ticket", reference=reference), 303)


def act(
    reference: str,
    action: Action,
    done: str,
    sent: str = "",
    key: Hashable | None = None,
) -> ResponseReturnValue:
    """Run `action` in one transaction, deliver its message, go back to the ticket.

    Service errors become error pages; an action may return no message to deliver.

    With a one-time `key` (once.py), a second request with the same key changes
    nothing; the key is given back if the action fails.
    """
    try:
        if key is not None and not used_keys().take(key):
            flash("That reply was already sent.")
            return _to_ticket(tickets.normalise_reference(reference) or reference)
    except SharedStateDown as exc:  # unchecked, a double click would send twice
        current_app.logger.error("reply refused: Redis unreachable: %s", exc)
        return error(503, UNCHECKED)
    committed = False
    try:
        with session_factory()() as db, db.begin():
            agent = me(db)
            ticket = find_ticket(db, reference)
            canonical = ticket.reference
            message_id = action(db, agent, ticket)
        committed = True
    except queue.ConcurrentChange as exc:
        return error(409, sentence(exc))
    except queue.NotAllowed as exc:
        return error(403, sentence(exc))
    except (queue.QueueError, ValueError) as exc:
        return error(400, sentence(exc))
    finally:
        if key is not None and not committed:
            try:
                used_keys().give_back(key)
            except SharedStateDown as exc:  # the form must be reloaded to resend
                current_app.logger.error("reply key kept: Redis unreachable: %s", exc)
    if message_id is not None:
        _flash_delivery(deliver(message_id), sent or done)
    else:
        flash(done)
    return _to_ticket(canonical)


@bp.post("/tickets/<reference>/claim")
def claim(reference: str) -> ResponseReturnValue:
    """Take a new ticket; 409 (saying who has it) when someone else was first."""
    with session_factory()() as db, db.begin():
        agent = me(db)
        found = find_ticket(db, reference)
        canonical = found.reference
        won = queue.claim(db, found.id, agent)
    if won:
        flash(f"You have {canonical}.")
        return _to_ticket(canonical)
    with session_factory()() as db:  # a new transaction: it sees the winner's commit
        found = find_ticket(db, canonical)
        holder = found.assigned_agent
        if holder is not None and holder.id == current_user.id:  # a double click
            flash(f"You already have {canonical}.")
            return _to_ticket(canonical)
        if holder is not None:
            return error(409, f"{canonical} was already claimed by {holder.name}.")
        status = found.status.value.replace("_", " ")
        return error(409, f"{canonical} can no longer be claimed: it is {status}.")


@bp.post("/tickets/<reference>/reply")
def reply(reference: str) -> ResponseReturnValue:
    """Send a reply; a reply form's `reply_key` makes a resubmission a no-op."""
    config = settings()
    sent_key = request.form.get(once.FIELD)
    if sent_key is not None and not once.well_formed(sent_key):
        return error(400, "The form expired; reload the page and try again.")

    def send(db: Session, agent: Agent, ticket: Ticket) -> int:
        message = handoff.reply(
            db,
            ticket,
            agent,
            form_text("text"),
            secret=config.secret_key,
            region=config.default_phone_region,
        )
        return message.id

    # A form without a key (a script, not the page) is not protected.
    canonical = tickets.normalise_reference(reference) or reference
    key = None if sent_key is None else ("reply", current_user.id, canonical, sent_key)
    return act(reference, send, "Reply saved.", sent="Reply", key=key)


@bp.post("/tickets/<reference>/note")
def note(reference: str) -> ResponseReturnValue:
    def add(db: Session, agent: Agent, ticket: Ticket) -> None:
        queue.add_note(db, ticket, agent, form_text("text"))

    return act(reference, add, "Note added.")


@bp.post("/tickets/<reference>/reassign")
def reassign(reference: str) -> ResponseReturnValue:
    raw = request.form.get("agent_id")

    def give(db: Session, agent: Agent, ticket: Ticket) -> None:
        target_id = parse_id(raw, "The agent")
        target = db.get(Agent, target_id)
        if target is None or not target.active:
            raise ValueError(f"there is no active agent with id {target_id}")
        queue.reassign(db, ticket, target, agent)

    return act(reference, give, "Ticket reassigned.")


@bp.post("/tickets/<reference>/wait")
def wait(reference: str) -> ResponseReturnValue:
    def park(db: Session, agent: Agent, ticket: Ticket) -> None:
        queue.wait_on_customer(db, ticket, agent)
        shop_events.ticket_changed(db, ticket, rules())

    return act(reference, park, "Waiting on the customer.")


def _hand_back(reference: str, resolve: bool) -> ResponseReturnValue:
    config = settings()

    def back(db: Session, agent: Agent, ticket: Ticket) -> int | None:
        notice = handoff.hand_back(
            db,
            ticket,
            agent,
            resolve=resolve,
            secret=config.secret_key,
            region=config.default_phone_region,
        )
        if resolve:  # a proactive update too, unless the notice told them already
            shop_events.ticket_changed(
                db, ticket, rules(), told_in_conversation=notice is not None
            )
        return notice.id if notice is not None else None

    done = "Resolved" if resolve else "Returned to the assistant"
    return act(reference, back, f"{done}.", sent=f"{done}; the notice to the customer")


@bp.post("/tickets/<reference>/resolve")
def resolve(reference: str) -> ResponseReturnValue:
    """Resolve, tell the customer, and let the assistant answer again."""
    return _hand_back(reference, resolve=True)


@bp.post("/tickets/<reference>/return")
def return_to_bot(reference: str) -> ResponseReturnValue:
    """Let the assistant answer again without resolving."""
    return _hand_back(reference, resolve=False)


@bp.post("/tickets/<reference>/reopen")
def reopen(reference: str) -> ResponseReturnValue:
    def again(db: Session, agent: Agent, ticket: Ticket) -> None:
        queue.reopen(db, ticket, agent, detail="reopened in the console")

    return act(reference, again, "Reopened.")


@bp.post("/tickets/<reference>/close")
def close(reference: str) -> ResponseReturnValue:
    def shut(db: Session, agent: Agent, ticket: Ticket) -> None:
        queue.close(db, ticket, agent)

    return act(reference, shut, "Closed.")


@bp.post("/messages/<message_id>/retry")
def retry(message_id: str) -> ResponseReturnValue:
    """Send an undelivered message again now."""
    try:
        wanted = parse_id(message_id, "The message id")
    except ValueError as exc:
        return error(400, sentence(exc))
    with session_factory()() as db, db.begin():
        agent = me(db)
        message = db.get(TicketMessage, wanted)
        if message is None:
            return error(404, "There is no such message.")
        reference = message.ticket.reference
        try:
            queue.check_may_change(message.ticket, agent)
        except queue.NotAllowed as exc:
            return error(403, sentence(exc))
        due = delivery.retry_now(db, wanted)
    if not due:
        return error(
            409,
            "That message is not waiting for a retry: it was delivered, failed for "
            "good, or is being sent right now.",
        )
    _flash_delivery(deliver(wanted), "Message")
    return _to_ticket(reference)
