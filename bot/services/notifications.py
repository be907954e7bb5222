"""Proactive messages: what we tell a customer about an event, when, and whether.

An event (bot/services/shop_events.py) becomes one `notifications` row per channel
(SMS, web chat), stored before anything is sent. The rules, in order:

| rule | where | the row becomes |
|---|---|---|
| no phone, STOP (`sms_opt_outs`), no consent for the channel | planned, and again just before sending | suppressed, with the reason |
| a newer event about the same order (or ticket) while this one waits | planned | the older one suppressed ("superseded") |
| SMS in quiet hours (customer's time zone, else the shop's) | planned | queued until the morning |
| the customer's daily cap on the channel reached (local day) | sending | suppressed |
| Twilio or the database fails | sending | queued again, retried with back-off; failed after MAX_ATTEMPTS or a permanent Twilio error |

`notifications` is an outbox like agent replies (bot/services/outbox.py): each
row is leased before it is sent, so two workers never send one row at once.
Every text ends with how to stop. A web chat update is stored in the customer's
live conversation (pushed to an open widget) and shown at the top of the chat at
their next sign-in (`show_on_sign_in`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.models import ChatMessage, Customer, Sender, utcnow
from bot.proactive.schema import (
    ConsentChannel,
    Notification,
    NotificationStatus,
    ShopEvent,
    WebChatSession,
)
from bot.proactive.templates import Templates, load
from bot.services import consent
from bot.services.messaging import OptedOut, SmsSender, send_text
from bot.services.orders import summarise
from bot.services.outbox import Outbox, Settle
from bot.services.quiet_hours import QuietHours, zone
from bot.settings import Settings

SHOP_NAME = "Switchboard demo shop"
STOP_NOTICE = "Reply STOP to opt out."
# A late order the shop gave no new date for (the worker's check).
UNKNOWN_DATE = "as soon as we hear from the carrier"
MAX_ATTEMPTS = 8
# A reply within this long of an update is about that update's order.
CONTEXT_WINDOW = dt.timedelta(days=7)
# A sign-in within this long of a web update still sees it (top of the chat).
SHOW_ON_SIGN_IN = dt.timedelta(days=7)
MAX_SHOWN_ON_SIGN_IN = 5
# How long a web chat conversation is the customer's (the session's lifetime).
WEB_SESSION = dt.timedelta(hours=12)
Q, S = NotificationStatus, ConsentChannel
UPDATES: Outbox[Notification, NotificationStatus] = Outbox(
    model=Notification,
    status=Notification.status,
    error=Notification.reason,
    done_at=Notification.sent_at,
    waiting=Q.QUEUED,
    done=Q.SENT,
    failed=Q.FAILED,
    label="notification",
    max_attempts=MAX_ATTEMPTS,
)


@dataclass(frozen=True)
class Rules:
    """What an operator configures: templates, quiet hours, the daily cap, zone."""

    templates: Templates
    quiet: QuietHours | None
    daily_cap: int
    timezone: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        """The rules, checked (ValueError naming the setting or template at fault)."""
        if settings.notification_daily_cap < 1:
            raise ValueError("NOTIFICATION_DAILY_CAP must be 1 or more")
        return cls(
            templates=load(settings.notification_templates_dir),
            quiet=QuietHours.parse(settings.quiet_hours),
            daily_cap=settings.notification_daily_cap,
            timezone=settings.timezone,
        )

    def zone_of(self, customer: Customer) -> ZoneInfo:
        return zone(customer.timezone, self.timezone)


def with_stop_notice(text: str) -> str:
    """Every text says how to stop them."""
    return text if "STOP" in text else f"{text} {STOP_NOTICE}"


def _day(day: dt.date) -> str:
    return f"{day.strftime('%A')}, {day.strftime('%B')} {day.day}"


def values_for(event: ShopEvent) -> dict[str, str]:
    """The placeholders an event fills (bot/proactive/templates.py lists them)."""
    data = json.loads(event.data or "{}")
    values = {"name": event.customer.name.split()[0], "shop": SHOP_NAME}
    if event.order is not None:
        summary = summarise(event.order)
        values |= {
            "order": event.order.number,
            "status": event.order.status.value.replace("_", " "),
            "carrier": summary.carrier or data.get("carrier") or "the carrier",
            "tracking_number": summary.tracking_number or "",
            "tracking_url": summary.tracking_url or summary.tracking_number or "",
        }
        new_date = data.get("new_date")
        values["new_date"] = (
            f"on {_day(dt.date.fromisoformat(new_date))}" if new_date else UNKNOWN_DATE
        )
        cents = data.get("amount_cents")
        values["amount"] = f"${cents / 100:,.2f}" if cents is not None else "a refund"
    if event.ticket is not None:
        values |= {
            "ticket": event.ticket.reference,
            "status": event.ticket.status.value.replace("_", " "),
        }
    return values


def _supersede(session: Session, event: ShopEvent, channel: ConsentChannel) -> None:
    about = (
        Notification.order_id == event.order_id
        if event.order_id is not None
        else Notification.ticket_id == event.ticket_id
    )
    session.execute(
        update(Notification)
        .where(
            about,
            Notification.customer_id == event.customer_id,
            Notification.channel == channel,
            Notification.status == Q.QUEUED,
            Notification.attempts == 0,  # never one being sent right now
        )
        .values(
            status=Q.SUPPRESSED,
            reason=f"superseded by a newer update ({event.kind.value})",
            next_attempt_at=None,
        )
        .execution_options(synchronize_session=False)
    )


def plan(
    session: Session,
    event: ShopEvent,
    rules: Rules,
    now: dt.datetime | None = None,
    *,
    told: str | None = None,
) -> list[Notification]:
    """Store the event's message on each channel, queued or suppressed with why.

    `told`: the customer already heard about it another way (the reason given).
    """
    now = now or utcnow()
    customer = event.customer
    rows = []
    for channel in ConsentChannel:
        text = rules.templates.render(event.kind, channel, values_for(event))
        if channel == S.SMS:
            text = with_stop_notice(text)
        _supersede(session, event, channel)
        reason = told or consent.refusal(session, customer, channel)
        row = Notification(
            event_id=event.id,
            customer_id=customer.id,
            order_id=event.order_id,
            ticket_id=event.ticket_id,
            channel=channel,
            address=customer.phone if channel == S.SMS else None,
            text=text,
            status=Q.SUPPRESSED if reason else Q.QUEUED,
            reason=reason,
            attempts=0,
            created_at=now,
        )
        if reason is None:
            row.next_attempt_at = (
                rules.quiet.not_before(now, rules.zone_of(customer))
                if channel == S.SMS and rules.quiet is not None
                else now
            )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


# --- sending ---------------------------------------------------------------------


def _sent_today(
    session: Session, row: Notification, rules: Rules, now: dt.datetime
) -> int:
    tz = rules.zone_of(row.customer)
    local_midnight = dt.datetime.combine(now.astimezone(tz).date(), dt.time(), tz)
    return int(
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.customer_id == row.customer_id,
                Notification.channel == row.channel,
                Notification.status == Q.SENT,
                Notification.sent_at >= local_midnight.astimezone(dt.timezone.utc),
            )
        )
        or 0
    )


def web_conversation(
    session: Session, customer_id: int, now: dt.datetime
) -> str | None:
    """The customer's latest signed-in web chat conversation, if still theirs."""
    return session.scalar(
        select(WebChatSession.conversation_id)
        .where(
            WebChatSession.customer_id == customer_id,
            WebChatSession.started_at > now - WEB_SESSION,
        )
        .order_by(WebChatSession.started_at.desc())
        .limit(1)
    )


def _chat_line(conversation: str, row: Notification, now: dt.datetime) -> ChatMessage:
    return ChatMessage(
        conversation_id=conversation,
        sender=Sender.SYSTEM,
        text=row.text,
        payload=json.dumps({"notification": row.id}),
        created_at=now,
    )


def _send(
    session: Session,
    row: Notification,
    now: dt.datetime,
    *,
    sms: SmsSender,
    rules: Rules,
) -> None:
    """Send the row unless a rule stops it now (STOP, consent, the daily cap)."""
    reason = consent.refusal(session, row.customer, row.channel)
    if reason is None and _sent_today(session, row, rules, now) >= rules.daily_cap:
        reason = f"daily cap of {rules.daily_cap} updates reached"
    if reason is not None:
        raise Settle(Q.SUPPRESSED, reason)
    if row.channel == S.SMS:
        assert row.address is not None
        try:
            send_text(session, sms, row.address, row.text)
        except OptedOut:
            raise Settle(Q.SUPPRESSED, "the customer texted STOP") from None
        return
    # Not signed in now: shown at the top of the chat at the next sign-in.
    conversation = web_conversation(session, row.customer_id, now)
    if conversation is not None:
        row.address = conversation
        session.add(_chat_line(conversation, row, now))


def deliver(
    factory: sessionmaker[Session],
    notification_id: int,
    sms: SmsSender,
    rules: Rules,
    now: dt.datetime | None = None,
) -> NotificationStatus | None:
    """Try to send one due notification; what became of it (None: not ours now)."""
    send = partial(_send, sms=sms, rules=rules)
    outcome = UPDATES.deliver(factory, notification_id, send, now)
    return None if outcome is None else outcome.status


def deliver_due(
    factory: sessionmaker[Session],
    sms: SmsSender,
    rules: Rules,
    now: dt.datetime | None = None,
) -> dict[int, NotificationStatus]:
    """Send every due notification (the worker's round); what became of each."""
    outcomes = UPDATES.deliver_due(factory, partial(_send, sms=sms, rules=rules), now)
    return {outcome.row_id: outcome.status for outcome in outcomes}


# --- where the customer sees or answers them ------------------------------------


def show_on_sign_in(
    session: Session, customer_id: int, conversation_id: str, now: dt.datetime
) -> int:
    """Record the signed-in conversation and start it with the recent web updates.

    The latest sent web update of each order or ticket from the last days goes at
    the top of the new chat; returns how many.
    """
    session.add(
        WebChatSession(
            conversation_id=conversation_id, customer_id=customer_id, started_at=now
        )
    )
    recent = session.scalars(
        select(Notification)
        .where(
            Notification.customer_id == customer_id,
            Notification.channel == S.WEB,
            Notification.status == Q.SENT,
            Notification.sent_at > now - SHOW_ON_SIGN_IN,
        )
        .order_by(Notification.sent_at.desc(), Notification.id.desc())
    )
    shown: dict[tuple[int | None, int | None], Notification] = {}
    for row in recent:
        shown.setdefault((row.order_id, row.ticket_id), row)
    latest = sorted(shown.values(), key=lambda row: row.id)[-MAX_SHOWN_ON_SIGN_IN:]
    session.add_all(_chat_line(conversation_id, row, now) for row in latest)
    session.flush()
    return len(latest)


def last_notified_order(
    session: Session, phone: str, now: dt.datetime | None = None
) -> str | None:
    """The order the latest text to `phone` was about (within CONTEXT_WINDOW).

    Keyed by the phone the SMS channel vouches for; read on the server only, so
    nothing a client sends can point it at another order.
    """
    now = now or utcnow()
    row = session.scalars(
        select(Notification)
        .where(
            Notification.channel == S.SMS,
            Notification.address == phone,
            Notification.status == Q.SENT,
            Notification.order_id.is_not(None),
            Notification.sent_at > now - CONTEXT_WINDOW,
        )
        .order_by(Notification.sent_at.desc(), Notification.id.desc())
        .limit(1)
    ).first()
    return row.order.number if row is not None and row.order is not None else None


def for_customer(
    session: Session, customer_id: int, limit: int = 20
) -> list[Notification]:
    """The customer's latest notifications, newest first (the console shows them)."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.customer_id == customer_id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )
