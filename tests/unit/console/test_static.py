"""The console's static files."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_static_files_are_served(client: FlaskClient) -> None:
    script = client.get("/static/console.js")
    assert script.status_code == 200 and b"csrf-token" in script.data
    assert client.get("/static/console.css").status_code == 200
