"""The Insights page's charts, each drawn from its table (bot/insights/tables.py)."""

from __future__ import annotations

from markupsafe import Markup

from bot.insights.tables import Table
from bot.web.console import charts
from bot.web.console.charts import Series


def _column(table: Table, index: int) -> list[float | None]:
    return [None if row[index] is None else float(row[index]) for row in table.rows]


def chart(table: Table) -> Markup | None:
    """The chart drawn from `table` (None for tables shown only as tables)."""
    slug, title = table.slug, table.title
    labels = [str(row[0]) for row in table.rows]
    if slug == "conversations":
        names = table.columns[1:-1]
        series = [Series(n, _column(table, i + 1)) for i, n in enumerate(names)]
        days = [label[5:] for label in labels]  # MM-DD
        return charts.columns(
            "chart-conversations", title,
            f"Stacked columns: conversations on each day, by channel ({', '.join(names)}).",
            days, series,
        )  # fmt: skip
    if slug == "rates":
        series = [
            Series("containment", _column(table, 4)),
            Series("handoff", _column(table, 5)),
        ]
        return charts.lines(
            "chart-rates", title,
            "Two lines: the share of each day's conversations contained and handed off.",
            [label[5:] for label in labels], series,
        )  # fmt: skip
    if slug == "intents":
        return charts.bars(
            "chart-intents", title,
            "Bars: messages per request, and how many the assistant completed.",
            labels, [Series("messages", _column(table, 1)), Series("completed", _column(table, 2))],
        )  # fmt: skip
    if slug == "funnels":
        names = ("started", "verified", "completed", "handed off")
        series = [Series(n, _column(table, i + 1)) for i, n in enumerate(names)]
        return charts.bars(
            "chart-funnels", title,
            "Bars per flow: how many started, were verified, completed, handed off.",
            labels, series,
        )  # fmt: skip
    if slug == "handoff_reasons":
        return charts.bars(
            "chart-handoff-reasons", title, "Bars: handoffs by reason.",
            labels, [Series("conversations", _column(table, 1))],
        )  # fmt: skip
    if slug == "fallback":
        return charts.bars(
            "chart-fallback", title, "Bars: the fallback rate of each channel.",
            labels, [Series("fallback rate", _column(table, 3))],
            fmt=charts.percent,
            top_value=charts.nice_max(max((v or 0 for v in _column(table, 3)), default=0)),
        )  # fmt: skip
    if slug == "unanswered":
        return charts.bars(
            "chart-unanswered", title,
            "Bars: how often each question without an article was asked.",
            [label[:60] for label in labels], [Series("times asked", _column(table, 1))],
        )  # fmt: skip
    if slug == "csat":
        score = table.rows[0][2]
        return charts.bars(
            "chart-csat", title, "A bar: the share of ratings that were 4 or 5 of 5.",
            ["CSAT"] if score is not None else [], [Series("CSAT", [float(score or 0)])],
            fmt=charts.percent, top_value=1.0,
        )  # fmt: skip
    if slug == "segments":
        series = [Series("share of contacts", _column(table, 2)),
                  Series("share of handoffs", _column(table, 4))]  # fmt: skip
        return charts.bars(
            "chart-segments", title,
            "Bars per segment: its share of all contacts and of all handoffs.",
            labels, series, fmt=charts.percent, top_value=1.0,
        )  # fmt: skip
    return None
