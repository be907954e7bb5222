"""Console fixtures: the app on the test database, signed-in agents, a fake SMS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from bot.models import AgentRole
from tests.unit.console.helpers import (
    FakeSms,
    add_agent,
    app_on,
    sign_in,
)


@pytest.fixture
def sms() -> FakeSms:
    return FakeSms()


@pytest.fixture
def app(engine: Engine, sms: FakeSms) -> Iterator[Flask]:
    with app_on(engine, sms) as made:
        yield made


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ada(app: Flask) -> int:
    return add_agent(app, "ada@support.example.com", name="Ada Agent")


@pytest.fixture
def agent(client: FlaskClient, ada: int) -> FlaskClient:
    """The client, signed in as the agent Ada."""
    assert sign_in(client, "ada@support.example.com").status_code == 303
    return client


@pytest.fixture
def boss(app: Flask) -> FlaskClient:
    """Another browser, signed in as the supervisor Sue."""
    add_agent(app, "sue@support.example.com", AgentRole.SUPERVISOR, name="Sue Super")
    other = app.test_client()
    assert sign_in(other, "sue@support.example.com").status_code == 303
    return other
