"""Bad input at the ticket forms (bot/web/console/actions.py, views.py's Next ticket).

A signed-in agent posts any form to any action of any ticket: with the page's form
token or without, any text (emoji, injections, NULs, 100 kB), any agent id, any
one-time key, any body. The answer is a redirect to the ticket or a 4xx page saying
why, never a 500, and a refused form changes nothing in the database.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, given
from hypothesis import strategies as st
from markupsafe import escape

from bot.models import Channel, Sender
from tests.unit.bad_input import HUGE, app_engine, form_texts, raw_bytes, stored_nothing
from tests.unit.console.helpers import csrf, new_ticket, post, snapshot, text_of

ACTIONS = (
    "claim",
    "reply",
    "note",
    "reassign",
    "wait",
    "resolve",
    "return",
    "reopen",
    "close",
)
CONVERSATIONS = (f"web-bad-input-{n}" for n in itertools.count())
REFUSED = (400, 403, 404, 405, 409, 413)  # 405: a path that names no ticket
IDS = st.one_of(
    st.integers(-5, 50).map(str),
    st.sampled_from(("", "0", "1.5", "2147483648", "9" * 40, "١", " 3 ", "0x1")),
    form_texts(max_size=20, long=2_000),
)


REFERENCES = st.one_of(
    form_texts(max_size=30, long=3_000),
    st.sampled_from(("T-000001", "T-999999999", "T-١٢٣", "T-7K4M9Q")),
)


def fields() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "text": st.one_of(
                form_texts(long=2_000), form_texts(), st.just("Hello, we're on it 😀")
            ),
            "agent_id": IDS,
            "reply_key": st.one_of(
                st.just("k" * 22), form_texts(max_size=70, long=300)
            ),
            "extra": form_texts(long=300),
        },
    )


def held_ticket(app: Flask) -> str:
    """A web chat handoff, held for a person, with a few transcript lines."""
    return new_ticket(
        app,
        channel=Channel.WEB,
        conversation_id=next(CONVERSATIONS),
        lines=((Sender.CUSTOMER, "Is my <b>lamp</b> coming?"),),
        held=True,
    )


@given(data=st.data())
def test_any_form_to_any_action_is_answered(
    app: Flask, agent: FlaskClient, data: st.DataObject
) -> None:
    reference = held_ticket(app)
    if data.draw(st.booleans(), label="claimed first"):
        assert post(agent, f"/console/tickets/{reference}/claim").status_code == 303
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    target = data.draw(
        st.one_of(
            st.just(reference),
            st.just(reference),
            st.just(reference.lower()),
            REFERENCES,
        ),
        label="ticket",
    )
    form = {**data.draw(fields(), label="form"), "csrf_token": csrf(agent)}
    before = snapshot(app_engine(app))
    response = agent.post(
        f"/console/tickets/{quote(target, safe='')}/{action}", data=form
    )
    event(f"{action} {response.status_code}")
    assert response.status_code in (303, *REFUSED), response.status_code
    if response.status_code == 303:
        assert response.headers["Location"].startswith("/console/tickets/T-")
        return
    assert stored_nothing(app_engine(app), before)
    if response.status_code != 404 or target == reference:  # a page that says why
        assert "text/html" in response.content_type
        assert text_of(response)


@given(
    action=st.sampled_from(ACTIONS),
    target=st.one_of(st.none(), REFERENCES),
    form=fields(),
    token=st.sampled_from((None, "", "x" * 43)),
)
def test_forms_without_this_sessions_token_are_refused(
    app: Flask,
    agent: FlaskClient,
    action: str,
    target: str | None,
    form: dict[str, Any],
    token: str | None,
) -> None:
    reference = held_ticket(app) if target is None else target
    if token is not None:
        form["csrf_token"] = token
    before = snapshot(app_engine(app))
    response = agent.post(
        f"/console/tickets/{quote(reference, safe='')}/{action}", data=form
    )
    event(f"status {response.status_code}")
    assert response.status_code in (
        400,
        404,
        405,
        413,
    ), response.status_code  # no route
    assert stored_nothing(app_engine(app), before)


@given(
    action=st.sampled_from((*ACTIONS, "next", "logout")),
    body=raw_bytes(),
    content_type=st.sampled_from(
        ("application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
         "multipart/form-data", "application/json", "text/plain")
    ),
)  # fmt: skip
def test_any_body_to_any_action_is_refused(
    app: Flask, agent: FlaskClient, action: str, body: bytes, content_type: str
) -> None:
    reference = held_ticket(app)
    path = {"next": "/console/next", "logout": "/console/logout"}.get(
        action, f"/console/tickets/{reference}/{action}"
    )
    before = snapshot(app_engine(app))
    response = agent.post(path, data=body, content_type=content_type)
    event(f"status {response.status_code}")
    assert response.status_code in (400, 413), response.status_code  # no form token
    assert stored_nothing(app_engine(app), before)
    assert agent.get("/console/api/queue").status_code == 200  # still signed in


@given(message_id=IDS, token=st.booleans())
def test_retrying_any_message_id_is_answered(
    app: Flask, agent: FlaskClient, message_id: str, token: bool
) -> None:
    before = snapshot(app_engine(app))
    form = {"csrf_token": csrf(agent)} if token else {}
    response = agent.post(
        f"/console/messages/{quote(message_id, safe='')}/retry", data=form
    )
    event(f"status {response.status_code}")
    assert response.status_code in (303, *REFUSED), response.status_code
    if response.status_code != 303:
        assert stored_nothing(app_engine(app), before)


@given(kind=st.sampled_from(("reply", "note")), text=form_texts(long=HUGE))
def test_any_reply_or_note_is_saved_as_typed_or_refused(
    app: Flask, agent: FlaskClient, kind: str, text: str
) -> None:
    reference = held_ticket(app)
    assert post(agent, f"/console/tickets/{reference}/claim").status_code == 303
    before = snapshot(app_engine(app))
    response = post(agent, f"/console/tickets/{reference}/{kind}", text=text)
    event(f"{kind} {response.status_code}")
    if response.status_code != 303:
        assert response.status_code in (400, 413), response.status_code
        assert stored_nothing(app_engine(app), before)
        return
    page = agent.get(f"/console/tickets/{reference}")
    assert page.status_code == 200
    assert escape(text.strip()) in page.get_data(as_text=True)  # shown as text
