"""The action server round trips of each turn, from the Rasa server's turn trace.

The load benchmark runs Rasa with `TURN_TRACE_FILE` (bot/turn_trace.py): one record
per turn, with the wall time of each custom action call as Rasa waited for it. Here
the records of one channel and level are grouped by how many calls the turn made:
how many turns, their latency in the server, and how many of the slowest 5% each
group holds, which tells whether the tail is the turns that wait on the action
server. Pure functions over the records, and their printing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.stats import percentile

TAIL = 0.95  # the slowest 5%: the turns past p95


@dataclass(frozen=True)
class CallGroup:
    """The turns that made `calls` custom action calls."""

    calls: int
    turns: int
    p50_ms: float
    p95_ms: float
    in_tail: int  # how many of them are among the slowest 5% of all turns


@dataclass(frozen=True)
class ActionTimes:
    """One custom action's calls, as Rasa waited for them."""

    name: str
    calls: int
    p50_ms: float
    p95_ms: float


def call_groups(records: Sequence[dict[str, Any]]) -> list[CallGroup]:
    """The turns grouped by their number of custom action calls, fewest first."""
    if not records:
        return []
    cut = percentile([r["ms"] for r in records], TAIL)
    by_calls: dict[int, list[float]] = defaultdict(list)
    for record in records:
        by_calls[len(record["calls"])].append(record["ms"])
    return [
        CallGroup(
            calls=calls,
            turns=len(times),
            p50_ms=percentile(times, 0.50),
            p95_ms=percentile(times, 0.95),
            in_tail=sum(1 for ms in times if ms > cut),
        )
        for calls, times in sorted(by_calls.items())
    ]


def action_times(records: Sequence[dict[str, Any]]) -> list[ActionTimes]:
    """Each custom action called in `records`, most called first."""
    times: dict[str, list[float]] = defaultdict(list)
    for record in records:
        for name, ms in record["calls"]:
            times[name].append(ms)
    counts = Counter({name: len(ms) for name, ms in times.items()})
    return [
        ActionTimes(name, count, percentile(times[name], 0.5), percentile(times[name], 0.95))
        for name, count in counts.most_common()
    ]  # fmt: skip


def calls_per_turn(records: Sequence[dict[str, Any]]) -> float:
    """The mean number of custom action calls per turn (NaN for no turns)."""
    if not records:
        return float("nan")
    return sum(len(r["calls"]) for r in records) / len(records)


def print_calls(label: str, records: Sequence[dict[str, Any]]) -> None:
    """The turns of `label` by number of action calls, and each action's times."""
    tail = sum(g.in_tail for g in call_groups(records))
    print(f"\n{label}: {len(records)} turns, {calls_per_turn(records):.2f} action"
          f" server calls per turn (Rasa's own timing, TURN_TRACE_FILE)")  # fmt: skip
    print(f"{'calls':>7}{'turns':>7}{'share':>7}{'p50 ms':>8}{'p95 ms':>8}"
          f"{'of the slowest 5%':>19}")  # fmt: skip
    for g in call_groups(records):
        print(f"{g.calls:>7}{g.turns:>7}{g.turns / len(records):>7.0%}"
              f"{g.p50_ms:>8.0f}{g.p95_ms:>8.0f}{g.in_tail:>12} of {tail}")  # fmt: skip
    print(f"{'action':>33}{'calls':>7}{'p50 ms':>8}{'p95 ms':>8}")
    for a in action_times(records):
        print(f"{a.name:>33}{a.calls:>7}{a.p50_ms:>8.0f}{a.p95_ms:>8.0f}")
