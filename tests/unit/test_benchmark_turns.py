"""The load benchmark's turns by number of action server calls (benchmarks/turns.py)."""

from __future__ import annotations

import math

import pytest

from benchmarks.turns import (
    ActionTimes,
    CallGroup,
    action_times,
    call_groups,
    calls_per_turn,
    print_calls,
)

# 20 turns: 10 without a call (100 ms), 8 with one (200 ms), 2 with two (900 ms).
RECORDS = (
    [{"ms": 100.0, "calls": []}] * 10
    + [{"ms": 200.0, "calls": [["action_answer_faq", 50.0]]}] * 8
    + [{"ms": 900.0, "calls": [["validate_order_form", 300.0],
                               ["action_submit_order_form", 400.0]]}] * 2
)  # fmt: skip


def test_turns_are_grouped_by_their_calls_with_their_share_of_the_tail() -> None:
    # p95 of all 20 turns is 900 ms: none is slower, so no turn is in the tail.
    assert [g.in_tail for g in call_groups(RECORDS)] == [0, 0, 0]
    records = [*RECORDS, {"ms": 2000.0, "calls": [["action_handoff", 1900.0]]}]
    assert call_groups(records) == [
        CallGroup(calls=0, turns=10, p50_ms=100, p95_ms=100, in_tail=0),
        CallGroup(calls=1, turns=9, p50_ms=200, p95_ms=2000, in_tail=1),
        CallGroup(calls=2, turns=2, p50_ms=900, p95_ms=900, in_tail=0),
    ]
    assert call_groups([]) == []


def test_actions_are_listed_most_called_first() -> None:
    assert action_times(RECORDS) == [
        ActionTimes("action_answer_faq", 8, 50, 50),
        ActionTimes("validate_order_form", 2, 300, 300),
        ActionTimes("action_submit_order_form", 2, 400, 400),
    ]


def test_calls_per_turn() -> None:
    assert calls_per_turn(RECORDS) == (8 + 4) / 20
    assert math.isnan(calls_per_turn([]))


def test_the_table_names_each_group(capsys: pytest.CaptureFixture[str]) -> None:
    print_calls("switchboard rest, 10 customers", RECORDS)
    out = capsys.readouterr().out
    assert "20 turns, 0.60 action server calls per turn" in out
    assert "validate_order_form" in out
