"""The delivery worker: sends the team's pending messages, keeps the queue moving.

Agent replies and notices are stored first and delivered after
(bot/services/delivery.py; both it and the proactive messages are outboxes,
bot/services/outbox.py). The console tries right away; this process picks up
everything else every WORKER_INTERVAL seconds: retries after a failure, replies
stored while the channel was down. Each round it first gives the assistant back
the conversations nobody claimed within UNCLAIMED_HOLD_MINUTES
(bot/services/back_to_bot.py), so their notices go out in the same round, and it
sends the proactive messages that are due (bot/services/notifications.py). Once a
minute it also recomputes the queue's priorities, so waiting tickets move up, and
turns orders past their estimated delivery into "delayed" events; once an hour it
forgets the delivery keys older than their retention window
(bot/services/retention.py).
Start it with `python -m bot run worker`; it stops cleanly on SIGTERM or SIGINT,
after the round under way. With `--port` it answers `GET /health` there
(bot/health.py): the database, and whether its rounds keep coming.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from sqlalchemy.orm import Session, sessionmaker

from bot import clock, health
from bot.chat_push import announce_on_commit
from bot.db import session_factory
from bot.models import Delivery, utcnow
from bot.proactive.schema import NotificationStatus
from bot.services import (
    back_to_bot,
    delivery,
    notifications,
    priority,
    retention,
    shop_events,
)
from bot.services.delivery import Outcome
from bot.services.messaging import SmsSender
from bot.services.notifications import Rules
from bot.settings import Settings
from bot.shared_state import SharedState
from bot.twilio_client import TwilioClient

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 60.0
PRUNE_SECONDS = 3600.0
STARTED = "Delivery worker started"
# Rounds missing for this many intervals (and at least a minute): stalled.
STALLED_ROUNDS = 10


@dataclass
class Worker:
    """One round at a time: release unclaimed holds, deliver, refresh priorities."""

    factory: sessionmaker[Session]
    sms: SmsSender
    secret: str
    region: str = "US"
    # How long a new ticket may hold its conversation; None: as long as it takes.
    unclaimed_for: dt.timedelta | None = None
    refresh_every: float = REFRESH_SECONDS
    # How long delivery keys are kept; None: never pruned.
    keep_keys: retention.Retention | None = None
    prune_every: float = PRUNE_SECONDS
    # Proactive messages (None: the worker sends none and checks no late orders).
    rules: Rules | None = None
    clock: Callable[[], float] = time.monotonic  # schedules refreshes and pruning
    _next_refresh: float | None = field(default=None, init=False)
    _next_prune: float | None = field(default=None, init=False)
    last_round: float | None = field(default=None, init=False)  # by `clock`
    started: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def release_unclaimed(self) -> list[back_to_bot.Released]:
        """Give the assistant back the conversations nobody claimed in time."""
        if self.unclaimed_for is None:
            return []
        with self.factory.begin() as session:
            released = back_to_bot.release_unclaimed(
                session,
                self.unclaimed_for,
                secret=self.secret,
                region=self.region,
                now=utcnow(),  # by bot/clock.py, which the tests set
            )
        for ticket in released:
            logger.info(
                "%s not claimed in time: its conversation is back with the assistant",
                ticket.reference,
            )
        return released

    def deliver(self) -> list[Outcome]:
        """Send every due message; log what happened to each."""
        outcomes = delivery.deliver_due(
            self.factory, self.sms, secret=self.secret, region=self.region
        )
        for outcome in outcomes:
            if outcome.delivery == Delivery.DELIVERED:
                logger.info("message %s delivered", outcome.message_id)
            elif outcome.delivery == Delivery.PENDING:
                logger.warning(
                    "message %s not delivered, will retry: %s",
                    outcome.message_id,
                    outcome.error,
                )
            else:
                logger.warning(
                    "message %s cannot be delivered: %s",
                    outcome.message_id,
                    outcome.error,
                )
        return outcomes

    def notify(self) -> dict[int, NotificationStatus]:
        """Send every due proactive message; log what became of each."""
        if self.rules is None:
            return {}
        outcomes = notifications.deliver_due(self.factory, self.sms, self.rules)
        for notification_id, status in outcomes.items():
            logger.info("notification %s: %s", notification_id, status.value)
        return outcomes

    def check_late_orders(self) -> int:
        """One "delayed" event for each order past its estimated delivery."""
        if self.rules is None:
            return 0
        with self.factory.begin() as session:
            made = shop_events.late_orders(
                session, self.rules, clock.today(self.rules.timezone), utcnow()
            )
        for received in made:
            logger.info(
                "order %s is late: delay update planned", received.event.order_id
            )
        return len(made)

    def refresh(self) -> int:
        """Recompute the open tickets' priorities (one transaction)."""
        with self.factory.begin() as session:
            changed = priority.refresh_priorities(session)
        if changed:
            logger.info(
                "%d ticket priorit%s changed", changed, "y" if changed == 1 else "ies"
            )
        return changed

    def prune(self) -> retention.Pruned | None:
        """Forget the delivery keys past their retention (one transaction)."""
        if self.keep_keys is None:
            return None
        with self.factory.begin() as session:
            pruned = retention.prune_keys(session, self.keep_keys, now=utcnow())
        if pruned.webhooks or pruned.insights:
            logger.info(
                "forgot %d webhook key(s) and %d insights event key(s) past retention",
                pruned.webhooks,
                pruned.insights,
            )
        return pruned

    def tick(self) -> None:
        """One round. A failure is logged and the next round tries again."""
        try:
            self.release_unclaimed()
        except Exception:
            logger.exception("returning unclaimed conversations failed")
        try:
            self.deliver()
        except Exception:
            logger.exception("delivery round failed")
        now = self.clock()
        if self._next_refresh is None or now >= self._next_refresh:
            self._next_refresh = now + self.refresh_every
            try:
                self.refresh()
            except Exception:
                logger.exception("refreshing ticket priorities failed")
            try:
                self.check_late_orders()
            except Exception:
                logger.exception("checking for late orders failed")
        if self._next_prune is None or now >= self._next_prune:
            self._next_prune = now + self.prune_every
            try:
                self.prune()
            except Exception:
                logger.exception("forgetting old delivery keys failed")
        try:
            self.notify()
        except Exception:
            logger.exception("sending proactive messages failed")
        self.last_round = self.clock()

    def rounds_probe(self, interval: float) -> Callable[[], None]:
        """A health probe: rounds keep coming (a stuck round shows here)."""
        limit = max(60.0, STALLED_ROUNDS * interval)

        def probe() -> None:
            last = self.started if self.last_round is None else self.last_round
            if self.clock() - last > limit:
                raise health.Unhealthy("stalled")

        return probe

    def run(self, interval: float, stop: threading.Event) -> None:
        """Rounds every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            self.tick()
            stop.wait(interval)


def run(
    settings: Settings, interval: float | None = None, health_port: int | None = None
) -> None:
    """Run the worker in this process until SIGTERM or SIGINT.

    With `health_port`, it answers `GET /health` there (on BIND_HOST).
    """
    interval = settings.worker_interval if interval is None else interval
    if not interval > 0:
        raise ValueError(f"WORKER_INTERVAL must be more than 0 seconds, got {interval}")
    if settings.unclaimed_hold_minutes < 0:
        raise ValueError(
            "UNCLAIMED_HOLD_MINUTES must be 0 (never) or more minutes, got "
            f"{settings.unclaimed_hold_minutes}"
        )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        logger.info("stopping (%s)", signal.Signals(signum).name)
        stop.set()

    previous = {
        signum: signal.signal(signum, request_stop)
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    worker = Worker(
        factory=session_factory(settings.database_url),
        sms=TwilioClient.from_settings(settings),
        secret=settings.secret_key,
        region=settings.default_phone_region,
        unclaimed_for=dt.timedelta(minutes=settings.unclaimed_hold_minutes)
        if settings.unclaimed_hold_minutes
        else None,
        keep_keys=retention.Retention(
            webhooks=dt.timedelta(days=settings.webhook_key_retention_days),
            insights=dt.timedelta(days=settings.insights_key_retention_days),
        ),
        rules=Rules.from_settings(settings),  # bad templates stop the start here
    )
    checks = [
        health.Check("database", health.probe_database(worker.factory)),
        health.Check("rounds", worker.rounds_probe(interval)),
    ]
    if settings.redis_url:  # web chat replies it delivers are pushed live
        state = SharedState.from_url(settings.redis_url, settings.redis_key_prefix)
        announce_on_commit(worker.factory, state)
        checks.append(health.Check("redis", health.probe_redis(state)))
    server = None
    if health_port:
        report = health.Health("worker", checks)
        server = health.serve(report, settings.bind_host, health_port)
    logger.info("%s: delivering every %g s", STARTED, interval)
    try:
        worker.run(interval, stop)
    finally:
        if server is not None:
            server.shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        worker.factory.kw["bind"].dispose()  # close the pool's connections
        logger.info("Delivery worker stopped")
