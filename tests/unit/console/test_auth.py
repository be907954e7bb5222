"""Who may reach what in the agent console: sign-in, roles, form tokens, sessions.

The route tests walk the app's URL map, so a console route added later is tested
(and must be listed in EXPECTED_ENDPOINTS) without writing a test for it.
"""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.serving import make_server

from bot.models import (
    Agent,
    AgentRole,
    Channel,
    Customer,
    Sender,
    TicketEventKind,
    TicketStatus,
)
from bot.services import agents
from bot.web import auth as shop_auth
from bot.web import create_app
from bot.web.console.auth import SIGNED_IN_AT_KEY
from bot.web.console.throttle import CLIENT, EMAIL, Attempt, LoginThrottle, Refused
from bot.web.security import TOKEN_KEY
from bot.web.session_version import stamp
from tests.unit.console.helpers import (
    PASSWORD,
    add_agent,
    csrf,
    event_kinds,
    factory,
    load,
    new_ticket,
    post,
    sign_in,
    text_of,
    transcript,
)

ADA = "ada@support.example.com"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
SUE = "sue@support.example.com"
EXPECTED_ENDPOINTS = {
    "console_auth.logout",
    "console.queue_view",
    "console.next_ticket",
    "console.ticket",
    "console.claim",
    "console.reply",
    "console.note",
    "console.reassign",
    "console.wait",
    "console.resolve",
    "console.return_to_bot",
    "console.reopen",
    "console.close",
    "console.retry",
    "console_api.queue",
    "console_api.ticket",
    "console_supervisor.page",
    "console_supervisor.api",
    "console_insights.page",
    "console_insights.export",
}


def _console_routes() -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) of every console route but the sign-in page."""
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    routes = []
    for rule in app.url_map.iter_rules():
        if (
            not rule.rule.startswith("/console")
            or rule.endpoint == "console_auth.login"
        ):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, rule.rule, rule.endpoint))
    return sorted(routes)


ROUTES = _console_routes()
POSTS = [route for route in ROUTES if route[0] == "POST"]


def route_id(route: tuple[str, str, str]) -> str:
    return f"{route[0]} {route[1]}"


@pytest.fixture
def sue(app: Flask) -> int:
    return add_agent(app, SUE, AgentRole.SUPERVISOR, name="Sue Super")


@pytest.fixture
def existing(app: Flask) -> tuple[str, int]:
    """A new ticket with one transcript line: (reference, message id)."""
    reference = new_ticket(
        app, conversation_id="web-auth", lines=((Sender.CUSTOMER, "hello"),)
    )
    (line,) = transcript(app, reference)
    return reference, line.id


def url_of(rule: str, existing: tuple[str, int]) -> str:
    reference, message_id = existing
    url = (
        rule.replace("<reference>", reference)
        .replace("<message_id>", str(message_id))
        .replace("<slug>", "summary")
    )
    assert "<" not in url, f"a new URL variable in {rule}: give it a value here"
    return url


def session_of(client: FlaskClient) -> dict[str, object]:
    with client.session_transaction() as session:
        return dict(session)


def test_the_route_list_is_complete() -> None:
    assert {endpoint for _, _, endpoint in ROUTES} == EXPECTED_ENDPOINTS


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_every_console_route_needs_sign_in(
    client: FlaskClient, existing: tuple[str, int], route: tuple[str, str, str]
) -> None:
    method, rule, _ = route
    url = url_of(rule, existing)
    # With a form token, so that it is the missing sign-in that refuses.
    data = {TOKEN_KEY: csrf(client)} if method == "POST" else None
    response = client.open(url, method=method, data=data)
    if url.startswith("/console/api/"):
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"
    else:
        assert response.status_code in (302, 303)
        assert urlsplit(response.headers["Location"]).path == "/console/login"
    reference, _ = existing
    assert load(client.application, reference).status == TicketStatus.NEW


def test_a_page_sends_you_back_after_sign_in(
    client: FlaskClient, ada: int, existing: tuple[str, int]
) -> None:
    reference, _ = existing
    response = client.get(f"/console/tickets/{reference}")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/console/login?next=")
    page = client.get(login_url).get_data(as_text=True)
    assert f'name="next" value="/console/tickets/{reference}' in page
    response = sign_in(client, ADA, next=f"/console/tickets/{reference}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/tickets/{reference}"


def test_agents_may_not_see_supervisor_pages(client: FlaskClient, ada: int) -> None:
    sign_in(client, ADA)
    page = client.get("/console/supervisor")
    assert page.status_code == 403
    assert "Only supervisors can see this page." in text_of(page)
    api = client.get("/console/api/supervisor")
    assert api.status_code == 403
    assert api.get_json()["error"] == "forbidden"
    assert 'href="/console/supervisor"' not in client.get("/console/").get_data(
        as_text=True
    )


def test_supervisors_see_them(client: FlaskClient, sue: int) -> None:
    sign_in(client, SUE)
    assert client.get("/console/supervisor").status_code == 200
    assert client.get("/console/api/supervisor").status_code == 200
    assert 'href="/console/supervisor"' in client.get("/console/").get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    "token", [None, "", "forged-token"], ids=["none", "empty", "wrong"]
)
@pytest.mark.parametrize("route", POSTS, ids=route_id)
def test_every_post_needs_the_form_token(
    app: Flask,
    client: FlaskClient,
    sue: int,
    existing: tuple[str, int],
    route: tuple[str, str, str],
    token: str | None,
) -> None:
    sign_in(client, SUE)  # a supervisor: the role is never the reason for a refusal
    _, rule, _ = route
    data = {"text": "hello", "agent_id": str(sue)}
    if token is not None:
        data[TOKEN_KEY] = token
    response = client.post(url_of(rule, existing), data=data)
    assert response.status_code == 400
    assert "The form expired; reload the page and try again." in text_of(response)
    reference, _ = existing
    assert load(app, reference).status == TicketStatus.NEW
    assert event_kinds(app, reference) == [TicketEventKind.CREATED]
    assert len(transcript(app, reference)) == 1
    assert session_of(client).get("_user_id") == str(sue)  # not even signed out


def test_sign_in_needs_the_form_token(client: FlaskClient, ada: int) -> None:
    client.get("/console/login")
    response = client.post("/console/login", data={"email": ADA, "password": PASSWORD})
    assert response.status_code == 400
    assert "_user_id" not in session_of(client)
    response = client.post(
        "/console/login",
        data={"email": ADA, "password": PASSWORD, TOKEN_KEY: "forged-token"},
    )
    assert response.status_code == 400
    assert "_user_id" not in session_of(client)


def test_sign_in_and_out(client: FlaskClient, ada: int) -> None:
    response = sign_in(client, ADA)
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/"
    assert session_of(client)["_user_id"] == str(ada)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/console/")
    assert page.status_code == 200
    assert "Ada Agent" in text_of(page) and "agent" in text_of(page)
    # Already signed in: the sign-in page goes to the queue.
    assert client.get("/console/login").status_code == 303

    response = post(client, "/console/logout")
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/login"
    assert "_user_id" not in session_of(client)
    assert client.get("/console/").status_code == 302


@pytest.mark.parametrize(
    ("email", "password"),
    [
        (ADA, "wrong password!"),
        ("nobody@support.example.com", PASSWORD),
        (ADA.upper(), "wrong password!"),
        (ADA, "x" * 5000),
        ("ada\x00@support.example.com", PASSWORD),
        (ADA, "correct horse\x00battery"),
    ],
)
def test_wrong_credentials_are_401(
    client: FlaskClient, ada: int, email: str, password: str
) -> None:
    response = sign_in(client, email, password)
    assert response.status_code == 401
    assert "Wrong email or password." in text_of(response)
    assert "_user_id" not in session_of(client)
    assert client.get("/console/").status_code == 302


def test_blank_fields_are_400(client: FlaskClient) -> None:
    response = sign_in(client, "", "")
    assert response.status_code == 400
    assert "Enter your email and password." in text_of(response)


def test_email_is_not_case_sensitive(client: FlaskClient, ada: int) -> None:
    assert sign_in(client, "  Ada@Support.Example.com ").status_code == 303


def test_sign_in_starts_a_new_session(
    app: Flask, client: FlaskClient, ada: int
) -> None:
    with factory(app).begin() as db:
        customer = Customer(name="Shop Customer", email="shopper@example.com")
        db.add(customer)
        db.flush()
        customer_id, customer_stamp = customer.id, stamp(customer)
    client.get("/console/login")
    with client.session_transaction() as session:
        session[TOKEN_KEY] = "planted-token"
        # A demo shop customer signed in in the same browser.
        session[shop_auth.CUSTOMER_KEY] = customer_id
        session[shop_auth.SIGNED_IN_AT_KEY] = int(time.time())
        session[shop_auth.VERSION_KEY] = customer_stamp
        session["planted"] = "by an attacker"
    response = client.post(
        "/console/login",
        data={"email": ADA, "password": PASSWORD, TOKEN_KEY: "planted-token"},
    )
    assert response.status_code == 303
    after = session_of(client)
    assert "planted" not in after and shop_auth.CUSTOMER_KEY not in after
    assert after[TOKEN_KEY] != "planted-token"
    assert after["_user_id"] == str(ada)
    # The old token no longer works.
    stale = client.post("/console/next", data={TOKEN_KEY: "planted-token"})
    assert stale.status_code == 400


def test_deactivated_agents_cannot_sign_in(app: Flask, client: FlaskClient) -> None:
    add_agent(app, "gone@support.example.com", active=False)
    response = sign_in(client, "gone@support.example.com")
    assert response.status_code == 401
    assert "_user_id" not in session_of(client)


def test_deactivation_ends_a_sign_in(app: Flask, client: FlaskClient, ada: int) -> None:
    sign_in(client, ADA)
    assert client.get("/console/").status_code == 200
    with factory(app).begin() as db:
        db.execute(update(Agent).where(Agent.id == ada).values(active=False))
    assert client.get("/console/").status_code == 302
    assert client.get("/console/api/queue").status_code == 401


def test_a_cookie_saved_before_sign_out_is_signed_out(
    app: Flask, client: FlaskClient, ada: int
) -> None:
    """Sign-out ends the sign-in on the server.

    The cookie replayed afterwards (same browser) is signed out, and so is the
    agent's sign-in in another browser.
    """
    sign_in(client, ADA)
    saved = client.get_cookie("session")
    assert saved is not None
    elsewhere = app.test_client()
    sign_in(elsewhere, ADA)
    assert post(client, "/console/logout").status_code == 303

    replay = app.test_client()
    replay.set_cookie("session", saved.value)
    assert replay.get("/console/").status_code == 302
    assert replay.get("/console/api/queue").status_code == 401
    assert "_user_id" not in session_of(replay)
    assert elsewhere.get("/console/").status_code == 302
    # Signing in again works.
    sign_in(client, ADA)
    assert client.get("/console/").status_code == 200


def test_a_new_password_ends_sign_ins(
    app: Flask, client: FlaskClient, ada: int
) -> None:
    sign_in(client, ADA)
    assert client.get("/console/").status_code == 200
    with factory(app).begin() as db:
        agent = db.get(Agent, ada)
        assert agent is not None
        agents.set_password(agent, "a brand new passphrase")
    assert client.get("/console/").status_code == 302
    assert sign_in(client, ADA, "a brand new passphrase").status_code == 303


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://evil.example/console/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("///evil.example/console/", "/console/"),
        ("/\\evil.example", "/console/"),
        ("/console/\\..\\shop", "/console/"),
        ("javascript:alert(1)", "/console/"),
        ("/shop/login", "/console/"),
        ("/console/../shop", "/console/"),
        ("/console/tickets/T-000001\r\nSet-Cookie: x=1", "/console/"),
        ("", "/console/"),
        ("/console/tickets/T-000001", "/console/tickets/T-000001"),
        ("/console/?status=new&mine=1", "/console/?status=new&mine=1"),
    ],
)
def test_next_only_goes_to_console_pages(
    client: FlaskClient, ada: int, target: str, expected: str
) -> None:
    response = sign_in(client, ADA, next=target)
    assert response.status_code == 303
    assert response.headers["Location"] == expected


def test_failed_sign_ins_are_limited_per_email(
    app: Flask, client: FlaskClient, ada: int
) -> None:
    add_agent(app, "bo@support.example.com")
    limit = app.config["CONSOLE_LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert sign_in(client, ADA, "wrong password!").status_code == 401
    response = sign_in(client, ADA)  # even the right password must wait now
    assert response.status_code == 429
    assert (
        "Too many failed sign-ins for this email; try again in 15 minutes."
        in text_of(response)
    )
    assert "_user_id" not in session_of(client)
    assert sign_in(app.test_client(), "bo@support.example.com").status_code == 303


def test_a_successful_sign_in_resets_the_count(
    app: Flask, client: FlaskClient, ada: int
) -> None:
    limit = app.config["CONSOLE_LOGIN_MAX_FAILURES"]
    for _ in range(limit - 1):
        sign_in(client, ADA, "wrong password!")
    assert sign_in(client, ADA).status_code == 303
    other = app.test_client()
    for _ in range(limit - 1):
        sign_in(other, ADA, "wrong password!")
    assert sign_in(other, ADA).status_code == 303


def test_a_session_used_from_another_browser_is_signed_out(
    client: FlaskClient, ada: int
) -> None:
    sign_in(client, ADA)
    assert client.get("/console/").status_code == 200
    stolen = client.get("/console/", headers={"User-Agent": "another browser"})
    assert stolen.status_code == 302
    assert "_user_id" not in session_of(client)


def test_a_sign_in_ends_after_the_session_lifetime(
    app: Flask, client: FlaskClient, ada: int
) -> None:
    sign_in(client, ADA)
    lifetime = app.permanent_session_lifetime.total_seconds()
    with client.session_transaction() as session:
        session[SIGNED_IN_AT_KEY] = int(time.time() - lifetime - 1)
    assert client.get("/console/").status_code == 302
    assert client.get("/console/api/queue").status_code == 401


def test_every_page_carries_the_form_token(
    app: Flask, client: FlaskClient, sue: int
) -> None:
    reference = new_ticket(app, channel=Channel.VOICE)
    assert 'name="csrf-token"' in client.get("/console/login").get_data(as_text=True)
    sign_in(client, SUE)
    token = session_of(client)[TOKEN_KEY]
    for url in (
        "/console/",
        f"/console/tickets/{reference}",
        "/console/supervisor",
        "/console/tickets/T-999999",  # the 404 page too
        "/console/?status=nonsense",  # and the 400 page
    ):
        page = client.get(url).get_data(as_text=True)
        assert f'<meta name="csrf-token" content="{token}">' in page, url
        assert "<script>" not in page, url


def test_login_throttle_window() -> None:
    throttle = LoginThrottle(per_email=3, per_client=100, window=60, max_keys=3)
    for second in (0, 1, 2):
        assert isinstance(throttle.attempt("a", "ip", now=second), Attempt)
    for _ in range(5):  # refused attempts are not counted
        assert throttle.attempt("a", "ip", now=10) == Refused(EMAIL, 50)
    assert throttle.wait(EMAIL, "b", now=10) == 0
    assert isinstance(throttle.attempt("a", "ip", now=60), Attempt)  # 0 expired
    assert throttle.wait(EMAIL, "a", now=60) == 1
    for email in ("x", "y", "z"):  # only the 3 most recent keys (with "ip") are kept
        for _ in range(3):
            throttle.attempt(email, "ip", now=70)
    assert throttle.wait(EMAIL, "x", now=70) == 0
    assert throttle.wait(EMAIL, "z", now=70) == 60


def test_a_successful_attempt_is_taken_back() -> None:
    throttle = LoginThrottle(per_email=3, per_client=3, window=60)
    throttle.attempt("a", "ip", now=0)
    throttle.attempt("a", "ip", now=1)
    ok = throttle.attempt("a", "ip", now=2)
    assert isinstance(ok, Attempt)
    throttle.succeeded(ok)
    # The email starts afresh; the address keeps its two earlier failures.
    assert throttle.wait(EMAIL, "a", now=3) == 0
    assert isinstance(throttle.attempt("b", "ip", now=3), Attempt)
    assert throttle.attempt("c", "ip", now=4) == Refused(CLIENT, 56)
    for _ in range(5):  # signing in again and again never counts against it
        again = throttle.attempt("d", "other-ip", now=5)
        assert isinstance(again, Attempt)
        throttle.succeeded(again)
    assert throttle.wait(CLIENT, "other-ip", now=5) == 0


def test_attempts_are_counted_before_they_are_checked() -> None:
    """Parallel guesses: however many arrive at once, only the limit get through."""
    throttle = LoginThrottle(per_email=5, per_client=1000, window=60)
    barrier = threading.Barrier(40)
    results: list[Attempt | Refused] = []
    lock = threading.Lock()

    def guess() -> None:
        barrier.wait(timeout=10)
        result = throttle.attempt("ada", "ip")
        time.sleep(0.01)  # hashing the password
        with lock:
            results.append(result)

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sum(isinstance(r, Attempt) for r in results) == 5
    assert sum(isinstance(r, Refused) for r in results) == 35


def test_parallel_guesses_over_http_are_limited(app: Flask, ada: int) -> None:
    """A burst of wrong passwords sent at once: `limit` are checked, the rest 429."""
    limit = app.config["CONSOLE_LOGIN_MAX_FAILURES"]
    burst = limit * 3
    assert burst < app.config["CONSOLE_LOGIN_MAX_FAILURES_PER_CLIENT"]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/console/login"
    browsers = []
    for _ in range(burst):
        http = requests.Session()
        page = http.get(url, timeout=30)
        browsers.append((http, CSRF_META.search(page.text)[1]))  # type: ignore[index]
    barrier = threading.Barrier(burst)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(http: requests.Session, token: str) -> None:
        barrier.wait(timeout=30)
        response = http.post(
            url,
            data={"email": ADA, "password": "wrong guess!", TOKEN_KEY: token},
            allow_redirects=False,
            timeout=60,
        )
        with lock:
            statuses.append(response.status_code)

    try:
        guesses = [threading.Thread(target=guess, args=b) for b in browsers]
        for guessing in guesses:
            guessing.start()
        for guessing in guesses:
            guessing.join(timeout=60)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        for http, _ in browsers:
            http.close()
    assert sorted(statuses) == [401] * limit + [429] * (burst - limit)
    # And the right password waits too.
    assert sign_in(app.test_client(), ADA).status_code == 429


def test_failed_sign_ins_are_limited_per_address(
    app: Flask, client: FlaskClient, ada: int
) -> None:
    limit = app.config["CONSOLE_LOGIN_MAX_FAILURES_PER_CLIENT"]
    per_email = app.config["CONSOLE_LOGIN_MAX_FAILURES"]
    for n in range(limit):  # never the same email twice: the email limit is not hit
        response = sign_in(client, f"guess{n}@support.example.com", "wrong!")
        assert response.status_code == 401
    assert limit > per_email
    response = sign_in(client, "one.more@support.example.com", "wrong!")
    assert response.status_code == 429
    text = text_of(response)
    assert "Too many failed sign-ins for your address; try again in 15 minutes." in (
        text
    )
    assert 'name="email"' in response.get_data(as_text=True)  # still the form
    assert sign_in(client, ADA).status_code == 429  # even a right password
    # Another address is not affected, and Ada's email was never guessed at.
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert sign_in(elsewhere, ADA).status_code == 303
