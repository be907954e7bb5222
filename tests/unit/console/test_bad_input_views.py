"""Bad input at the console's pages and live-view API (views.py, api.py, supervisor.py).

A signed-in agent (or a supervisor) asks for any filters, any ticket reference and
any `after`: the page or JSON, or a clear 4xx in the same form, never a 500.
Reading stores nothing but the priorities the queue refreshes.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, given
from hypothesis import strategies as st

from bot.models import TicketPriority
from bot.services.queue import OPEN_STATUSES
from tests.unit.bad_input import form_texts
from tests.unit.console.helpers import new_ticket

FILTER_VALUES = {
    "status": st.sampled_from(("open", "all", *(s.value for s in OPEN_STATUSES))),
    "channel": st.sampled_from(("web", "sms", "voice", "WEB", "fax")),
    "priority": st.sampled_from(tuple(p.value for p in TicketPriority)),
    "mine": st.sampled_from(("0", "1", "yes", "")),
}


def filters() -> st.SearchStrategy[dict[str, str]]:
    """Query arguments: the queue's filters (right or wrong) and others."""
    return st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(values, form_texts(max_size=40, long=3_000))
            for name, values in {**FILTER_VALUES, "next": st.just("/console/")}.items()
        },
    )


def expect_json(response_status: int, body: object, ok: int = 200) -> None:
    assert response_status in (ok, 400), body
    assert isinstance(body, dict)
    if response_status == 400:
        assert body["error"] == "bad_request" and body["message"]


@given(args=filters())
def test_the_queue_takes_any_filters(agent: FlaskClient, args: dict[str, str]) -> None:
    page = agent.get("/console/", query_string=args)
    event(f"page {page.status_code}")
    assert page.status_code in (200, 400), page.status_code
    assert "text/html" in page.content_type
    api = agent.get("/console/api/queue", query_string=args)
    expect_json(api.status_code, api.get_json())
    assert api.status_code == page.status_code  # the page and its API agree


REFERENCES = st.one_of(
    form_texts(max_size=40, long=3_000),
    st.sampled_from(("T-000001", "t1", "T-7K4M9Q", "T-١٢٣", "T-999999999", "T-0")),
    st.from_regex(r"T-?[0-9A-Z]{1,12}", fullmatch=True),
)
AFTER = st.one_of(
    st.integers(0, 10**6).map(str),
    st.sampled_from(("0", "-1", "9" * 30, "1e3", "٣", " 2 ", "2147483648")),
    form_texts(max_size=20, long=1_000),
)


@given(data=st.data())
def test_any_ticket_reference_gets_the_ticket_or_a_404(
    app: Flask, agent: FlaskClient, data: st.DataObject
) -> None:
    real = new_ticket(app, subject="<b>bold</b> ' OR 1=1 --")
    reference = data.draw(st.one_of(st.just(real), REFERENCES), label="reference")
    path = quote(reference, safe="")
    page = agent.get(f"/console/tickets/{path}")
    event(f"page {page.status_code}")
    assert page.status_code in (200, 404), page.status_code
    after = data.draw(AFTER, label="after")
    api = agent.get(f"/console/api/tickets/{path}", query_string={"after": after})
    event(f"api {api.status_code}")
    assert api.status_code in (200, 400, 404), api.status_code
    body = api.get_json(silent=True)
    if api.status_code != 200 and body is not None:  # None: "/" in it, no route
        assert body["error"] in ("bad_request", "not_found") and body["message"]
    if reference == real:  # HTML and injections in a subject stay text
        assert "&lt;b&gt;bold&lt;/b&gt;" in page.get_data(as_text=True)


@given(args=filters())
def test_the_supervisor_page_refuses_agents_and_takes_any_query(
    agent: FlaskClient, boss: FlaskClient, args: dict[str, str]
) -> None:
    assert agent.get("/console/supervisor", query_string=args).status_code == 403
    assert agent.get("/console/api/supervisor").get_json()["error"] == "forbidden"
    assert boss.get("/console/supervisor", query_string=args).status_code == 200
    assert boss.get("/console/api/supervisor", query_string=args).status_code == 200


@given(path=form_texts(max_size=60, long=2_000))
def test_any_console_path_is_answered(agent: FlaskClient, path: str) -> None:
    for prefix in ("/console/", "/console/api/"):
        response = agent.get(prefix + quote(path, safe="/"))
        event(f"{prefix} {response.status_code}")
        assert response.status_code < 500, response.status_code
