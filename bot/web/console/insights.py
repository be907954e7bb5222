"""The Insights page (supervisors): what the assistant resolves, charts and CSV.

`/console/insights?from=YYYY-MM-DD&to=YYYY-MM-DD&channel=sms` shows the figures of
bot/services/insights.py for the shop's days from..to (the last 7 by default) and
one channel or all; `/console/insights/<table>.csv` exports any of its tables with
the same filters. The customers who need attention (bot/services/attention.py)
are as of now, whatever the range.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from bot import clock
from bot.insights import tables as insights_tables
from bot.services import attention, insights
from bot.web.console.auth import protect
from bot.web.console.common import error, sentence, settings
from bot.web.console.insights_charts import chart
from bot.web.database import session_factory

bp = Blueprint("console_insights", __name__, url_prefix="/console")
protect(bp, supervisor=True)

DEFAULT_DAYS = 7
MAX_DAYS = 366
# A cell starting like a formula is quoted, so a spreadsheet shows it as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _date(name: str, what: str) -> dt.date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{what} must be a date like 2026-11-20") from None


def filters() -> insights.Filters:
    """The range and channel asked for; ValueError with a message if they are wrong."""
    today = clock.today(settings().timezone)
    end = _date("to", "the end of the range") or today
    start = _date("from", "the start of the range") or end - dt.timedelta(
        days=DEFAULT_DAYS - 1
    )
    channel = (request.args.get("channel") or "").strip() or None
    if (end - start).days + 1 > MAX_DAYS:
        raise ValueError(f"a range is at most {MAX_DAYS} days")
    return insights.Filters(start, end, channel)


def _figures(
    chosen: insights.Filters,
) -> tuple[insights.Report, list[attention.RedFlag]]:
    now = clock.now()
    with session_factory()() as db:
        return insights.report(db, chosen, now), attention.red_flags(db, now)


@bp.get("/insights")
def page() -> ResponseReturnValue:
    try:
        chosen = filters()
    except ValueError as exc:
        return error(400, sentence(exc))
    report, flags = _figures(chosen)
    tables = {slug: build(report) for slug, build in insights_tables.TABLES.items()}
    return render_template(
        "console/insights.html",
        report=report,
        tables=tables,
        charts={slug: chart(table) for slug, table in tables.items()},
        flags=flags,
        flag_table=insights_tables.red_flags(flags),
        channels=insights.CHANNELS,
        measures=insights_tables.MEASURES,
        show=insights_tables.show,
        query={
            "from": chosen.start.isoformat(),
            "to": chosen.end.isoformat(),
            "channel": chosen.channel or "",
        },
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@bp.get("/insights/<slug>.csv")
def export(slug: str) -> ResponseReturnValue:
    if slug not in insights_tables.SLUGS:
        return error(404, f"There is no Insights table called {slug[:40]}.")
    try:
        chosen = filters()
    except ValueError as exc:
        return error(400, sentence(exc))
    report, flags = _figures(chosen)
    if slug == "red_flags":
        table = insights_tables.red_flags(flags)
    else:
        table = insights_tables.TABLES[slug](report)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    writer.writerows([_cell(value) for value in row] for row in table.rows)
    name = f"insights-{slug}-{chosen.start}-{chosen.end}"
    if chosen.channel:
        name += f"-{chosen.channel}"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
