"""Delivery keys forgotten after their retention window (bot/services/retention.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.insights.schema import InsightEventKey
from bot.models import ProcessedWebhook
from bot.services.retention import Pruned, Retention, prune_keys

NOW = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.timezone.utc)
RETENTION = Retention(webhooks=dt.timedelta(days=90), insights=dt.timedelta(days=30))


def received(session: Session, days_ago: float, name: str) -> None:
    at = NOW - dt.timedelta(days=days_ago)
    session.add(ProcessedWebhook(id=f"sms:{name}", received_at=at))
    session.add(InsightEventKey(key=name, received_at=at))
    session.flush()


def test_keys_older_than_their_window_are_forgotten_the_rest_kept(
    session: Session,
) -> None:
    received(session, 1, "yesterday")
    received(session, 29.9, "within-both")
    received(session, 30.1, "past-insights")
    received(session, 90.1, "past-both")
    pruned = prune_keys(session, RETENTION, now=NOW)
    assert pruned == Pruned(webhooks=1, insights=2)
    assert sorted(session.scalars(select(ProcessedWebhook.id))) == [
        "sms:past-insights", "sms:within-both", "sms:yesterday",
    ]  # fmt: skip
    assert sorted(session.scalars(select(InsightEventKey.key))) == [
        "within-both", "yesterday",
    ]  # fmt: skip
    # Nothing left to forget at the same moment; a day later, one more.
    assert prune_keys(session, RETENTION, now=NOW) == Pruned(0, 0)
    later = NOW + dt.timedelta(days=1)
    assert prune_keys(session, RETENTION, now=later) == Pruned(webhooks=0, insights=1)


def test_a_window_shorter_than_a_day_is_refused() -> None:
    with pytest.raises(ValueError, match="insights keys must be kept at least a day"):
        Retention(webhooks=dt.timedelta(days=90), insights=dt.timedelta(hours=2))
