"""The supervisor page and its API."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient

from bot.models import (
    Channel,
)
from tests.unit.console.helpers import (
    JANE_PHONE,
    new_ticket,
    post,
    text_of,
)


def test_supervisor_page_and_api(
    app: Flask, boss: FlaskClient, agent: FlaskClient
) -> None:
    late = new_ticket(app, subject="late one", age=dt.timedelta(hours=5))
    mine = new_ticket(app, channel=Channel.SMS, contact=JANE_PHONE)
    post(agent, f"/console/tickets/{mine}/claim")
    page = boss.get("/console/supervisor")
    assert page.status_code == 200
    text = text_of(page)
    assert "Queue: 2 open" in text
    assert "SLA breached (1)" in text and late in text
    assert "Ada Agent" in text and "Oldest unclaimed" in text
    data = boss.get("/console/api/supervisor").get_json()
    assert data["queue"] == {
        "open": 2,
        "by_status": {"new": 1, "claimed": 1, "waiting_on_customer": 0},
        "by_channel": {"web": 1, "sms": 1, "voice": 0},
    }
    assert data["waiting"]["oldest_unclaimed"]["reference"] == late
    assert data["waiting"]["median_time_to_claim"]["today"] is not None
    assert [e["reference"] for e in data["sla"]["breached"]] == [late]
    ada = next(a for a in data["agents"] if a["name"] == "Ada Agent")
    assert (ada["claimed"], ada["waiting_on_customer"], ada["resolved_today"]) == (
        1,
        0,
        0,
    )
    assert data["undelivered"] == {
        "total": 0,
        "pending": 0,
        "failed": 0,
        "oldest_pending": None,
    }
