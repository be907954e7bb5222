"""Health reports (bot/health.py): statuses, findings, logging, the worker's server."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
import requests

from bot import health
from bot.db import make_engine, make_session_factory
from bot.health import Check, Health, Unhealthy


def fine() -> None:
    return None


def down() -> None:
    raise ConnectionRefusedError("connect to 127.0.0.1:6390: refused")


def not_loaded() -> None:
    raise Unhealthy("not loaded")


def test_every_check_ok_is_200() -> None:
    report = Health("rasa", [Check("database", fine), Check("model", fine)]).report()
    assert report.http_status == 200
    assert report.to_json() == {"status": "ok", "database": "ok", "model": "ok"}


def test_an_optional_check_down_is_degraded_but_serving() -> None:
    report = Health(
        "rasa", [Check("database", fine), Check("event_broker", down, required=False)]
    ).report()
    assert report.http_status == 200
    assert report.to_json() == {
        "status": "degraded", "database": "ok", "event_broker": "unreachable",
    }  # fmt: skip


def test_a_required_check_down_is_503_with_what_was_found() -> None:
    report = Health(
        "rasa",
        [Check("model", not_loaded), Check("broker", down, required=False)],
    ).report()
    assert report.http_status == 503
    assert report.to_json() == {
        "status": "error", "model": "not loaded", "broker": "unreachable",
    }  # fmt: skip


def test_failures_are_logged_when_they_start_then_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    state = {"up": False}

    def flaky() -> None:
        if not state["up"]:
            down()

    checks = Health("web", [Check("redis", flaky)], clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="bot.health"):
        for at in (0.0, 2.0, 30.0, 61.0):
            now[0] = at
            checks.report()
        state["up"] = True
        checks.report()
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "web health: redis is unreachable (ConnectionRefusedError): connect to "
        "127.0.0.1:6390: refused",
    ] * 2 + ["web health: redis is back"]
    assert [r.levelname for r in caplog.records] == ["ERROR", "ERROR", "WARNING"]


def test_a_new_finding_is_logged_at_once(caplog: pytest.LogCaptureFixture) -> None:
    """The model still loading, then Redis unreachable: each finding is news."""
    now = [0.0]
    state = {"loaded": False}

    def lock_store() -> None:
        if not state["loaded"]:
            not_loaded()
        down()

    checks = Health("rasa", [Check("lock_store", lock_store)], clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="bot.health"):
        checks.report()
        now[0], state["loaded"] = 5.0, True
        checks.report()
        now[0] = 10.0
        checks.report()
    assert [record.getMessage() for record in caplog.records] == [
        "rasa health: lock_store is not loaded (Unhealthy): not loaded",
        "rasa health: lock_store is unreachable (ConnectionRefusedError): connect to "
        "127.0.0.1:6390: refused",
    ]


def test_the_database_probe(tmp_path: Path) -> None:
    working = make_session_factory(make_engine("sqlite://"))
    health.probe_database(working)()
    missing = make_session_factory(make_engine(f"sqlite:///{tmp_path}/no/dir/x.db"))
    with pytest.raises(Exception):  # noqa: B017 (whatever the driver raises)
        health.probe_database(missing)()


def test_the_worker_answers_health_checks_on_its_port(closed_port: int) -> None:
    checks = Health("worker", [Check("database", fine), Check("rounds", not_loaded)])
    server = health.serve(checks, "127.0.0.1", closed_port)
    try:
        answer = requests.get(f"http://127.0.0.1:{closed_port}/health", timeout=5)
        assert answer.status_code == 503
        assert answer.json() == {
            "status": "error", "database": "ok", "rounds": "not loaded",
        }  # fmt: skip
        other = requests.get(f"http://127.0.0.1:{closed_port}/", timeout=5)
        assert other.status_code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_the_http_probe_wants_a_200(closed_port: int) -> None:
    with pytest.raises(requests.ConnectionError):
        health.probe_http(f"http://127.0.0.1:{closed_port}/health")()
    checks = Health("x", [Check("a", not_loaded)])
    server = health.serve(checks, "127.0.0.1", closed_port)
    try:
        with pytest.raises(Unhealthy, match="status 503"):
            health.probe_http(f"http://127.0.0.1:{closed_port}/health")()
    finally:
        server.shutdown()
        server.server_close()


def test_a_monitor_answers_from_its_last_report_until_it_goes_stale() -> None:
    now = [100.0]
    state = {"up": True}

    def database() -> None:
        if not state["up"]:
            raise ConnectionRefusedError("refused")

    monitor = health.Monitor(
        Health("actions", [Check("database", database)]), clock=lambda: now[0]
    )
    assert monitor.latest() is None  # nothing probed yet: the route probes itself
    monitor.refresh()
    state["up"] = False  # not seen until the next refresh
    now[0] += health.STALE_SECONDS
    found = monitor.latest()
    assert found is not None and found.to_json() == {"status": "ok", "database": "ok"}
    now[0] += 1  # the probing thread stuck: not trusted any more
    found = monitor.latest()
    assert found is not None and found.http_status == 503
    assert found.to_json() == {"status": "error", "database": "ok", "health": "stale"}
    monitor.refresh()
    found = monitor.latest()
    assert found is not None and found.to_json() == {
        "status": "error", "database": "unreachable",
    }  # fmt: skip


def test_a_started_monitor_reports_on_its_own_thread() -> None:
    probed = threading.Event()

    def database() -> None:
        probed.set()

    monitor = health.Monitor(Health("rasa", [Check("database", database)]), 0.01)
    monitor.start()
    try:
        assert probed.wait(10)
        deadline = time.monotonic() + 10
        while (found := monitor.latest()) is None and time.monotonic() < deadline:
            time.sleep(0.01)  # probed, and the report is being kept
        assert found is not None and found.http_status == 200
    finally:
        monitor.stop()


def test_a_check_still_starting_logs_no_error_until_it_has_passed_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rasa's model loading at start is news, not an error; losing it later is."""
    state = {"loaded": False}

    def model() -> None:
        if not state["loaded"]:
            raise health.Starting("not loaded")

    checks = Health("rasa", [Check("model", model)], clock=lambda: 0.0)
    with caplog.at_level(logging.INFO, logger="bot.health"):
        first, second = checks.report(), checks.report()
        state["loaded"] = True
        checks.report()
        state["loaded"] = False
        lost = checks.report()
    assert first.http_status == second.http_status == lost.http_status == 503
    assert first.to_json() == {"status": "error", "model": "not loaded"}
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "rasa health: waiting for model (not loaded)"),
        ("INFO", "rasa health: model is up"),
        ("ERROR", "rasa health: model is not loaded (Starting): not loaded"),
    ]
