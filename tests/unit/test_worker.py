"""The delivery worker: rounds, priority refreshes, unclaimed holds, failures, stopping."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import cli, clock, health, migrate
from bot import worker as worker_module
from bot.db import make_engine, make_session_factory
from bot.models import (
    Agent,
    Channel,
    Delivery,
    OrderStatus,
    ProcessedWebhook,
    Ticket,
    TicketCategory,
    TicketMessage,
    TicketPriority,
    utcnow,
)
from bot.proactive.schema import EventKind, EventSource, NotificationStatus
from bot.services import back_to_bot, handoff, messaging, shop_events, tickets
from bot.services.retention import Retention
from bot.settings import Settings
from bot.worker import Worker
from tests.unit.holds import hold_for_a_person
from tests.unit.proactive_setup import new_customer, new_order, rules

SECRET = "worker-secret"
PHONE = "+14155550134"
OPTED_OUT = "+14155550178"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@dataclass
class FakeSms:
    sent: list[tuple[str, str]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    def send_sms(self, to: str, body: str) -> str:
        if to in self.failing:
            raise ConnectionError("Twilio unreachable")
        self.sent.append((to, body))
        return "SM1"


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def pending_reply(factory: sessionmaker[Session], phone: str) -> int:
    with factory.begin() as session:
        agent = session.scalars(select(Agent)).first() or Agent(
            name="Alice", email="alice@support.example.com", password_hash="x"
        )
        session.add(agent)
        ticket = tickets.open_ticket(
            session,
            tickets.TicketRequest(
                channel=Channel.SMS,
                category=TicketCategory.HANDOFF,
                subject="handed off",
                contact=phone,
                handed_off=True,
            ),
        )
        return handoff.reply(session, ticket, agent, "Hello", secret=SECRET).id


def delivery_of(factory: sessionmaker[Session], message_id: int) -> Delivery | None:
    with factory() as session:
        message = session.get(TicketMessage, message_id)
        assert message is not None
        return message.delivery


def make_worker(
    factory: sessionmaker[Session],
    sms: FakeSms | None = None,
    clock: FakeClock | None = None,
    unclaimed_for: dt.timedelta | None = None,
) -> Worker:
    worker = Worker(
        factory=factory,
        sms=sms or FakeSms(),
        secret=SECRET,
        unclaimed_for=unclaimed_for,
    )
    if clock is not None:
        worker.clock = clock
    return worker


def test_a_round_delivers_what_is_due_and_logs_each_outcome(
    factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    delivered = pending_reply(factory, PHONE)
    retried = pending_reply(factory, "+14155550111")
    failed = pending_reply(factory, OPTED_OUT)
    with factory.begin() as session:
        messaging.opt_out(session, OPTED_OUT)
    sms = FakeSms(failing={"+14155550111"})
    caplog.set_level(logging.INFO, logger="bot.worker")
    make_worker(factory, sms).tick()
    assert sms.sent == [(PHONE, "Alice (support): Hello")]
    assert delivery_of(factory, delivered) == Delivery.DELIVERED
    assert delivery_of(factory, retried) == Delivery.PENDING
    assert delivery_of(factory, failed) == Delivery.FAILED
    logged = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("INFO", f"message {delivered} delivered") in logged
    assert (
        "WARNING",
        f"message {retried} not delivered, will retry: Twilio unreachable",
    ) in logged
    assert any(
        level == "WARNING"
        and text.startswith(f"message {failed} cannot be delivered: ")
        for level, text in logged
    )


def test_priorities_are_refreshed_at_start_and_then_every_minute(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    refreshed: list[Session] = []

    def refresh(session: Session) -> int:
        refreshed.append(session)
        return 0

    monkeypatch.setattr(worker_module.priority, "refresh_priorities", refresh)
    clock = FakeClock()
    worker = make_worker(factory, clock=clock)
    worker.tick()
    clock.now += 30
    worker.tick()
    assert len(refreshed) == 1
    clock.now += 30
    worker.tick()
    assert len(refreshed) == 2


def test_a_refresh_is_committed(
    factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with factory.begin() as session:
        ticket = tickets.open_ticket(
            session,
            tickets.TicketRequest(
                channel=Channel.WEB, category=TicketCategory.HANDOFF, subject="help"
            ),
        )
        ticket.created_at = utcnow() - dt.timedelta(hours=7)  # 3 h past its due time
        ticket.first_response_due_at = None
        ticket_id = ticket.id
    caplog.set_level(logging.INFO, logger="bot.worker")
    assert make_worker(factory).refresh() == 1
    with factory() as session:
        refreshed = session.get(Ticket, ticket_id)
        assert refreshed is not None and refreshed.priority == TicketPriority.URGENT
    assert "1 ticket priority changed" in caplog.text


def held_by_sms(factory: sessionmaker[Session], at: dt.datetime) -> tuple[str, str]:
    """A texting customer's conversation held from `at`: its id and ticket reference."""
    conversation = messaging.sms_conversation_id(PHONE, SECRET)
    with factory.begin() as session:
        ticket = hold_for_a_person(session, conversation, Channel.SMS, PHONE, at)
        return conversation, ticket.reference


def held_by(factory: sessionmaker[Session], conversation: str) -> str | None:
    with factory() as session:
        ticket = handoff.held_ticket(session, conversation)
        return ticket.reference if ticket is not None else None


def test_a_conversation_nobody_claimed_goes_back_and_the_customer_is_texted(
    factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    start = clock.now()
    conversation, reference = held_by_sms(factory, start)
    sms = FakeSms()
    worker = make_worker(factory, sms, unclaimed_for=dt.timedelta(minutes=30))
    caplog.set_level(logging.INFO, logger="bot.worker")
    with clock.frozen_at(start + dt.timedelta(minutes=29)):
        worker.tick()
    assert held_by(factory, conversation) == reference
    assert sms.sent == []
    with clock.frozen_at(start + dt.timedelta(minutes=30)):
        worker.tick()  # released, and the notice delivered in the same round
    assert held_by(factory, conversation) is None
    assert sms.sent == [(PHONE, back_to_bot.unclaimed_notice(reference))]
    assert f"{reference} not claimed in time" in caplog.text
    with factory() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.reference == reference)
        ).one()
        assert ticket.status.value == "new"


def test_without_a_time_limit_holds_wait_for_an_agent(
    factory: sessionmaker[Session],
) -> None:
    start = clock.now()
    conversation, reference = held_by_sms(factory, start)
    sms = FakeSms()
    with clock.frozen_at(start + dt.timedelta(days=3)):
        make_worker(factory, sms).tick()
    assert held_by(factory, conversation) == reference
    assert sms.sent == []


def test_a_failing_round_is_logged_and_the_worker_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    broken = make_worker(
        make_session_factory(engine), unclaimed_for=dt.timedelta(minutes=30)
    )
    broken.tick()  # must not raise
    broken.tick()
    engine.dispose()
    assert caplog.text.count("returning unclaimed conversations failed") == 2
    assert caplog.text.count("delivery round failed") == 2
    assert caplog.text.count("refreshing ticket priorities failed") == 1


def test_the_loop_stops_when_asked(factory: sessionmaker[Session]) -> None:
    message_id = pending_reply(factory, PHONE)
    stop = threading.Event()
    loop = threading.Thread(target=make_worker(factory).run, args=(0.01, stop))
    loop.start()
    try:
        deadline = utcnow() + dt.timedelta(seconds=10)
        while delivery_of(factory, message_id) != Delivery.DELIVERED:
            assert utcnow() < deadline
            stop.wait(0.01)
    finally:
        stop.set()
        loop.join(5)
    assert not loop.is_alive()


def test_run_stops_cleanly_on_sigterm(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(var_dir=tmp_path, database_url=database_url, secret_key=SECRET)
    before = signal.getsignal(signal.SIGTERM)
    caplog.set_level(logging.INFO, logger="bot.worker")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        worker_module.run(settings, 0.05)
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGTERM) is before
    assert worker_module.STARTED in caplog.text
    assert "stopping (SIGTERM)" in caplog.text
    assert "Delivery worker stopped" in caplog.text


def test_with_a_port_it_answers_health_checks(
    database_url: str, tmp_path: Path, closed_port: int
) -> None:
    settings = Settings(var_dir=tmp_path, database_url=database_url, secret_key=SECRET)
    answers: list[tuple[int, dict[str, str]]] = []

    def ask() -> None:
        for _ in range(50):
            try:
                answer = requests.get(
                    f"http://127.0.0.1:{closed_port}/health", timeout=2
                )
            except requests.ConnectionError:
                threading.Event().wait(0.05)  # not listening yet
                continue
            answers.append((answer.status_code, answer.json()))
            break
        os.kill(os.getpid(), signal.SIGTERM)

    asking = threading.Timer(0.2, ask)
    asking.start()
    worker_module.run(settings, 0.05, health_port=closed_port)
    asking.join()
    assert answers == [(200, {"status": "ok", "database": "ok", "rounds": "ok"})]
    with pytest.raises(requests.ConnectionError):  # closed with the worker
        requests.get(f"http://127.0.0.1:{closed_port}/health", timeout=2)


def test_rounds_that_stop_coming_make_it_unhealthy(
    factory: sessionmaker[Session],
) -> None:
    now = [0.0]
    worker = Worker(factory=factory, sms=FakeSms(), secret=SECRET, clock=lambda: now[0])
    probe = worker.rounds_probe(interval=5.0)
    probe()  # no round yet, but just started
    now[0] = 61.0
    with pytest.raises(health.Unhealthy, match="stalled"):
        probe()  # the first round never ended
    now[0] = 0.0
    worker.tick()
    now[0] = 50.0
    probe()  # within 10 rounds (and at least a minute)
    now[0] = 61.0
    with pytest.raises(health.Unhealthy, match="stalled"):
        probe()


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_the_interval_must_be_positive(interval: float, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="WORKER_INTERVAL"):
        worker_module.run(Settings(var_dir=tmp_path), interval)


def test_unclaimed_hold_minutes_must_not_be_negative(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, unclaimed_hold_minutes=-5)
    with pytest.raises(ValueError, match="UNCLAIMED_HOLD_MINUTES must be 0"):
        worker_module.run(settings, 1.0)


def test_unclaimed_hold_minutes_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made: list[Worker] = []
    monkeypatch.setattr(Worker, "run", lambda self, interval, stop: made.append(self))
    database_url = f"sqlite:///{tmp_path / 'w.db'}"
    for minutes, expected in (
        (30, dt.timedelta(minutes=30)),
        (0, None),  # off: held until someone claims it
    ):
        settings = Settings(
            var_dir=tmp_path,
            database_url=database_url,
            secret_key=SECRET,
            unclaimed_hold_minutes=minutes,
        )
        worker_module.run(settings, 1.0)
        assert made[-1].unclaimed_for == expected
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    assert Settings.from_env().unclaimed_hold_minutes == 30
    monkeypatch.setenv("UNCLAIMED_HOLD_MINUTES", "45")
    assert Settings.from_env().unclaimed_hold_minutes == 45


def test_worker_interval_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    assert Settings.from_env().worker_interval == 5.0
    monkeypatch.setenv("WORKER_INTERVAL", "0.5")
    assert Settings.from_env().worker_interval == 0.5
    monkeypatch.setenv("WORKER_INTERVAL", "often")
    with pytest.raises(ValueError, match="WORKER_INTERVAL must be a number"):
        Settings.from_env()


def test_python_m_bot_run_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("WORKER_INTERVAL", "2.5")
    started: list[tuple[float | None, int | None]] = []

    def run(settings: Settings, interval: float, health_port: int | None) -> None:
        started.append((interval, health_port))

    monkeypatch.setattr(worker_module, "run", run)
    assert cli.main(["run", "worker"]) == 0
    assert cli.main(["run", "worker", "--port", "5999"]) == 0
    assert started == [(2.5, None), (2.5, 5999)]


def test_old_delivery_keys_are_forgotten_at_start_and_then_every_hour(
    factory: sessionmaker[Session],
) -> None:
    def old_key(name: str) -> None:
        with factory.begin() as session:
            session.add(
                ProcessedWebhook(id=name, received_at=utcnow() - dt.timedelta(days=91))
            )

    def keys() -> list[str]:
        with factory() as session:
            return sorted(session.scalars(select(ProcessedWebhook.id)))

    clock = FakeClock()
    worker = make_worker(factory, clock=clock)
    worker.keep_keys = Retention(dt.timedelta(days=90), dt.timedelta(days=30))
    old_key("sms:first")
    worker.tick()
    assert keys() == []
    old_key("sms:second")
    clock.now += 1800
    worker.tick()
    assert keys() == ["sms:second"]  # not an hour yet
    clock.now += 1801
    worker.tick()
    assert keys() == []


def test_a_night_event_goes_out_in_the_first_round_after_the_morning_boundary(
    factory: sessionmaker[Session],
) -> None:
    night = dt.datetime(2026, 3, 11, 3, 30, tzinfo=dt.timezone.utc)  # 23:30 EDT
    morning = dt.datetime(2026, 3, 11, 12, 0, tzinfo=dt.timezone.utc)  # 08:00 EDT
    with factory.begin() as session:
        customer = new_customer(session)
        order = new_order(session, customer)
        event = shop_events.OrderEvent("night", EventKind.DELIVERED, order.number)
        shop_events.receive(session, event, EventSource.WEBHOOK, rules(), night)
        phone = customer.phone
    sms = FakeSms()
    worker = Worker(factory=factory, sms=sms, secret=SECRET, rules=rules())
    with clock.frozen_at(morning - dt.timedelta(seconds=1)):
        worker.tick()
    assert sms.sent == []
    with clock.frozen_at(morning):
        worker.tick()
    [(to, body)] = sms.sent
    assert to == phone and f"order {order.number} has been delivered" in body


def test_the_worker_turns_a_late_order_into_one_delay_update(
    factory: sessionmaker[Session],
) -> None:
    moment = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.timezone.utc)  # 11:00 EDT
    with factory.begin() as session:
        customer = new_customer(session)
        new_order(session, customer, OrderStatus.SHIPPED, dt.date(2026, 3, 9))
    worker = Worker(factory=factory, sms=FakeSms(), secret=SECRET, rules=rules())
    with clock.frozen_at(moment):
        assert worker.check_late_orders() == 1
        assert worker.check_late_orders() == 0
        assert list(worker.notify().values()) == [NotificationStatus.SENT] * 2
