"""A signed-in customer's choice of order updates through the chat API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import migrate
from bot.db import make_engine
from bot.models import Customer
from bot.proactive.schema import ContactConsent
from bot.seed import seed_demo_data
from bot.web import create_app

ORIGIN = {"Origin": "http://localhost"}
UPDATES = "/chat/api/updates"


@pytest.fixture
def app(tmp_path: Path, closed_port: int) -> Flask:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        seed_demo_data(session)
    engine.dispose()
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "RASA_URL": f"http://127.0.0.1:{closed_port}",  # never asked here
        }
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def sign_in(client: FlaskClient, email: str) -> None:
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = client.post(
        "/shop/login",
        data={"email": email, "password": "demo", "csrf_token": token[1]},
    )
    assert response.status_code == 302


def choose(client: FlaskClient, body: Any, headers: dict[str, str] = ORIGIN) -> Any:
    return client.post(UPDATES, json=body, headers=headers)


def consents(app: Flask) -> list[tuple[str, str, bool, str]]:
    with app.extensions["session_factory"]() as session:
        rows = session.execute(
            select(Customer.email, ContactConsent)
            .join(Customer, Customer.id == ContactConsent.customer_id)
            .order_by(ContactConsent.channel)
        )
        return [
            (email, row.channel.value, row.granted, row.source.value)
            for email, row in rows
        ]


def test_a_signed_in_customer_opts_in_and_out_from_the_chat(
    app: Flask, client: FlaskClient
) -> None:
    sign_in(client, "jane.doe@example.com")
    assert client.get(UPDATES).get_json() == {"sms": False, "web": False}
    response = choose(client, {"web": True, "sms": True})
    assert (response.status_code, response.get_json()) == (
        200, {"sms": True, "web": True},
    )  # fmt: skip
    assert client.get(UPDATES).get_json() == {"sms": True, "web": True}
    assert choose(client, {"sms": False}).get_json() == {"sms": False, "web": True}
    assert consents(app) == [
        ("jane.doe@example.com", "sms", False, "web_chat"),
        ("jane.doe@example.com", "web", True, "web_chat"),
    ]


def test_nobody_signed_in_cannot_choose(app: Flask, client: FlaskClient) -> None:
    assert client.get(UPDATES).status_code == 401
    response = choose(client, {"web": True})
    assert (response.status_code, response.get_json()["error"]) == (
        401, "sign_in_required",
    )  # fmt: skip
    assert consents(app) == []


def test_updates_by_text_need_a_phone_on_the_account(
    app: Flask, client: FlaskClient
) -> None:
    sign_in(client, "tom.obrien@example.com")  # the demo customer without a phone
    response = choose(client, {"web": True, "sms": True})
    assert (response.status_code, response.get_json()["error"]) == (409, "no_phone")
    assert consents(app) == []  # not even the web half: one answer, kept whole


@pytest.mark.parametrize(
    "body",
    [{}, [], "yes", 0, {"email": True}, {"web": "yes"}, {"web": 1}, {"web": None}],
)
def test_bad_choices_get_a_400_and_record_nothing(
    app: Flask, client: FlaskClient, body: Any
) -> None:
    sign_in(client, "jane.doe@example.com")
    response = choose(client, body)
    assert (response.status_code, response.get_json()["error"]) == (
        400, "invalid_choice",
    )  # fmt: skip
    assert consents(app) == []


def test_a_choice_from_another_site_is_refused(app: Flask, client: FlaskClient) -> None:
    sign_in(client, "jane.doe@example.com")
    response = choose(client, {"web": True}, {"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert consents(app) == []
