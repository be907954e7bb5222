"""The supervisor's view of the team: queue size, waiting times, SLA, load."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue

from bot.models import utcnow
from bot.services import reports
from bot.web.console.auth import protect
from bot.web.console.common import settings
from bot.web.database import session_factory

bp = Blueprint("console_supervisor", __name__, url_prefix="/console")
protect(bp, supervisor=True)


def _report() -> reports.SupervisorReport:
    with session_factory()() as db:
        return reports.supervisor_report(db, utcnow(), ZoneInfo(settings().timezone))


@bp.get("/supervisor")
def page() -> ResponseReturnValue:
    return render_template("console/supervisor.html", report=_report())


@bp.get("/api/supervisor")
def api() -> ResponseReturnValue:
    return jsonify(reports.report_json(_report()))
