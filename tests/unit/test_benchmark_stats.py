"""The load benchmark's statistics: percentiles, summaries, ratios, turn groups."""

from __future__ import annotations

import math

import pytest

from benchmarks.stats import by_turn_group, growth, percentile, ratio, summarise


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile(values, 0.0) == 1


def test_percentiles_of_few_values_are_values() -> None:
    assert percentile([7.0], 0.99) == 7
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.5) == 20
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.95) == 40
    assert math.isnan(percentile([], 0.5))
    with pytest.raises(ValueError):
        percentile([1.0], 95)


def test_ratios_never_divide_by_nothing() -> None:
    assert ratio(8, 10) == 0.8
    assert math.isnan(ratio(1, 0))
    assert math.isnan(ratio(math.nan, 2))
    assert math.isnan(ratio(2, math.nan))


def test_summary_of_a_window() -> None:
    summary = summarise([100.0] * 90 + [500.0] * 9 + [2000.0], errors=3, seconds=20)
    assert summary.turns == 100 and summary.errors == 3
    assert summary.turns_per_second == 5.0
    assert (summary.p50_ms, summary.p95_ms, summary.p99_ms) == (100, 500, 500)
    empty = summarise([], errors=1, seconds=20)
    assert empty.turns_per_second == 0 and math.isnan(empty.p95_ms)


def test_long_conversation_by_groups_of_turns() -> None:
    per_turn = [10.0] * 5 + [12.0] * 5 + [20.0, 20.0]
    assert by_turn_group(per_turn, 5) == [(1, 5, 10.0), (6, 10, 12.0), (11, 12, 20.0)]
    assert growth([10.0] * 5 + [15.0] * 5, 5) == 1.5
    assert math.isnan(growth([10.0] * 6, 5))  # fewer than two whole groups
    with pytest.raises(ValueError):
        by_turn_group(per_turn, 0)
