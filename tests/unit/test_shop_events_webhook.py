"""The shop's events webhook (bot/web/shop_events.py): signatures, replays, bad input.

The Flask app on SQLite and PostgreSQL with the demo data. Whatever arrives, the
answer is 202/200 for a good signed event or a clear 4xx, never a 500; a refused
request leaves every table as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.proactive.schema import ShopEvent
from tests.shop_webhook import EVENTS_PATH, encode, event, signed
from tests.unit.bad_input import (
    NASTY_STRINGS,
    app_engine,
    json_objects,
    json_values,
    raw_bytes,
    stored_nothing,
)
from tests.unit.console.helpers import FakeSms, app_on, snapshot

# Jane's delivered order: a refund changes nothing other tests read.
ORDER = "100318"


@pytest.fixture
def app(engine: Engine) -> Iterator[Flask]:
    with app_on(engine, FakeSms()) as made:
        yield made


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def secret(app: Flask) -> str:
    return str(app.config["SETTINGS"].shop_webhook_secret)


def post(client: FlaskClient, body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(EVENTS_PATH, data=body, headers=headers)


def test_a_signed_event_is_taken_once(app: Flask, client: FlaskClient) -> None:
    payload = event("refund_issued", ORDER, amount_cents=4900)
    body = encode(payload)
    accepted = post(client, body, signed(body, secret(app)))
    assert accepted.status_code == 202, accepted.json
    assert accepted.json["status"] == "accepted"
    assert {n["channel"] for n in accepted.json["notifications"]} == {"sms", "web"}
    # The shop retries (a new signature, the same event id): nothing new.
    again = post(client, body, signed(body, secret(app), int(time.time()) + 1))
    assert (again.status_code, again.json["status"]) == (200, "duplicate")
    with app.extensions["session_factory"]() as db:
        keys = db.scalars(select(ShopEvent).where(ShopEvent.event_key == payload["id"]))
        assert len(list(keys)) == 1


def test_forged_stale_and_replayed_requests_are_refused(
    app: Flask, client: FlaskClient
) -> None:
    engine = app_engine(app)
    body = encode(event("refund_issued", ORDER))
    before = snapshot(engine)
    forged = signed(body, "not-the-secret")
    stale = signed(body, secret(app), int(time.time()) - 301)
    for headers in (forged, stale, {"Content-Type": "application/json"}):
        refused = post(client, body, headers)
        assert refused.status_code == 401
        assert refused.json["error"] in ("bad_signature", "stale")
    assert stored_nothing(engine, before)
    good = signed(body, secret(app))
    assert post(client, body, good).status_code == 202
    after_first = snapshot(engine)
    replayed = post(client, body, good)
    assert (replayed.status_code, replayed.json["error"]) == (401, "replayed")
    assert stored_nothing(engine, after_first)


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (event("shipped", "000000", carrier="UPS", tracking_number="1"), 404,
         "unknown_order"),
        (event("teleported", ORDER), 400, "unknown_event"),
        (event("delayed", ORDER, new_date="next week"), 400, "invalid_field"),
        ({"type": "delivered"}, 400, "invalid_field"),
    ],
)  # fmt: skip
def test_events_that_cannot_be_taken_get_a_clear_4xx_and_store_nothing(
    app: Flask, client: FlaskClient, payload: dict[str, object], status: int, code: str
) -> None:
    engine = app_engine(app)
    before = snapshot(engine)
    body = encode(payload)
    refused = post(client, body, signed(body, secret(app)))
    assert (refused.status_code, refused.json["error"]) == (status, code)
    assert stored_nothing(engine, before)


def test_a_huge_body_is_refused_before_anything_else(
    app: Flask, client: FlaskClient
) -> None:
    body = b"{" + b" " * 70_000 + b"}"
    refused = post(client, body, signed(body, secret(app)))
    assert (refused.status_code, refused.json["error"]) == (413, "too_large")


@given(body=raw_bytes())
def test_unsigned_bytes_are_refused(
    client: FlaskClient, app: Flask, body: bytes
) -> None:
    engine = app_engine(app)
    before = snapshot(engine)
    headers = {"Content-Type": "application/json", "X-Shop-Signature": "sha256=00"}
    refused = post(client, body, headers)
    assert refused.status_code in (401, 413)
    assert stored_nothing(engine, before)


@given(
    payload=st.one_of(
        json_values(),
        json_objects({
            "id": st.one_of(st.sampled_from(NASTY_STRINGS), json_values()),
            "type": st.one_of(
                st.sampled_from(("shipped", "delayed", "delivered", "refund_issued",
                                 "ticket_resolved", "SHIPPED")), json_values()),
            "order": st.one_of(st.sampled_from((ORDER, *NASTY_STRINGS)), json_values()),
            "data": st.one_of(json_values(), json_objects({
                "carrier": st.sampled_from(NASTY_STRINGS),
                "tracking_number": st.sampled_from(NASTY_STRINGS),
                "new_date": st.sampled_from(("2026-02-30", "2026-12-01", *NASTY_STRINGS)),
                "amount_cents": json_values(),
            })),
        }),
    )
)  # fmt: skip
def test_signed_bodies_of_any_shape_are_taken_or_refused_with_4xx(
    client: FlaskClient, app: Flask, payload: object
) -> None:
    engine = app_engine(app)
    before = snapshot(engine)
    body = encode(payload)
    answer = post(client, body, signed(body, secret(app)))
    assert answer.status_code in (200, 202, 400, 404, 413), answer.data[:300]
    assert answer.is_json and "error" in answer.json or answer.status_code < 300
    if answer.status_code >= 400:
        assert stored_nothing(engine, before)
