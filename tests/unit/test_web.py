from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot import migrate
from bot.web import create_app


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    migrate.upgrade(url)
    return create_app({"TESTING": True, "DATABASE_URL": url})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_home_page(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert b"/webhooks/rest/webhook" in response.data


def test_health_reports_database(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}


def test_health_fails_without_database(tmp_path: Path) -> None:
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/no/such.db"}
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_unknown_page_is_404(client: FlaskClient) -> None:
    assert client.get("/nope").status_code == 404


@pytest.mark.parametrize(
    "path", ["/console/api/nothing-here", "/chat/api/nothing", "/api/shop/nothing"]
)
def test_unknown_api_path_is_json_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["error"] == "not_found"


def test_wrong_method_on_an_api_is_json_405_with_allow(client: FlaskClient) -> None:
    response = client.get("/api/shop/events")

    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_unknown_page_outside_the_apis_stays_html(client: FlaskClient) -> None:
    response = client.get("/console-api/nothing")

    assert response.status_code == 404
    assert not response.is_json
