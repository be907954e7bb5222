"""Proactive messages: consent, STOP, quiet hours, cap, supersede, sending, context.

Sending commits its own transactions, so these tests use a database of their own
(SQLite file and PostgreSQL); each test makes its own customers and orders. The
clock is always passed in: nothing here depends on the day it runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioRestException

from bot.models import ChatMessage, OrderStatus, Sender
from bot.proactive.schema import (
    ConsentChannel,
    ConsentSource,
    EventKind,
    EventSource,
    Notification,
    NotificationStatus,
)
from bot.services import consent, messaging, notifications, shop_events
from bot.services.shop_events import OrderEvent
from tests.conftest import own_database
from tests.unit.console.helpers import FakeSms
from tests.unit.proactive_setup import new_customer, new_order, rules

Q = NotificationStatus
SMS, WEB = ConsentChannel.SMS, ConsentChannel.WEB
# 10:00 and 23:30 in New York (the shop's zone) on a Tuesday.
MORNING = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.timezone.utc)
NIGHT = dt.datetime(2026, 3, 11, 3, 30, tzinfo=dt.timezone.utc)
NEXT_MORNING = dt.datetime(2026, 3, 11, 12, 0, tzinfo=dt.timezone.utc)  # 08:00 EDT


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    folder = str(tmp_path_factory.mktemp("notifications"))
    with own_database(request.param, folder) as made:
        yield made


def shipped(session: Session, sms_ok: bool = True, **kwargs: object) -> int:
    """A customer's order ships at `now`: the id of its SMS notification."""
    now = kwargs.pop("now", MORNING)
    customer = new_customer(session, **kwargs)  # type: ignore[arg-type]
    order = new_order(session, customer)
    event = OrderEvent(f"evt-{order.number}", EventKind.SHIPPED, order.number,
                       {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"})  # fmt: skip
    received = shop_events.receive(session, event, EventSource.WEBHOOK, rules(), now)  # type: ignore[arg-type]
    return next(n.id for n in received.notifications if n.channel == SMS)


def row(factory: sessionmaker[Session], notification_id: int) -> Notification:
    with factory() as session:
        found = session.get(Notification, notification_id)
        assert found is not None
        session.expunge(found)
        return found


def test_an_update_is_stored_then_sent_with_how_to_stop(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        notification_id = shipped(session)
    sms = FakeSms()
    assert (
        notifications.deliver_due(factory, sms, rules(), MORNING)[notification_id]
        == Q.SENT
    )
    [(to, body)] = [sent for sent in sms.sent if sent[1].startswith("Hi Nora")]
    assert "has shipped with UPS (tracking 1Z999AA10123456784)" in body
    assert body.endswith("Reply STOP to opt out.")
    sent = row(factory, notification_id)
    assert (sent.status, sent.address, sent.sent_at) == (Q.SENT, to, MORNING)


def test_without_consent_nothing_is_sent_and_the_reason_is_kept(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        notification_id = shipped(session, consents=(WEB,))
    notified = row(factory, notification_id)
    assert notified.status == Q.SUPPRESSED
    assert notified.reason == "the customer has not agreed to updates by SMS"


def test_stop_wins_over_consent_even_after_the_update_was_planned(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        notification_id = shipped(session)
        phone = session.get(Notification, notification_id).address  # type: ignore[union-attr]
        assert phone is not None
        messaging.opt_out(session, phone)
    sms = FakeSms()
    assert (
        notifications.deliver(factory, notification_id, sms, rules(), MORNING)
        == Q.SUPPRESSED
    )
    assert sms.sent == []
    assert row(factory, notification_id).reason == "the customer texted STOP"


def test_a_night_time_text_waits_for_the_morning_boundary(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        notification_id = shipped(session, now=NIGHT)
    queued = row(factory, notification_id)
    assert (queued.status, queued.next_attempt_at) == (Q.QUEUED, NEXT_MORNING)
    sms = FakeSms()
    just_before = NEXT_MORNING - dt.timedelta(seconds=1)
    assert notification_id not in notifications.deliver_due(
        factory, sms, rules(), just_before
    )
    assert (
        notifications.deliver_due(factory, sms, rules(), NEXT_MORNING)[notification_id]
        == Q.SENT
    )


def test_quiet_hours_follow_the_customers_own_time_zone(
    factory: sessionmaker[Session],
) -> None:
    # 03:30 UTC is 12:30 in Tokyo: not night there.
    with factory.begin() as session:
        notification_id = shipped(session, now=NIGHT, timezone="Asia/Tokyo")
    assert row(factory, notification_id).next_attempt_at == NIGHT


def test_web_chat_updates_are_not_held_by_quiet_hours(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        shipped(session, now=NIGHT)
        web = session.scalars(
            select(Notification).where(Notification.channel == WEB)
            .order_by(Notification.id.desc())
        ).first()  # fmt: skip
        assert web is not None and web.next_attempt_at == NIGHT


def test_a_newer_event_supersedes_an_unsent_older_one(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        customer = new_customer(session)
        order = new_order(session, customer)
        first = shop_events.receive(
            session, OrderEvent("a-" + order.number, EventKind.SHIPPED, order.number,
                                {"carrier": "UPS", "tracking_number": "1Z"}),
            EventSource.WEBHOOK, rules(), NIGHT,
        )  # fmt: skip
        shop_events.receive(
            session, OrderEvent("b-" + order.number, EventKind.DELIVERED, order.number),
            EventSource.WEBHOOK, rules(), NIGHT,
        )  # fmt: skip
        older = [n.id for n in first.notifications]
    for notification_id in older:
        superseded = row(factory, notification_id)
        assert superseded.status == Q.SUPPRESSED
        assert superseded.reason == "superseded by a newer update (delivered)"


def test_the_daily_cap_suppresses_what_goes_beyond_it(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        customer = new_customer(session)
        ids = []
        for _ in range(3):  # three orders, one update each
            order = new_order(session, customer)
            received = shop_events.receive(
                session, OrderEvent("c-" + order.number, EventKind.CANCELLED, order.number),
                EventSource.WEBHOOK, rules(), MORNING,
            )  # fmt: skip
            ids.append(next(n.id for n in received.notifications if n.channel == SMS))
    outcomes = notifications.deliver_due(factory, FakeSms(), rules(cap=2), MORNING)
    assert [outcomes[i] for i in ids] == [Q.SENT, Q.SENT, Q.SUPPRESSED]
    assert row(factory, ids[2]).reason == "daily cap of 2 updates reached"


def test_twilio_failures_are_retried_then_given_up(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        notification_id = shipped(session)
    sms = FakeSms(error=TwilioRestException(503, "uri", "unavailable", code=20500))
    moment = MORNING
    for _ in range(notifications.MAX_ATTEMPTS - 1):
        assert (
            notifications.deliver(factory, notification_id, sms, rules(), moment)
            == Q.QUEUED
        )
        moment = row(factory, notification_id).next_attempt_at  # type: ignore[assignment]
    assert (
        notifications.deliver(factory, notification_id, sms, rules(), moment)
        == Q.FAILED
    )
    failed = row(factory, notification_id)
    assert failed.reason is not None and failed.reason.startswith(
        "gave up after 8 tries"
    )


def test_a_permanent_twilio_error_fails_at_once(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        notification_id = shipped(session)
    sms = FakeSms(error=TwilioRestException(400, "uri", "invalid", code=21211))
    assert (
        notifications.deliver(factory, notification_id, sms, rules(), MORNING)
        == Q.FAILED
    )
    assert (
        row(factory, notification_id).reason
        == "the customer's phone number is not valid"
    )


def test_web_updates_go_live_into_the_signed_in_chat_and_top_the_next_one(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        customer = new_customer(session)
        notifications.show_on_sign_in(session, customer.id, "web-live", MORNING)
        order = new_order(session, customer)
        received = shop_events.receive(
            session, OrderEvent("w-" + order.number, EventKind.DELAYED, order.number,
                                {"new_date": "2026-03-14"}),
            EventSource.WEBHOOK, rules(), MORNING,
        )  # fmt: skip
        web_id = next(n.id for n in received.notifications if n.channel == WEB)
        customer_id = customer.id
    notifications.deliver_due(factory, FakeSms(), rules(), MORNING)
    assert row(factory, web_id).address == "web-live"
    later = MORNING + dt.timedelta(days=1)
    with factory.begin() as session:
        assert (
            notifications.show_on_sign_in(session, customer_id, "web-next", later) == 1
        )
    with factory() as session:
        for conversation in ("web-live", "web-next"):
            [line] = session.scalars(
                select(ChatMessage).where(ChatMessage.conversation_id == conversation)
            )
            assert line.sender == Sender.SYSTEM
            assert "running late. We now expect it on Saturday, March 14" in line.text


def test_the_last_texted_order_is_remembered_for_the_customers_phone(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        notification_id = shipped(session)
    notifications.deliver_due(factory, FakeSms(), rules(), MORNING)
    sent = row(factory, notification_id)
    assert sent.address is not None
    with factory() as session:
        number = notifications.last_notified_order(session, sent.address, MORNING)
        order = session.get(Notification, notification_id).order  # type: ignore[union-attr]
        assert number == order.number  # type: ignore[union-attr]
        too_late = MORNING + notifications.CONTEXT_WINDOW
        assert (
            notifications.last_notified_order(session, sent.address, too_late) is None
        )
        assert (
            notifications.last_notified_order(session, "+15555550100", MORNING) is None
        )


def test_consent_keeps_its_source_and_the_latest_word(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as session:
        customer = new_customer(session, consents=())
        assert consent.refusal(session, customer, SMS) is not None
        assert consent.opt_in_by_text(session, customer.phone or "")
        assert consent.refusal(session, customer, SMS) is None
        assert consent.agreed_channels(session, customer.id) == ["SMS (sms_keyword)"]
        consent.record(session, customer, SMS, False, ConsentSource.WEB_CHAT)
        assert consent.agreed_channels(session, customer.id) == []
        assert not consent.opt_in_by_text(session, "+15555550100")


def test_order_status_words_fill_the_templates(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        customer = new_customer(session)
        order = new_order(session, customer, OrderStatus.SHIPPED)
        order.carrier, order.tracking_number = "FedEx", "7489"
        received = shop_events.receive(
            session, OrderEvent("o-" + order.number, EventKind.OUT_FOR_DELIVERY,
                                order.number), EventSource.WEBHOOK, rules(), MORNING,
        )  # fmt: skip
        texts = {n.channel: n.text for n in received.notifications}
    assert (
        texts[WEB] == f"Your order {order.number} is out for delivery today with FedEx."
    )
