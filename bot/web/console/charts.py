"""Charts drawn on the server as SVG: no script, no CDN, readable in a screenshot.

Three kinds cover the Insights page: `columns` (values per day, stacked or side
by side), `lines` (rates per day) and `bars` (horizontal, one group per label).
Each SVG is an image with a title and a description for screen readers
(`role="img"`, `aria-labelledby`); the page puts the chart's table right after
it, which holds every number the picture shows. Colours come from one palette
whose neighbours differ in lightness too, and every series is named in a legend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 900
# Colour-blind-safe (Okabe-Ito), ordered so neighbours differ in lightness too.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#555555")
FONT = 12


@dataclass(frozen=True)
class Series:
    """A named row of values, one per label."""

    name: str
    values: Sequence[float | None]  # None: no value (a line breaks there)

    def at(self, index: int) -> float:
        """The value at `index`, 0 when there is none."""
        return self.values[index] or 0.0


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def number(value: float) -> str:
    return f"{value:g}" if value != int(value) else f"{int(value)}"


def nice_max(value: float) -> float:
    """The axis maximum: `value` rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _open(chart_id: str, title: str, description: str, height: int) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg class="chart" id="{cid}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" '
        f'font-size="{FONT}">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
    ]


def _legend(series: Sequence[Series], y: int) -> list[str]:
    parts, x = [], 8
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="{y}">{escape(item.name)}</text>'
        )
        x += 28 + 7 * len(item.name)
    return parts


def _empty(chart_id: str, title: str, description: str) -> Markup:
    parts = _open(chart_id, title, description, 60)
    parts.append('<text x="8" y="34">No data for this range.</text></svg>')
    return Markup("".join(parts))


def _y_axis(
    left: int, top: int, bottom: int, right: int, top_value: float, fmt: Fmt
) -> list[str]:
    parts = []
    for step in range(5):
        value = top_value * step / 4
        y = bottom - (bottom - top) * step / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text x="{left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(fmt(value))}</text>'
        )
    return parts


def _x_labels(labels: Sequence[str], left: int, step: float, y: int) -> list[str]:
    every = max(1, math.ceil(len(labels) * 48 / (WIDTH - left)))
    return [
        f'<text x="{left + step * (i + 0.5):.1f}" y="{y}" text-anchor="middle">'
        f"{escape(label)}</text>"
        for i, label in enumerate(labels)
        if i % every == 0
    ]


Fmt = Callable[[float], str]
# The plot area of `columns` and `lines`: height, left, top, bottom and right edges.
HEIGHT, LEFT, TOP, BOTTOM, RIGHT = 260, 48, 12, 214, WIDTH - 8


def _plot(
    chart_id: str, title: str, description: str, top_value: float, fmt: Fmt
) -> list[str]:
    """An SVG with its title, description and y axis (for values per day)."""
    parts = _open(chart_id, title, description, HEIGHT)
    return parts + _y_axis(LEFT, TOP, BOTTOM, RIGHT, top_value, fmt)


def _finish(
    parts: list[str], labels: Sequence[str], series: Sequence[Series]
) -> Markup:
    """The x labels and the legend under the plot, and the SVG closed."""
    parts += _x_labels(labels, LEFT, (RIGHT - LEFT) / len(labels), BOTTOM + 16)
    parts += _legend(series, HEIGHT - 8)
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    stacked: bool = True,
    fmt: Fmt = number,
) -> Markup:
    """Vertical bars per label (a day): stacked, or side by side."""
    if not labels or not series:
        return _empty(chart_id, title, description)
    left, top, bottom = LEFT, TOP, BOTTOM
    if stacked:
        highest = max(sum(s.at(i) for s in series) for i in range(len(labels)))
    else:
        highest = max(s.at(i) for s in series for i in range(len(labels)))
    top_value = nice_max(highest)
    parts = _plot(chart_id, title, description, top_value, fmt)
    step = (RIGHT - left) / len(labels)
    width = step * 0.7 / (1 if stacked else len(series))
    for i in range(len(labels)):
        base = float(bottom)
        for index, item in enumerate(series):
            value = item.at(i)
            size = (bottom - top) * value / top_value
            x = left + step * i + step * 0.15 + (0 if stacked else index * width)
            y = base - size if stacked else bottom - size
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{size:.1f}" fill="{PALETTE[index % len(PALETTE)]}">'
                f"<title>{escape(labels[i])}, {escape(item.name)}: "
                f"{escape(fmt(value))}</title></rect>"
            )
            if stacked:
                base -= size
    return _finish(parts, labels, series)


def lines(
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Fmt = percent,
    top_value: float = 1.0,
) -> Markup:
    """Lines through values per label (rates per day), with a dot at each value."""
    if not labels or not series:
        return _empty(chart_id, title, description)
    left, top, bottom = LEFT, TOP, BOTTOM
    parts = _plot(chart_id, title, description, top_value, fmt)
    step = (RIGHT - left) / len(labels)
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        runs: list[list[str]] = [[]]  # a day without a value breaks the line
        for i, value in enumerate(item.values):
            if value is None:
                runs.append([])
                continue
            x = left + step * (i + 0.5)
            y = bottom - (bottom - top) * value / top_value
            runs[-1].append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(labels[i])}, {escape(item.name)}: "
                f"{escape(fmt(value))}</title></circle>"
            )
        parts += [
            f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
            f'stroke-width="2"/>'
            for run in runs
            if len(run) > 1
        ]
    return _finish(parts, labels, series)


def bars(
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Fmt = number,
    top_value: float | None = None,
) -> Markup:
    """Horizontal bars, one group per label, each bar's value written at its end."""
    if not labels or not series:
        return _empty(chart_id, title, description)
    row = 14 * len(series) + 10
    left = min(260, 16 + 7 * max(len(label) for label in labels))
    right = WIDTH - 56
    height = 12 + row * len(labels) + (28 if len(series) > 1 else 4)
    top_value = top_value or nice_max(
        max(s.at(i) for s in series for i in range(len(labels)))
    )
    parts = _open(chart_id, title, description, height)
    for i, label in enumerate(labels):
        y = 8 + row * i
        parts.append(
            f'<text x="{left - 6}" y="{y + row / 2 + 2:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        for index, item in enumerate(series):
            value = item.at(i)
            size = (right - left) * value / top_value
            bar_y = y + 2 + 14 * index
            parts.append(
                f'<rect x="{left}" y="{bar_y}" width="{size:.1f}" height="12" '
                f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)}, '
                f"{escape(item.name)}: {escape(fmt(value))}</title></rect>"
                f'<text x="{left + size + 4:.1f}" y="{bar_y + 10}">'
                f"{escape(fmt(value))}</text>"
            )
    if len(series) > 1:
        parts += _legend(series, height - 8)
    parts.append("</svg>")
    return Markup("".join(parts))
