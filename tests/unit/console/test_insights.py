"""The Insights page: supervisors only, charts with their tables, CSV exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.insights.events import record_events
from bot.models import TicketCategory
from tests.unit.console.helpers import factory, new_ticket, text_of
from tests.unit.insights_events import CONTEXT, START, Script

JANE = "jane.doe@example.com"
JANE_PHONE = "+14155550134"


def record(app: Flask, *scripts: Script) -> None:
    with factory(app).begin() as db:
        events = [event for script in scripts for event in script.events]
        record_events(db, events, CONTEXT)


def the_mix() -> list[Script]:
    early = START - dt.timedelta(hours=3)
    return [
        Script("ui-order", at=early).session().order_status(),
        Script("ui-kb", channel="webchat", at=early).session().faq("can I return it?"),
        Script("ui-unknown", at=early)
        .session()
        .faq('=HYPERLINK("http://x")', found=False),
        Script("ui-sms", channel="sms", at=early).session().ask_for_person("T-UISMS1"),
    ]


def csv_rows(response: object) -> list[list[str]]:
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    return list(csv.reader(io.StringIO(text)))


def test_agents_without_the_supervisor_role_get_403(agent: FlaskClient) -> None:
    for url in ("/console/insights", "/console/insights/summary.csv"):
        response = agent.get(url)
        assert response.status_code == 403
        assert "Only supervisors" in text_of(response)
    assert "/console/insights" not in agent.get("/console/").get_data(as_text=True)


def test_nobody_signed_in_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/console/insights")
    assert response.status_code in (302, 303)
    assert "/console/login" in response.headers["Location"]


def test_the_page_draws_each_chart_with_its_table(
    app: Flask, boss: FlaskClient
) -> None:
    record(app, *the_mix())
    page = boss.get("/console/insights")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<a href="/console/insights">Insights</a>' in html
    for slug in (
        "conversations", "rates", "intents", "funnels", "handoff_reasons",
        "fallback", "unanswered", "csat", "segments",
    ):  # fmt: skip
        assert f'id="table-{slug}"' in html, slug
        assert f"/console/insights/{slug}.csv?" in html, slug
    # Accessible SVG: an image with a title and a description, no script.
    svgs = re.findall(r"<svg [^>]*>", html)
    assert len(svgs) == 9
    assert all('role="img"' in svg and "aria-labelledby" in svg for svg in svgs)
    assert '<title id="chart-conversations-title">' in html
    assert "<script" not in html.split("<main", 1)[1].split("</main>", 1)[0]
    text = text_of(page)
    assert "4 conversations from 2026-11-14 to 2026-11-20" in text
    assert "Contained 50%" in text and "Handed off 25%" in text
    assert "Asked for a person" in text
    assert "=hyperlink(&#34;http://x&#34;)" in html.lower()  # escaped in the page


def test_the_channel_and_range_filters(app: Flask, boss: FlaskClient) -> None:
    record(app, *the_mix())
    sms = text_of(boss.get("/console/insights?channel=sms"))
    assert "1 conversations" in sms and "on sms" in sms
    assert "Handed off 100%" in sms
    before = text_of(boss.get("/console/insights?from=2026-11-01&to=2026-11-10"))
    assert "0 conversations from 2026-11-01 to 2026-11-10" in before
    assert "No data for this range." in before


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=yesterday", "The start of the range must be a date like 2026-11-20"),
        ("from=2026-11-20&to=2026-11-01", "The range ends before it starts"),
        ("from=2020-01-01&to=2026-11-20", "A range is at most 366 days"),
        ("channel=fax", "Channel must be one of web, sms, voice, rest"),
    ],
)
def test_bad_filters_are_a_400_that_says_why(
    boss: FlaskClient, query: str, message: str
) -> None:
    for url in (f"/console/insights?{query}", f"/console/insights/summary.csv?{query}"):
        response = boss.get(url)
        assert response.status_code == 400
        assert message in text_of(response)


def test_csv_exports(app: Flask, boss: FlaskClient) -> None:
    record(app, *the_mix())
    response = boss.get("/console/insights/summary.csv?from=2026-11-20&to=2026-11-20")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="insights-summary-2026-11-20-2026-11-20.csv"'
    )
    rows = csv_rows(response)
    assert rows[0] == ["measure", "count", "out of", "rate", "formula"]
    assert rows[1][:4] == ["Conversations", "4", "", ""]
    assert rows[2] == ["Contained", "2", "4", "0.5000", "contained / conversations"]
    days = csv_rows(boss.get("/console/insights/conversations.csv?channel=sms"))
    assert days[0] == ["day", "sms", "total"]
    assert days[-1] == ["2026-11-20", "1", "1"]
    assert len(days) == 8  # a header and 7 days
    # A question that looks like a formula is quoted: text in any spreadsheet.
    questions = csv_rows(boss.get("/console/insights/unanswered.csv"))
    assert questions[1][0] == '\'=hyperlink("http://x")'
    assert boss.get("/console/insights/passwords.csv").status_code == 404


def test_customers_who_need_attention_link_to_their_tickets(
    app: Flask, boss: FlaskClient
) -> None:
    first = new_ticket(app, category=TicketCategory.PROBLEM, customer=JANE)
    second = new_ticket(app, category=TicketCategory.PROBLEM, customer=JANE)
    page = boss.get("/console/insights")
    html = page.get_data(as_text=True)
    assert "2 problem reports in 30 days" in text_of(page)
    for reference in (first, second):
        assert f'href="/console/tickets/{reference}"' in html
    rows = csv_rows(boss.get("/console/insights/red_flags.csv"))
    assert rows[0] == ["customer", "email", "segment", "why", "latest tickets"]
    assert rows[1][:4] == ["Jane Doe", JANE, "standard", "2 problem reports in 30 days"]
    assert set(rows[1][4].split()) == {first, second}


def test_nobody_needs_attention(boss: FlaskClient) -> None:
    assert "No customer needs attention right now." in text_of(
        boss.get("/console/insights")
    )
