"""Forgetting delivery keys once no redelivery can bring their delivery back.

Two tables remember deliveries already handled, so that one delivered twice counts
once: `processed_webhooks` (Twilio's message and call-step ids and request
signatures: Twilio retries a webhook within minutes, and a replayed request is
refused) and `insights_event_keys` (the events the insights consumer counted:
RabbitMQ redelivers a message whose acknowledgement was lost when the consumer
reconnects). Both only grow. The worker deletes, once an hour, the keys older than
a window far longer than any redelivery: WEBHOOK_KEY_RETENTION_DAYS (90) and
INSIGHTS_KEY_RETENTION_DAYS (30). A signed Twilio request replayed after its key
was forgotten would be taken as new, hence the longer window for webhooks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.insights.schema import InsightEventKey
from bot.models import ProcessedWebhook


@dataclass(frozen=True)
class Retention:
    """How long each kind of key is kept."""

    webhooks: dt.timedelta
    insights: dt.timedelta

    def __post_init__(self) -> None:
        for name, kept in (("webhook", self.webhooks), ("insights", self.insights)):
            if kept < dt.timedelta(days=1):
                raise ValueError(f"{name} keys must be kept at least a day, not {kept}")


@dataclass(frozen=True)
class Pruned:
    """How many keys of each kind were deleted."""

    webhooks: int
    insights: int


def prune_keys(session: Session, retention: Retention, now: dt.datetime) -> Pruned:
    """Delete the keys older than their window (by `received_at`, indexed)."""
    webhooks = session.execute(
        delete(ProcessedWebhook).where(
            ProcessedWebhook.received_at < now - retention.webhooks
        )
    )
    insights = session.execute(
        delete(InsightEventKey).where(
            InsightEventKey.received_at < now - retention.insights
        )
    )
    return Pruned(webhooks.rowcount, insights.rowcount)
