"""Bad input at the registration link's page (bot/web/registration.py): never a 500.

Any token in the mailed link's place (garbage, tampered, signed for something else,
or signed by us around data of the wrong shape), with or without the page's form
token, on SQLite and PostgreSQL: the page, or a 4xx that creates no customer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from bot.services.registration import LINK_SALT
from bot.signing import serializer
from tests.unit.bad_input import app_engine, json_values, stored_nothing, texts
from tests.unit.console.helpers import (
    FakeSms,
    app_on,
    snapshot,
)

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(engine: Engine) -> Iterator[Flask]:
    with app_on(engine, FakeSms()) as made:
        yield made


def tokens(secret: str) -> st.SearchStrategy[str]:
    """What may stand where the link's token goes."""
    ours = serializer(secret, LINK_SALT)
    return st.one_of(
        texts(max_size=200, long=5_000),
        st.from_regex(r"[A-Za-z0-9_.\-]{1,120}", fullmatch=True),
        # Signed by us, around data no link carries.
        json_values().map(ours.dumps),
        st.fixed_dictionaries({"r": json_values(), "n": json_values()}).map(ours.dumps),
        st.sampled_from(
            ({"r": 2**63, "n": "x"}, {"r": -1, "n": "x"}, {"r": 1, "n": "x"})
        ).map(ours.dumps),
        # Signed for another purpose, or with another key.
        json_values().map(serializer(secret, "switchboard.other").dumps),
        json_values().map(serializer("another-secret", LINK_SALT).dumps),
    )


@given(data=st.data())
def test_any_link_gets_a_page_or_a_clear_4xx(app: Flask, data: st.DataObject) -> None:
    client = app.test_client()
    token = data.draw(tokens(app.config["SECRET_KEY"]))
    url = "/register/confirm/" + quote(token, safe="", errors="surrogatepass")
    before = snapshot(app_engine(app))
    page = client.get(url)
    event(f"GET {page.status_code}")
    assert page.status_code in (200, 404), page.status_code  # 404: "/" in the token
    form: dict[str, Any] = {}
    if match := FORM_TOKEN.search(page.get_data(as_text=True)):
        form = data.draw(
            st.sampled_from(({"csrf_token": match[1]}, {}, {"csrf_token": "x" * 43}))
        )
    confirmed = client.post(url, data=form)
    event(f"POST {confirmed.status_code}")
    assert confirmed.status_code in (400, 404, 410), confirmed.status_code
    assert stored_nothing(app_engine(app), before)
