"""The confirmation page the mailed registration link opens (bot/web/registration.py)."""

import re
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.proactive.schema import ConsentChannel, ContactConsent
from bot.services import registration as reg
from bot.services.customers import NewCustomer, find_by_email
from bot.web import create_app
from tests.conftest import savepoint_session

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class InTestTransaction:
    """Stands in for the app's sessionmaker: sessions inside the test's transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def begin(self) -> AbstractContextManager[Session]:
        return savepoint_session(self.connection)


@pytest.fixture
def client(connection: Connection, tmp_path: Path) -> FlaskClient:
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    app.extensions["session_factory"] = InTestTransaction(connection)
    return app.test_client()


@pytest.fixture
def token(connection: Connection) -> str:
    with Session(bind=connection) as session:
        registration = reg.start_registration(
            session,
            NewCustomer("Ada Lovelace", "ada@example.com"),
            conversation_id="c-web",
            vouched_phone=None,
            links=reg.Links("test-secret", "http://x/register/confirm", "http://x/r"),
        )
        session.flush()
        return reg.confirmation_token(registration, "test-secret")


def customer_exists(connection: Connection) -> bool:
    with Session(bind=connection) as session:
        return find_by_email(session, "ada@example.com") is not None


def post(client: FlaskClient, url: str, **form: str) -> tuple[int, str]:
    page = client.get(url).get_data(as_text=True)
    match = FORM_TOKEN.search(page)
    assert match is not None
    response = client.post(url, data={"csrf_token": match[1], **form})
    return response.status_code, response.get_data(as_text=True)


def test_opening_the_link_only_asks(
    client: FlaskClient, connection: Connection, token: str
) -> None:
    # Mail scanners fetch links: a GET must not use the link up.
    response = client.get(f"/register/confirm/{token}")
    assert response.status_code == 200
    assert "Create my account" in response.get_data(as_text=True)
    assert not customer_exists(connection)


def test_confirming_creates_the_account_once(
    client: FlaskClient, connection: Connection, token: str
) -> None:
    status, page = post(client, f"/register/confirm/{token}")
    assert status == 200 and "Welcome aboard, Ada Lovelace!" in page
    assert customer_exists(connection)
    status, page = post(client, f"/register/confirm/{token}")
    assert status == 410 and "used already" in page


def test_a_forged_link_is_refused(client: FlaskClient, connection: Connection) -> None:
    status, page = post(client, "/register/confirm/eyJyIjoxLCJuIjoieCJ9.forged")
    assert status == 404 and "doesn't work" in page
    assert not customer_exists(connection)


def test_a_post_without_the_form_token_is_refused(
    client: FlaskClient, connection: Connection, token: str
) -> None:
    assert client.post(f"/register/confirm/{token}").status_code == 400
    assert not customer_exists(connection)


def web_consent(connection: Connection) -> tuple[bool, str] | None:
    with Session(bind=connection) as session:
        customer = find_by_email(session, "ada@example.com")
        assert customer is not None
        row = session.scalars(
            select(ContactConsent).where(
                ContactConsent.customer_id == customer.id,
                ContactConsent.channel == ConsentChannel.WEB,
            )
        ).one_or_none()
        return (row.granted, row.source.value) if row is not None else None


def test_the_page_asks_about_updates_unticked(client: FlaskClient, token: str) -> None:
    page = client.get(f"/register/confirm/{token}").get_data(as_text=True)
    assert '<input type="checkbox" name="updates" value="yes">' in page


def test_ticking_updates_records_a_yes_from_registration(
    client: FlaskClient, connection: Connection, token: str
) -> None:
    status, _ = post(client, f"/register/confirm/{token}", updates="yes")
    assert status == 200
    assert web_consent(connection) == (True, "registration")


def test_leaving_updates_unticked_records_a_no(
    client: FlaskClient, connection: Connection, token: str
) -> None:
    status, _ = post(client, f"/register/confirm/{token}")
    assert status == 200
    assert web_consent(connection) == (False, "registration")
