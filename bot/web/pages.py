"""Public pages: health check and the landing pages the assistant links to."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from bot.web.database import session_factory

bp = Blueprint("pages", __name__)


@bp.get("/healthz")
def health() -> ResponseReturnValue:
    """Liveness and database reachability, for load balancers and `make run`."""
    try:
        with session_factory()() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means "not healthy"
        current_app.logger.warning("health check failed: %s", exc)
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.get("/account/reset")
def password_reset() -> ResponseReturnValue:
    return render_template("reset.html")


@bp.get("/register")
def register() -> ResponseReturnValue:
    """Where the phone IVR's text message sends callers to create an account."""
    return render_template("register.html")
