"""Statistics the benchmarks print: percentiles, load summaries, ratios, trends."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with `share` of all at or below.

    `share` is a fraction (0.95 for p95); NaN for no values.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"share must be between 0 and 1, not {share}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def ratio(numerator: float, denominator: float) -> float:
    """The quotient; NaN when either number is missing (NaN) or the divisor is 0."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return math.nan
    return numerator / denominator


@dataclass(frozen=True)
class LoadSummary:
    """What a load run measured: turns answered in `seconds`, their latencies."""

    turns: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def turns_per_second(self) -> float:
        return ratio(self.turns, self.seconds)


def summarise(
    latencies_ms: Sequence[float], errors: int, seconds: float
) -> LoadSummary:
    """The summary of the turns answered (`latencies_ms`) and failed in `seconds`."""
    return LoadSummary(
        turns=len(latencies_ms),
        errors=errors,
        seconds=seconds,
        p50_ms=percentile(latencies_ms, 0.50),
        p95_ms=percentile(latencies_ms, 0.95),
        p99_ms=percentile(latencies_ms, 0.99),
    )


def by_turn_group(per_turn: Sequence[float], size: int) -> list[tuple[int, int, float]]:
    """Means of consecutive groups of `size` turns: (first turn, last turn, mean).

    Turns are numbered from 1; the last group may be shorter.
    """
    if size < 1:
        raise ValueError("a group has at least one turn")
    groups = []
    for start in range(0, len(per_turn), size):
        chunk = per_turn[start : start + size]
        groups.append((start + 1, start + len(chunk), sum(chunk) / len(chunk)))
    return groups


def growth(per_turn: Sequence[float], size: int) -> float:
    """How much slower the last `size` turns were than the first `size`: last/first."""
    if len(per_turn) < 2 * size:
        return math.nan
    first = sum(per_turn[:size]) / size
    last = sum(per_turn[-size:]) / size
    return ratio(last, first)
