"""The whole stack on a fresh, seeded database, started as the Procfile starts it.

Used by the end-to-end tests (tests/e2e/conftest.py) and the load benchmark
(benchmarks/load.py): the action server, the Rasa server, the web app, the delivery
worker and the insights consumer on free loopback ports, with a fake Twilio REST
endpoint.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

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
from tests.fakes.twilio import FakeTwilio

MODEL = PROJECT_ROOT / "models" / "switchboard.tar.gz"
# Rasa loads its model in ~30 s on a quiet machine; one seen under load took 176 s.
STARTUP_TIMEOUT = 360
TWILIO_ACCOUNT_SID = "AC" + "1" * 32
SHOP_NUMBER = "+15005550006"
# The services in the order they start: each waits for the one before.
SERVICES = ("actions", "rasa", "web", "worker", "insights")
# The services without a port, and the line each logs once it is up.
BACKGROUND = {"worker": WORKER_STARTED, "insights": INSIGHTS_STARTED}


def system_today() -> dt.date:
    """The machine's date in the shop's time zone (what the servers see)."""
    return clock.system_clock().astimezone(ZoneInfo(Settings().timezone)).date()


# Ports this test process has handed out: the kernel may give a released port
# again, and two services of one stack told the same port would not both listen
# (the second fails to start while the first answers its health checks for it).
_HANDED_OUT: set[int] = set()
_HANDING_OUT = threading.Lock()


def free_port() -> int:
    """A loopback port free now and never handed out before by this process."""
    with _HANDING_OUT:
        while True:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port


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
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

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
    service: str, env: Mapping[str, str], log: Path, *args: str
) -> subprocess.Popen[bytes]:
    """Start a service as the Procfile does (`python -m bot run SERVICE [ARGS]`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", service, *args],
        cwd=PROJECT_ROOT,
        env=dict(env),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def start_background(
    service: str, ready_line: str, env: Mapping[str, str], log: Path
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


@contextmanager
def running_stack(
    var: Path, extra_env: Mapping[str, str] | None = None
) -> Iterator[Stack]:
    """Every service of `make run` on a fresh database in `var`; stopped on exit.

    Rasa has its REST channel and its HTTP API (with a token); Twilio's REST API is
    a fake on loopback. `extra_env` overrides the settings given to every service.
    """
    if not MODEL.exists():
        raise RuntimeError(f"no trained model at {MODEL}: run `make train` first")
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
        "TWILIO_PHONE_NUMBER": SHOP_NUMBER,
        "TWILIO_API_BASE_URL": twilio.url,
        "WORKER_INTERVAL": "0.5",
        # Rasa's SQL event broker writes var/rasa_events.db (EVENT_BROKER_URL's
        # default); the insights consumer reads it.
        "INSIGHTS_INTERVAL": "0.3",
        **(extra_env or {}),
    }
    ready = {
        "actions": f"http://127.0.0.1:{action_port}/health",
        "rasa": f"http://127.0.0.1:{rasa_port}/status?token={token}",
        "web": f"http://127.0.0.1:{web_port}/healthz",
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for service in SERVICES:
            log = var / f"{service}.log"
            if service in BACKGROUND:
                processes[service] = start_background(
                    service, BACKGROUND[service], env, log
                )
                continue
            processes[service] = launch(service, env, log)
            wait_until_up(ready[service], processes[service], log)
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
            processes=processes,
        )
    finally:
        stop(processes.values())
        twilio.stop()
        engine.dispose()
