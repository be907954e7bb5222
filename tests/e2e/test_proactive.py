"""Proactive updates end to end: the shop's webhook in, the worker, Twilio out, replies.

The whole stack (tests/stack.py) with the fake Twilio REST endpoint. Each test makes
its own customer and order in the stack's database, in a time zone where it is
midday now, so quiet hours never hold these texts; the night-time test picks a zone
where it is 2 a.m. and runs the worker's round itself, on an injected clock.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot import clock
from bot.models import OrderStatus
from bot.proactive.schema import (
    ConsentChannel,
    Notification,
    NotificationStatus,
    ShopEvent,
)
from bot.services.notifications import Rules
from bot.settings import Settings, local_secrets
from bot.twilio_client import TwilioClient
from bot.worker import Worker
from tests.customers import text
from tests.shop_webhook import EVENTS_PATH, encode, event, signed
from tests.stack import SHOP_NUMBER, TWILIO_ACCOUNT_SID, Stack
from tests.unit.proactive_setup import new_customer, new_order

WAIT = 30.0


def zone_at(hour: int) -> str:
    """An IANA zone where it is `hour` o'clock now (Etc/GMT signs are inverted)."""
    offset = (hour - clock.system_clock().hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


def customer_with_order(stack: Stack, hour: int = 12) -> tuple[str, str]:
    """A new customer (SMS and web consent) with an order: phone, order number.

    The customer lives where it is `hour` o'clock now.
    """
    with stack.session() as session, session.begin():
        customer = new_customer(session, timezone=zone_at(hour))
        order = new_order(session, customer, OrderStatus.PROCESSING)
        assert customer.phone is not None
        return customer.phone, order.number


def send(stack: Stack, payload: dict[str, object], **sign: int) -> requests.Response:
    body = encode(payload)
    secret = local_secrets(stack.logs)["SHOP_WEBHOOK_SECRET"]
    return requests.post(
        f"{stack.web_url}{EVENTS_PATH}",
        data=body,
        headers=signed(body, secret, sign.get("timestamp")),
        timeout=10,
    )


def texts_to(stack: Stack, phone: str, count: int = 1) -> list[str]:
    """The texts the fake Twilio got for `phone`, once there are `count` of them."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        bodies = [m.body for m in stack.twilio.sent if m.to == phone]
        if len(bodies) >= count:
            return bodies
        time.sleep(0.2)
    return [m.body for m in stack.twilio.sent if m.to == phone]


def settled(stack: Stack, order_number: str) -> list[Notification]:
    """The order's notifications once none is queued any more."""
    deadline = time.monotonic() + WAIT
    while True:
        with stack.session() as session:
            rows = list(
                session.scalars(
                    select(Notification)
                    .join(ShopEvent, Notification.event_id == ShopEvent.id)
                    .where(ShopEvent.event_key.like("evt_%"))
                    .where(Notification.order.has(number=order_number))
                    .order_by(Notification.id)
                )
            )
        queued = [r for r in rows if r.status == NotificationStatus.QUEUED]
        if rows and not queued or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_a_shipped_event_is_texted_once_even_when_sent_twice(stack: Stack) -> None:
    phone, number = customer_with_order(stack)
    payload = event("shipped", number, carrier="UPS", tracking_number="1Z999AA1E2E")
    assert send(stack, payload).status_code == 202
    duplicate = send(stack, payload, timestamp=int(time.time()) + 1)
    assert (duplicate.status_code, duplicate.json()["status"]) == (200, "duplicate")
    [body] = texts_to(stack, phone)
    assert f"your Switchboard demo shop order {number} has shipped with UPS" in body
    assert "(tracking 1Z999AA1E2E)" in body and body.endswith("Reply STOP to opt out.")
    statuses = {r.channel.value: r.status for r in settled(stack, number)}
    assert statuses["sms"] == NotificationStatus.SENT
    assert len(texts_to(stack, phone)) == 1


def test_a_night_time_event_is_texted_at_the_morning_boundary(stack: Stack) -> None:
    phone, number = customer_with_order(stack, hour=2)
    assert send(stack, event("out_for_delivery", number)).status_code == 202
    with stack.session() as session:
        [sms] = session.scalars(
            select(Notification)
            .where(Notification.order.has(number=number))
            .where(Notification.channel == ConsentChannel.SMS)
        ).all()
    # Planned in the webhook's transaction, and held: nobody sends it now.
    assert sms.status == NotificationStatus.QUEUED
    local = clock.system_clock().astimezone(ZoneInfo(zone_at(2)))
    morning = dt.datetime.combine(local.date(), dt.time(8), local.tzinfo)
    assert sms.next_attempt_at == morning
    # The worker's round, in this process, on an injected clock; Twilio is the fake.
    settings = Settings()
    worker = Worker(
        factory=sessionmaker(stack.engine),
        sms=TwilioClient(TWILIO_ACCOUNT_SID, stack.twilio_token, SHOP_NUMBER,
                         stack.twilio.url),
        secret=stack.secret,
        rules=Rules.from_settings(settings),
    )  # fmt: skip
    with clock.frozen_at(morning - dt.timedelta(seconds=1)):
        assert sms.id not in worker.notify()
    assert [b for b in texts_to(stack, phone, 0) if number in b] == []
    with clock.frozen_at(morning):
        assert worker.notify()[sms.id] == NotificationStatus.SENT
    [body] = texts_to(stack, phone)
    assert f"order {number} is out for delivery today" in body


def test_a_number_that_texted_stop_is_suppressed(stack: Stack) -> None:
    phone, number = customer_with_order(stack)
    text(stack, "STOP", phone)
    assert send(stack, event("delivered", number)).status_code == 202
    sms = next(r for r in settled(stack, number) if r.channel.value == "sms")
    assert (sms.status, sms.reason) == (
        NotificationStatus.SUPPRESSED, "the customer texted STOP",
    )  # fmt: skip
    assert [b for b in texts_to(stack, phone, 2) if number in b] == []


def test_forged_and_replayed_webhooks_get_401_and_store_nothing(stack: Stack) -> None:
    _, number = customer_with_order(stack)
    payload = event("cancelled", number)
    body = encode(payload)
    forged = requests.post(
        f"{stack.web_url}{EVENTS_PATH}", data=body,
        headers=signed(body, "guessed-secret"), timeout=10,
    )  # fmt: skip
    assert forged.status_code == 401
    secret = local_secrets(stack.logs)["SHOP_WEBHOOK_SECRET"]
    headers = signed(body, secret)
    url = f"{stack.web_url}{EVENTS_PATH}"
    assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 202
    replay = requests.post(url, data=body, headers=headers, timeout=10)
    assert (replay.status_code, replay.json()["error"]) == (401, "replayed")
    with stack.session() as session:
        stored = session.scalars(
            select(ShopEvent).where(ShopEvent.event_key == payload["id"])
        ).all()
        assert len(stored) == 1  # the accepted one, nothing from the other two


def test_a_reply_to_an_update_is_answered_about_that_order(stack: Stack) -> None:
    phone, number = customer_with_order(stack)
    payload = event("shipped", number, carrier="FedEx", tracking_number="7489E2E")
    assert send(stack, payload).status_code == 202
    assert texts_to(stack, phone)
    answer = " ".join(text(stack, "where is my order?", phone))
    assert f"Your order {number} has shipped" in answer, answer
    assert "FedEx" in answer
