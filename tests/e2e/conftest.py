"""Start the real servers (Rasa, actions, web, worker, insights) on a fresh database."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import clock, migrate
from bot.db import make_engine
from bot.insights.consumer import STARTED as INSIGHTS_STARTED
from bot.seed import seed_demo_data
from bot.settings import PROJECT_ROOT, Settings
from bot.worker import STARTED as WORKER_STARTED
from tests.assistant import Assistant
from tests.e2e.browser import browser  # noqa: F401  (a fixture for every e2e test)
from tests.fakes.twilio import FakeTwilio

MODEL = PROJECT_ROOT / "models" / "switchboard.tar.gz"
STARTUP_TIMEOUT = 180


def system_today() -> dt.date:
    """The machine's date in the shop's time zone (what the servers see)."""
    return clock.system_clock().astimezone(ZoneInfo(Settings().timezone)).date()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


TWILIO_ACCOUNT_SID = "AC" + "1" * 32


@dataclass
class Stack(Assistant):
    action_url: str
    web_url: str
    action_token: str
    secret: str
    twilio: FakeTwilio
    engine: Engine
    tracker_db: Path
    logs: Path
    events_db: Path

    def session(self) -> Session:
        return Session(self.engine)


def wait_until_up(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    up: Callable[[requests.Response], bool] = lambda response: response.ok,
    timeout: float = STARTUP_TIMEOUT,
) -> None:
    """Poll `url` until it answers 200 (or `up`); fail if the process exits or stalls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if up(requests.get(url, timeout=2)):
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not start in {timeout}s:\n{log.read_text()[-3000:]}")


def launch(
    service: str, env: dict[str, str], log: Path, *args: str
) -> subprocess.Popen[bytes]:
    """Start a service as the Procfile does (`python -m bot run SERVICE [ARGS]`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", service, *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def stop(processes: Iterable[subprocess.Popen[bytes]], grace: float = 30.0) -> None:
    """SIGTERM to all at once; SIGKILL for any still running `grace` seconds later."""
    stopping = list(processes)
    for process in stopping:
        process.terminate()
    deadline = time.monotonic() + grace
    for process in stopping:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _start_background(
    service: str, ready_line: str, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """Start a service without a port (the worker, the insights consumer); wait.

    It is up once it logged `ready_line` and is still running a second later.
    """
    process = launch(service, env, log)
    started = time.monotonic()
    deadline = started + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{service} exited early:\n{log.read_text()[-3000:]}")
        if time.monotonic() - started >= 1 and ready_line in log.read_text():
            return process
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(
        f"{service} did not start in {STARTUP_TIMEOUT}s:\n{log.read_text()[-3000:]}"
    )


def seeded_database(var: Path) -> tuple[str, Engine]:
    """A migrated SQLite database in `var` with the demo data: its URL and engine."""
    database_url = f"sqlite:///{var / 'switchboard.db'}"
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        # The servers run on the machine's clock, not the suite's: date the demo
        # orders from the machine's today, as `make run` does.
        seed_demo_data(session, today=system_today())
    return database_url, engine


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Rasa (REST channel, HTTP API with token) and the action server, running."""
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first")
    var = tmp_path_factory.mktemp("var")
    database_url, engine = seeded_database(var)
    rasa_port, action_port, web_port = free_port(), free_port(), free_port()
    token, secret = secrets.token_hex(16), secrets.token_hex(16)
    # Rasa sends it (var/endpoints.yml), the action server requires it.
    action_token = secrets.token_hex(16)
    twilio_token = secrets.token_hex(16)
    twilio = FakeTwilio().start()
    env = {
        **os.environ,
        "SWITCHBOARD_VAR_DIR": str(var),
        "DATABASE_URL": database_url,
        "RASA_TRACKER_STORE_URL": f"sqlite:///{var / 'tracker.db'}",
        "RASA_PORT": str(rasa_port),
        "ACTION_PORT": str(action_port),
        "ACTION_SERVER_URL": f"http://127.0.0.1:{action_port}/webhook",
        "RASA_TOKEN": token,
        "ACTION_SERVER_TOKEN": action_token,
        "SECRET_KEY": secret,
        "RASA_TELEMETRY_ENABLED": "false",
        "WEB_PORT": str(web_port),
        "RASA_URL": f"http://127.0.0.1:{rasa_port}",
        # Twilio signs the public URL; here the servers are reached directly.
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{rasa_port}",
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": twilio_token,
        "TWILIO_PHONE_NUMBER": "+15005550006",
        "TWILIO_API_BASE_URL": twilio.url,
        "WORKER_INTERVAL": "0.5",
        # Rasa's SQL event broker writes var/rasa_events.db (EVENT_BROKER_URL's
        # default); the insights consumer reads it.
        "INSIGHTS_INTERVAL": "0.3",
    }
    processes = []
    try:
        for service, ready in (
            ("actions", f"http://127.0.0.1:{action_port}/health"),
            ("rasa", f"http://127.0.0.1:{rasa_port}/status?token={token}"),
            ("web", f"http://127.0.0.1:{web_port}/healthz"),
        ):
            log = var / f"{service}.log"
            process = launch(service, env, log)
            processes.append(process)
            wait_until_up(ready, process, log)
        processes.append(
            _start_background("worker", WORKER_STARTED, env, var / "worker.log")
        )
        processes.append(
            _start_background("insights", INSIGHTS_STARTED, env, var / "insights.log")
        )
        yield Stack(
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            action_url=f"http://127.0.0.1:{action_port}",
            web_url=f"http://127.0.0.1:{web_port}",
            token=token,
            action_token=action_token,
            secret=secret,
            twilio_token=twilio_token,
            twilio=twilio,
            engine=engine,
            tracker_db=var / "tracker.db",
            logs=var,
            events_db=var / "rasa_events.db",
        )
    finally:
        stop(processes)
        twilio.stop()
        engine.dispose()
