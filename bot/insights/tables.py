"""The Insights figures as tables: what the console charts, shows and exports.

The console draws each chart from a `Table`, shows the table under it and
offers it as CSV, and `python -m bot report` prints the same tables: the
picture, the table, the export and the terminal hold the same numbers. Rates are
fractions here (the page and the report write them as percentages).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.services import attention, insights
from bot.services.insights import Report

REASONS = {
    "asked": "Asked for a person",
    "accepted_offer": "Accepted the offer of a person",
    "misunderstood": "Misunderstood twice in a row",
    "verification": "Failed verification too often",
    "other": "Other",
}
MEASURES = (
    ("Conversations", "conversations", "Rasa sessions with a customer message"),
    ("Contained", "containment", "contained / conversations"),
    ("Handed off", "handoff", "handed off / conversations"),
    ("Abandoned", "abandonment", "abandoned / conversations"),
    (
        "Fallback rate",
        "fallback",
        "messages the assistant asked to rephrase / customer messages",
    ),
    (
        "Verification failure rate",
        "verification_failure",
        "failed verifications / (failed + passed verifications)",
    ),
    (
        "First-contact resolution",
        "first_contact_resolution",
        "ended conversations resolved (contained, or handed off and the ticket "
        "resolved) with no new contact within 7 days / ended conversations",
    ),
    (
        "Repeat contacts",
        "repeat_contact",
        "conversations whose customer had another in the 7 days before / conversations",
    ),
)


@dataclass(frozen=True)
class Table:
    """A titled table: what a chart shows, and what its CSV holds."""

    slug: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    # Columns holding rates (fractions): the page shows them as percentages.
    rates: frozenset[int] = frozenset()


def _days(report: Report) -> list[dt.date]:
    start, end = report.filters.start, report.filters.end
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def _share(part: int, whole: int) -> float | None:
    return insights.rate(part, whole)


def summary(report: Report) -> Table:
    totals = report.totals
    rows: list[tuple[Any, ...]] = []
    for title, key, formula in MEASURES:
        if key == "conversations":
            rows.append((title, totals.conversations, None, None, formula))
            continue
        part, whole = totals.fractions[key]
        rows.append((title, part, whole, insights.rate(part, whole), formula))
    return Table(
        "summary",
        "The figures",
        ("measure", "count", "out of", "rate", "formula"),
        rows,
        frozenset({3}),
    )


def per_day(report: Report) -> Table:
    channels = sorted({row.channel for row in report.days})
    cells = {(row.day, row.channel): row.conversations for row in report.days}
    rows = []
    for day in _days(report):
        counts = [cells.get((day, channel), 0) for channel in channels]
        rows.append((day.isoformat(), *counts, sum(counts)))
    return Table(
        "conversations",
        "Conversations per day by channel",
        ("day", *channels, "total"),
        rows,
    )


def rates_per_day(report: Report) -> Table:
    totals: dict[dt.date, dict[str, int]] = {}
    for row in report.days:
        outcomes = totals.setdefault(row.day, {})
        for name, count in row.outcomes.items():
            outcomes[name] = outcomes.get(name, 0) + count
    rows = []
    for day in _days(report):
        counts = totals.get(day, {})
        all_ = sum(counts.values())
        contained = counts.get(insights.CONTAINED, 0)
        handed = counts.get(insights.HANDED_OFF, 0)
        rows.append(
            (day.isoformat(), all_, contained, handed, _share(contained, all_),
             _share(handed, all_))
        )  # fmt: skip
    return Table(
        "rates",
        "Containment and handoff rate per day",
        ("day", "conversations", "contained", "handed off", "containment", "handoff"),
        rows,
        frozenset({4, 5}),
    )


def intents(report: Report) -> Table:
    rows = [(r.intent, r.messages, r.resolved, r.completion) for r in report.intents]
    return Table(
        "intents",
        "Top requests and how often the assistant completed them",
        ("intent", "messages", "completed", "completion rate"),
        rows,
        frozenset({3}),
    )


def funnels(report: Report) -> Table:
    rows = [
        (f.flow, f.started, f.verified, f.completed, f.handed_off)
        for f in report.funnels
    ]
    return Table(
        "funnels",
        "Each flow: started, verified, answered or completed, handed off",
        ("flow", "started", "verified", "completed", "handed off"),
        rows,
    )


def handoff_reasons(report: Report) -> Table:
    total = sum(report.handoff_reasons.values())
    rows = [
        (REASONS.get(reason, reason), count, _share(count, total))
        for reason, count in report.handoff_reasons.items()
    ]
    return Table(
        "handoff_reasons",
        "Why conversations were handed off",
        ("reason", "conversations", "share"),
        rows,
        frozenset({2}),
    )


def fallback(report: Report) -> Table:
    rows = [
        (c.channel, c.messages, c.fallbacks, c.fallback_rate) for c in report.channels
    ]
    return Table(
        "fallback",
        "Fallback rate per channel",
        ("channel", "messages", "fallbacks", "fallback rate"),
        rows,
        frozenset({3}),
    )


def unanswered(report: Report) -> Table:
    rows = [
        (q.question, q.asked, q.last_asked.strftime("%Y-%m-%d %H:%M"))
        for q in report.unanswered
    ]
    return Table(
        "unanswered",
        "Help-centre questions with no article",
        ("question", "times asked", "last asked (UTC)"),
        rows,
    )


def csat(report: Report) -> Table:
    score = report.csat
    row = (
        score.ratings,
        score.satisfied,
        score.score,
        score.average,
        score.unrated_feedback,
    )
    return Table(
        "csat",
        "Customer satisfaction from feedback",
        ("ratings", "satisfied (4 or 5 of 5)", "CSAT", "average (1-5)",
         "feedback without a rating"),
        [row],
        frozenset({2}),
    )  # fmt: skip


def segments(report: Report) -> Table:
    contacts = sum(s.conversations for s in report.segments)
    handoffs = sum(s.handoffs for s in report.segments)
    rows = [
        (s.segment, s.conversations, _share(s.conversations, contacts), s.handoffs,
         _share(s.handoffs, handoffs))
        for s in report.segments
    ]  # fmt: skip
    return Table(
        "segments",
        "Contacts and handoffs by segment",
        (
            "segment",
            "conversations",
            "share of contacts",
            "handoffs",
            "share of handoffs",
        ),
        rows,
        frozenset({2, 4}),
    )


def red_flags(flags: Sequence[attention.RedFlag]) -> Table:
    rows = [
        (flag.name, flag.email, flag.segment.value, "; ".join(flag.describe()),
         " ".join(t.reference for t in flag.tickets))
        for flag in flags
    ]  # fmt: skip
    return Table(
        "red_flags",
        "Customers who need attention",
        ("customer", "email", "segment", "why", "latest tickets"),
        rows,
    )


TABLES: dict[str, Callable[[Report], Table]] = {
    "summary": summary,
    "conversations": per_day,
    "rates": rates_per_day,
    "intents": intents,
    "funnels": funnels,
    "handoff_reasons": handoff_reasons,
    "fallback": fallback,
    "unanswered": unanswered,
    "csat": csat,
    "segments": segments,
}
SLUGS = (*TABLES, "red_flags")


def every_table(report: Report, flags: Sequence[attention.RedFlag]) -> list[Table]:
    """All the tables, in the page's order, the customers who need attention last."""
    return [build(report) for build in TABLES.values()] + [red_flags(flags)]


def show(value: Any, is_rate: bool = False) -> str:
    """A cell for people: rates as percentages, no value as a dash."""
    if value is None:
        return "—"
    if is_rate:
        return f"{value * 100:.0f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def as_text(table: Table, width: int = 60) -> str:
    """The table for a terminal: its title, then aligned columns."""
    cells = [list(table.columns)] + [
        [show(value, i in table.rates)[:width] for i, value in enumerate(row)]
        for row in table.rows
    ]
    sizes = [max(len(row[i]) for row in cells) for i in range(len(table.columns))]
    lines = [table.title, "-" * len(table.title)]
    lines += ["  ".join(c.ljust(s) for c, s in zip(row, sizes, strict=True)).rstrip()
              for row in cells]  # fmt: skip
    if not table.rows:
        lines.append("(nothing in this range)")
    return "\n".join(lines)


def as_json(report: Report, tables: Sequence[Table]) -> dict[str, Any]:
    """The report as JSON: its range, and each table's rows as objects."""
    return {
        "from": report.filters.start.isoformat(),
        "to": report.filters.end.isoformat(),
        "channel": report.filters.channel,
        "generated_at": report.generated_at.isoformat(),
        "tables": {
            table.slug: {
                "title": table.title,
                "rows": [
                    dict(zip(table.columns, row, strict=True)) for row in table.rows
                ],
            }
            for table in tables
        },
    }
