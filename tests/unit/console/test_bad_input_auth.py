"""Bad input at the console's sign-in (bot/web/console/auth.py): never a 500.

Any form (or body) posted to the sign-in page, with the page's form token or
without: a redirect into the console (to a console page only, whatever `next`
says), or a 4xx with the page. Signing in stores nothing, and neither does a refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, example, given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from tests.unit.bad_input import app_engine, form_texts, raw_bytes, stored_nothing
from tests.unit.console.helpers import (
    PASSWORD,
    FakeSms,
    app_on,
    csrf,
    snapshot,
)

ADA = "ada@support.example.com"


@pytest.fixture
def app(engine: Engine, sms: FakeSms) -> Iterator[Flask]:
    """The console app; one client may fail often, so each try reaches the check."""
    with app_on(engine, sms, CONSOLE_LOGIN_MAX_FAILURES_PER_CLIENT=10**6) as made:
        yield made


def into_the_console(location: str) -> bool:
    parts = urlsplit(location)
    return parts.netloc in ("", "localhost") and parts.path.startswith("/console/")


NEXT = st.one_of(
    form_texts(max_size=80, long=3_000),
    st.sampled_from(
        (
            "/console/tickets/T-7K4M9Q",
            "//evil.example/console/",
            "https://evil.example/console/",
            "/console/../account",
            "/console/\\evil",
            "/console/\r\nSet-Cookie: x=1",
            "javascript:alert(1)",
        )
    ),
)


@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            "email": st.one_of(st.just(ADA), st.just(ADA.upper()), form_texts()),
            "password": st.one_of(st.just(PASSWORD), form_texts(long=5_000)),
            "next": NEXT,
            "extra": form_texts(),
        },
    ),
    token=st.sampled_from(("page", "none", "wrong")),
)
@example(fields={"email": ADA, "password": PASSWORD, "next": "//evil/"}, token="page")
@example(fields={"email": f" {ADA.upper()} ", "password": PASSWORD}, token="page")
def test_any_sign_in_form_is_answered(
    app: Flask, client: FlaskClient, ada: int, fields: dict[str, str], token: str
) -> None:
    form: dict[str, Any] = dict(fields)
    if token != "none":
        form["csrf_token"] = csrf(client) if token == "page" else "x" * 43
    before = snapshot(app_engine(app))
    response = client.post("/console/login", data=form)
    event(f"status {response.status_code}")
    assert response.status_code in (303, 400, 401, 413, 429), response.status_code
    assert stored_nothing(app_engine(app), before)
    if response.status_code == 303:
        assert into_the_console(response.headers["Location"])
        client.post("/console/logout", data={"csrf_token": csrf(client)})


@given(
    body=raw_bytes(),
    content_type=st.sampled_from(
        ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
         "application/json", "text/plain")
    ),
)  # fmt: skip
def test_any_body_posted_to_sign_in_is_refused(
    app: Flask, client: FlaskClient, body: bytes, content_type: str
) -> None:
    before = snapshot(app_engine(app))
    response = client.post("/console/login", data=body, content_type=content_type)
    event(f"status {response.status_code}")
    assert response.status_code in (400, 413), response.status_code
    assert stored_nothing(app_engine(app), before)


@given(target=NEXT)
def test_the_sign_in_page_takes_any_next(agent: FlaskClient, target: str) -> None:
    """Signed in, the page sends the agent on, to a console page only."""
    response = agent.get("/console/login", query_string={"next": target})
    assert response.status_code == 303
    assert into_the_console(response.headers["Location"])


@given(target=NEXT)
def test_signed_out_requests_are_sent_to_sign_in(
    client: FlaskClient, target: str
) -> None:
    page = client.get("/console/login", query_string={"next": target})
    assert page.status_code == 200
    api = client.get("/console/api/queue", query_string={"next": target})
    assert api.status_code == 401 and api.get_json()["error"] == "unauthorized"
