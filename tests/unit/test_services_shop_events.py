"""Events in: parsing the shop's events, idempotency, CLI edits, late orders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import OrderStatus, Segment, Ticket
from bot.proactive.schema import (
    ConsentChannel,
    EventKind,
    EventSource,
    NotificationStatus,
    ShopEvent,
)
from bot.proactive.templates import TemplateError, check, load
from bot.services import shop_events
from bot.services.quiet_hours import QuietHours
from bot.services.shop_events import BadEvent, OrderEvent, UnknownOrder
from tests.unit.proactive_setup import TEMPLATES, new_customer, new_order, rules

NOW = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.timezone.utc)
TODAY = dt.date(2026, 3, 10)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ([], "malformed"),
        ({"type": "shipped", "order": "1"}, "invalid_field"),
        ({"id": "e1", "type": "teleported", "order": "1"}, "unknown_event"),
        ({"id": "e1", "type": "ticket_resolved", "order": "1"}, "unknown_event"),
        ({"id": "e1", "type": "shipped", "order": "1"}, "invalid_field"),
        ({"id": "e1", "type": "delayed", "order": "1", "data": {"new_date": "soon"}},
         "invalid_field"),
        ({"id": "e1", "type": "refund_issued", "order": "1",
          "data": {"amount_cents": True}}, "invalid_field"),
        ({"id": "x" * 129, "type": "delivered", "order": "1"}, "invalid_field"),
        ({"id": "e1", "type": "delivered", "order": "1", "data": []}, "invalid_field"),
    ],
)  # fmt: skip
def test_events_the_shop_gets_wrong_are_named(payload: object, code: str) -> None:
    with pytest.raises(BadEvent) as refused:
        shop_events.parse(payload)
    assert refused.value.code == code


def test_a_good_event_is_parsed() -> None:
    parsed = shop_events.parse(
        {"id": "e1", "type": "delayed", "order": "104257",
         "data": {"new_date": "2026-03-14"}}
    )  # fmt: skip
    assert parsed == OrderEvent(
        "e1", EventKind.DELAYED, "104257", {"new_date": "2026-03-14"}
    )


def test_an_event_is_applied_once_however_often_it_arrives(session: Session) -> None:
    customer = new_customer(session)
    order = new_order(session, customer)
    event = OrderEvent("twice", EventKind.SHIPPED, order.number,
                       {"carrier": "USPS", "tracking_number": "9400"})  # fmt: skip
    first = shop_events.receive(session, event, EventSource.WEBHOOK, rules(), NOW)
    again = shop_events.receive(session, event, EventSource.WEBHOOK, rules(), NOW)
    assert not first.duplicate and again.duplicate and again.notifications == ()
    assert (order.status, order.carrier, order.tracking_number) == (
        OrderStatus.SHIPPED, "USPS", "9400",
    )  # fmt: skip
    assert len(first.notifications) == 2
    count = select(func.count(ShopEvent.id)).where(ShopEvent.event_key == "twice")
    assert session.scalar(count) == 1


def test_an_unknown_order_is_refused(session: Session) -> None:
    with pytest.raises(UnknownOrder):
        shop_events.receive(
            session, OrderEvent("u", EventKind.DELIVERED, "000000"),
            EventSource.WEBHOOK, rules(), NOW,
        )  # fmt: skip


def test_edits_that_customers_hear_about_make_events(session: Session) -> None:
    customer = new_customer(session)
    order = new_order(session, customer, OrderStatus.SHIPPED, TODAY)
    order.estimated_delivery = TODAY + dt.timedelta(days=2)
    later = shop_events.order_changed(
        session, order, (OrderStatus.SHIPPED, TODAY), EventSource.CLI, rules(), NOW
    )
    assert later is not None and later.event.kind == EventKind.DELAYED
    order.status = OrderStatus.DELIVERED
    done = shop_events.order_changed(
        session, order, (OrderStatus.SHIPPED, order.estimated_delivery),
        EventSource.IMPORT, rules(), NOW,
    )  # fmt: skip
    assert done is not None and done.event.kind == EventKind.DELIVERED
    assert done.event.source == EventSource.IMPORT
    unchanged = shop_events.order_changed(
        session, order, (OrderStatus.DELIVERED, order.estimated_delivery),
        EventSource.CLI, rules(), NOW,
    )  # fmt: skip
    assert unchanged is None
    assert shop_events.order_changed(
        session, order, (None, None), EventSource.CLI, rules(), NOW
    ) is None  # fmt: skip


def test_a_late_order_becomes_one_delayed_event_and_a_vip_gets_a_ticket(
    session: Session,
) -> None:
    vip = new_customer(session, segment=Segment.VIP)
    late = new_order(session, vip, OrderStatus.SHIPPED, TODAY - dt.timedelta(days=1))
    made = shop_events.late_orders(session, rules(), TODAY, NOW)
    mine = [r for r in made if r.event.order_id == late.id]
    assert len(mine) == 1 and mine[0].event.source == EventSource.WORKER
    again = shop_events.late_orders(session, rules(), TODAY, NOW)
    assert not [r for r in again if r.event.order_id == late.id]
    [ticket] = session.scalars(select(Ticket).where(Ticket.order_id == late.id))
    assert ticket.subject == f"VIP order {late.number} is late"
    sms = next(n for n in mine[0].notifications if n.channel == ConsentChannel.SMS)
    assert "We now expect it as soon as we hear from the carrier." in sms.text


def test_a_told_ticket_update_is_kept_but_suppressed(session: Session) -> None:
    from bot.models import Channel, TicketCategory, TicketStatus
    from bot.services.tickets import TicketRequest, open_ticket

    customer = new_customer(session)
    ticket = open_ticket(
        session,
        TicketRequest(Channel.WEB, TicketCategory.PROBLEM, "Broken lamp",
                      customer=customer),
    )  # fmt: skip
    ticket.status = TicketStatus.RESOLVED
    told = shop_events.ticket_changed(
        session, ticket, rules(), NOW, told_in_conversation=True
    )
    assert told is not None
    assert {n.status for n in told.notifications} == {NotificationStatus.SUPPRESSED}
    fresh = shop_events.ticket_changed(session, ticket, rules(), NOW)
    assert fresh is not None
    sms = next(n for n in fresh.notifications if n.channel == ConsentChannel.SMS)
    assert f"request {ticket.reference} is resolved" in sms.text


def test_the_shipped_templates_pass_their_check() -> None:
    loaded = load(TEMPLATES)
    assert len(loaded.texts) == len(EventKind) * len(ConsentChannel)


def test_unknown_placeholders_are_refused_at_start(tmp_path: Path) -> None:
    for source in TEMPLATES.glob("*.txt"):
        (tmp_path / source.name).write_text(source.read_text())
    (tmp_path / "delivered.sms.txt").write_text("Order {order} arrived {trackng}")
    with pytest.raises(TemplateError, match="trackng"):
        load(tmp_path)
    (tmp_path / "delivered.sms.txt").unlink()
    with pytest.raises(TemplateError, match="missing template"):
        load(tmp_path)
    (tmp_path / "delivered.sms.txt").write_text("fine {order}")
    (tmp_path / "teleported.sms.txt").write_text("x")
    with pytest.raises(TemplateError, match="unknown template file"):
        load(tmp_path)
    with pytest.raises(TemplateError, match="plain placeholder"):
        check(EventKind.DELIVERED, ConsentChannel.WEB, "{order!r}")
    with pytest.raises(TemplateError):
        check(EventKind.DELIVERED, ConsentChannel.WEB, "{order")


def test_quiet_hours_parse_and_cross_midnight() -> None:
    window = QuietHours.parse("21:00-08:00")
    assert window is not None
    assert window.contains(dt.time(23)) and window.contains(dt.time(7, 59))
    assert not window.contains(dt.time(8)) and not window.contains(dt.time(20, 59))
    assert QuietHours.parse("") is None
    for bad in ("9pm-8am", "25:00-08:00", "08:00-08:00"):
        with pytest.raises(ValueError, match="QUIET_HOURS"):
            QuietHours.parse(bad)
