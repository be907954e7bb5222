"""Agent sign-in (Flask-Login) and the guard in front of every console route.

Deny by default: each console blueprint calls `protect(bp)`, so a route added later
is behind sign-in too. Without a session, pages redirect to the sign-in page and
the API answers 401 JSON; supervisor pages answer 403 to agents; every POST needs
the session's form token (bot/web/security.py).

Signing in clears the session (against session fixation; it also signs out a demo
shop customer in the same browser) and issues a new form token. Flask-Login's
"strong" protection is set, but Flask-Login only applies it to non-permanent
sessions and ours are permanent, so the guard enforces it: a session used from
another address or browser than the one that signed in is signed out. A sign-in
lasts at most PERMANENT_SESSION_LIFETIME. Signing out (or a new password) ends the
agent's sessions on the server too (session_version.py), so a cookie saved before
no longer works. Sign-in attempts are counted per email and
per client address (throttle.py: in this process, or in Redis for several web
processes): after too many failures that email, or that address, must wait. When
Redis cannot count, nobody signs in (503) rather than unthrottled.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.exceptions import HTTPException

from bot.models import Agent, AgentRole
from bot.services import agents
from bot.shared_state import SharedStateDown
from bot.web.console.common import error, wants_json
from bot.web.console.throttle import (
    EMAIL,
    LoginThrottle,
    Refused,
    SharedLoginThrottle,
)
from bot.web.database import session_factory
from bot.web.security import check_form_token, new_csrf_token
from bot.web.session_version import end_sessions, stamp

bp = Blueprint("console_auth", __name__, url_prefix="/console")

SIGNED_IN_AT_KEY = "console_signed_in_at"
CLIENT_KEY = "console_client"
VERSION_KEY = "console_session"
MAX_EMAIL_LENGTH = 320
WRONG = "Wrong email or password."
UNAVAILABLE = "Signing in is unavailable for a moment; try again in a minute."
NOT_SIGNED_IN = "Sign in to the agent console first."
PUBLIC_ENDPOINTS = frozenset({"console_auth.login"})


@dataclass(frozen=True)
class ConsoleUser(UserMixin):  # type: ignore[misc]
    """The signed-in agent as Flask-Login sees it (a snapshot, not an ORM object)."""

    id: int
    name: str
    email: str
    role: AgentRole
    # The account's current session stamp, to compare with the session's.
    session_stamp: str

    @property
    def is_supervisor(self) -> bool:
        return self.role == AgentRole.SUPERVISOR

    @classmethod
    def of(cls, agent: Agent) -> ConsoleUser:
        return cls(agent.id, agent.name, agent.email, agent.role, stamp(agent))


def load_user(user_id: str) -> ConsoleUser | None:
    """Flask-Login's user loader: only active agents stay signed in."""
    if not user_id.isdigit():
        return None
    with session_factory()() as db:
        agent = db.get(Agent, int(user_id))
        return ConsoleUser.of(agent) if agent is not None and agent.active else None


def _client_fingerprint() -> str:
    seen = f"{request.remote_addr}|{request.headers.get('User-Agent', '')}"
    return hashlib.sha256(seen.encode()).hexdigest()


def _sign_in(agent: Agent) -> None:
    session.clear()
    login_user(ConsoleUser.of(agent))
    session[SIGNED_IN_AT_KEY] = int(time.time())
    session[CLIENT_KEY] = _client_fingerprint()
    session[VERSION_KEY] = stamp(agent)
    new_csrf_token()
    session.permanent = True


def _sign_out() -> None:
    logout_user()
    session.clear()


def _end_sessions() -> None:
    """Sign out here and end every other session of this agent on the server."""
    if current_user.is_authenticated:
        with session_factory()() as db:
            end_sessions(db, Agent, current_user.id)
    _sign_out()


def _sign_in_still_valid() -> bool:
    signed_in_at = session.get(SIGNED_IN_AT_KEY)
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    return (
        isinstance(signed_in_at, int)
        and time.time() - signed_in_at <= lifetime
        and session.get(CLIENT_KEY) == _client_fingerprint()
        and session.get(VERSION_KEY) == current_user.session_stamp
    )


def unauthorized() -> ResponseReturnValue:
    """No (valid) sign-in: 401 JSON for the API, the sign-in page for people."""
    if wants_json():
        return error(401, NOT_SIGNED_IN)
    if request.method == "GET":
        return redirect(
            url_for("console_auth.login", next=request.full_path.rstrip("?")), 302
        )
    return redirect(url_for("console_auth.login"), 303)


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    return error(exc.code or 500, exc.description or exc.name)


def protect(blueprint: Blueprint, *, supervisor: bool = False) -> None:
    """Put the blueprint's routes behind sign-in, the role and the form token.

    Its HTTP errors become console pages (or API JSON).
    """
    blueprint.register_error_handler(HTTPException, _http_error)

    @blueprint.before_request
    def _guard() -> ResponseReturnValue | None:
        if request.endpoint not in PUBLIC_ENDPOINTS:
            if current_user.is_authenticated and not _sign_in_still_valid():
                _sign_out()
            if not current_user.is_authenticated:
                return unauthorized()
            if supervisor and not current_user.is_supervisor:
                return error(403, "Only supervisors can see this page.")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            limit = current_app.config["CONSOLE_MAX_FORM_BYTES"]
            if request.content_length is not None and request.content_length > limit:
                return error(413, "That form is too large.")
            check_form_token()
        return None


def safe_next(target: str | None) -> str:
    """`target` if it is a console path on this site, else the queue."""
    fallback = url_for("console.queue_view")
    if not target or len(target) > 2000 or "\\" in target:
        return fallback
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return fallback
    if not parts.path.startswith("/console/") or "/.." in parts.path:
        return fallback
    return target


def _login_page(
    error_text: str | None = None, email: str = "", status: int = 200
) -> ResponseReturnValue:
    nxt = request.values.get("next", "")
    return (
        render_template(
            "console/login.html",
            error=error_text,
            email=email,
            next=safe_next(nxt) if nxt else "",
        ),
        status,
    )


def _too_many(refused: Refused, email: str) -> ResponseReturnValue:
    minutes = max(1, round(refused.wait / 60))
    who = "this email" if refused.kind == EMAIL else "your address"
    return _login_page(
        f"Too many failed sign-ins for {who}; try again in "
        f"{minutes} minute{'' if minutes == 1 else 's'}.",
        email=email,
        status=429,
    )


protect(bp)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Sign-in form; 303 to the queue (or a safe `next`) on success, 401 if wrong."""
    if request.method == "GET":
        if current_user.is_authenticated and _sign_in_still_valid():
            return redirect(safe_next(request.args.get("next")), 303)
        return _login_page()
    email = request.form.get("email", "").strip()[:MAX_EMAIL_LENGTH]
    password = request.form.get("password", "")
    if not email or not password:
        return _login_page("Enter your email and password.", email=email, status=400)
    throttle: LoginThrottle | SharedLoginThrottle = current_app.extensions[
        "console_login_throttle"
    ]
    # Counted before the (slow, on purpose) password check: see throttle.py.
    try:
        attempt = throttle.attempt(email.lower(), request.remote_addr or "unknown")
    except SharedStateDown as exc:
        current_app.logger.error("sign-in refused: Redis unreachable: %s", exc)
        return _login_page(UNAVAILABLE, email=email, status=503)
    if isinstance(attempt, Refused):
        return _too_many(attempt, email)
    agent = None
    plausible = "\x00" not in email + password  # PostgreSQL cannot compare NULs
    if plausible and len(password) <= agents.MAX_PASSWORD_LENGTH:
        with session_factory()() as db:
            agent = agents.authenticate(db, email, password)
    if agent is None:
        current_app.logger.info(
            "console sign-in failed for %r from %s", email, request.remote_addr
        )
        return _login_page(WRONG, email=email, status=401)
    try:
        throttle.succeeded(attempt)
    except SharedStateDown as exc:  # the attempt just stays counted
        current_app.logger.error("sign-in not uncounted: Redis unreachable: %s", exc)
    _sign_in(agent)
    return redirect(safe_next(request.form.get("next")), 303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    _end_sessions()
    return redirect(url_for("console_auth.login"), 303)


def init_app(app: Flask) -> None:
    app.config.setdefault("CONSOLE_LOGIN_MAX_FAILURES", 5)
    app.config.setdefault("CONSOLE_LOGIN_MAX_FAILURES_PER_CLIENT", 20)
    app.config.setdefault("CONSOLE_LOGIN_WINDOW_SECONDS", 15 * 60)
    app.config.setdefault("CONSOLE_MAX_FORM_BYTES", 64 * 1024)
    manager = LoginManager()
    manager.session_protection = "strong"
    manager.user_loader(load_user)
    manager.unauthorized_handler(unauthorized)
    manager.init_app(app)
    per_email = int(app.config["CONSOLE_LOGIN_MAX_FAILURES"])
    per_client = int(app.config["CONSOLE_LOGIN_MAX_FAILURES_PER_CLIENT"])
    window = float(app.config["CONSOLE_LOGIN_WINDOW_SECONDS"])
    state = app.extensions.get("shared_state")
    app.extensions["console_login_throttle"] = (
        LoginThrottle(per_email, per_client, window)
        if state is None
        else SharedLoginThrottle(state, per_email, per_client, window)
    )
    app.register_blueprint(bp)
