"""Public pages: health check and the landing pages the assistant links to."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from bot import health as checks
from bot.shared_state import SharedState
from bot.web.database import session_factory_of

bp = Blueprint("pages", __name__)
HEALTH = "health"


@bp.get("/healthz")
def health() -> ResponseReturnValue:
    """The database (and Redis, when shared state lives there), for load balancers.

    200 when they answer, else 503 (bot/health.py).
    """
    report = current_app.extensions[HEALTH].report()
    return jsonify(report.to_json()), report.http_status


@bp.get("/account/reset")
def password_reset() -> ResponseReturnValue:
    return render_template("reset.html")


@bp.get("/register")
def register() -> ResponseReturnValue:
    """Where the phone IVR's text message sends callers to create an account."""
    return render_template("register.html")


def init_app(app: Flask) -> None:
    """The pages, and the checks behind /healthz."""
    found = [checks.Check("database", checks.probe_database(session_factory_of(app)))]
    state: SharedState | None = app.extensions.get("shared_state")
    if state is not None:
        found.append(checks.Check("redis", checks.probe_redis(state)))
    app.extensions[HEALTH] = checks.Health("web", found)
    app.register_blueprint(bp)
