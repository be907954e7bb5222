"""The SVG charts: accessible, escaped, drawn to scale."""

from __future__ import annotations

import re

import pytest

from bot.web.console import charts
from bot.web.console.charts import Series


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1.0), (0.3, 0.5), (1, 1.0), (7, 10.0), (12, 20.0), (38, 50.0), (101, 200.0)],
)
def test_axis_maximum(value: float, top: float) -> None:
    assert charts.nice_max(value) == top


def test_a_chart_is_an_image_with_a_title_and_a_description() -> None:
    svg = charts.bars(
        "c1", "Reasons", "Bars: handoffs by reason.", ["asked"], [Series("n", [3])]
    )
    assert svg.startswith('<svg class="chart" id="c1"')
    assert 'role="img" aria-labelledby="c1-title c1-desc"' in svg
    assert '<title id="c1-title">Reasons</title>' in svg
    assert '<desc id="c1-desc">Bars: handoffs by reason.</desc>' in svg
    assert "<script" not in svg


def test_customers_words_are_escaped() -> None:
    words = '<script>alert("x")</script>'
    svg = charts.bars("c2", "Questions", "d", [words], [Series("asked", [2])])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_stacked_columns_are_drawn_to_scale() -> None:
    svg = charts.columns(
        "c3",
        "Per day",
        "d",
        ["11-19", "11-20"],
        [Series("web", [10, 0]), Series("sms", [10, 5])],
    )
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)"', svg)[:4]]
    plot = charts.BOTTOM - charts.TOP  # the axis tops at 20: the highest column
    assert heights == pytest.approx([plot / 2, plot / 2, 0, plot / 4], abs=0.1)
    assert "11-20, sms: 5" in svg  # each bar says what it is


def test_a_line_breaks_where_a_day_has_no_value() -> None:
    svg = charts.lines(
        "c4",
        "Rates",
        "d",
        ["a", "b", "c", "d"],
        [Series("containment", [0.5, 0.25, None, 1])],
    )
    assert svg.count("<polyline") == 1  # a-b; d stands alone
    assert svg.count("<circle") == 3
    assert "b, containment: 25%" in svg


def test_nothing_to_draw() -> None:
    svg = charts.columns("c5", "Per day", "d", [], [])
    assert "No data for this range." in svg and 'role="img"' in svg
