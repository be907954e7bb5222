"""Public pages: home, health check, password-reset landing page."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import text

bp = Blueprint("pages", __name__)


@bp.get("/")
def home() -> ResponseReturnValue:
    return render_template("home.html", settings=current_app.config["SETTINGS"])


@bp.get("/healthz")
def health() -> ResponseReturnValue:
    """Liveness and database reachability, for load balancers and `make run`."""
    factory = current_app.extensions["session_factory"]
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means "not healthy"
        current_app.logger.warning("health check failed: %s", exc)
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.get("/account/reset")
def password_reset() -> ResponseReturnValue:
    return render_template("reset.html")
