"""The whole stack on a fresh, seeded database, started as the Procfile starts it.

Used by the end-to-end tests (tests/e2e/conftest.py) and the load benchmark
(benchmarks/load.py): the action server, the Rasa server, the web app and the
delivery worker on free loopback ports, with a fake Twilio REST endpoint.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bot import clock, migrate
from bot.db import make_engine
from bot.seed import seed_demo_data
from bot.settings import PROJECT_ROOT, Settings
from bot.worker import STARTED as WORKER_STARTED
from tests.fakes.twilio import FakeTwilio

MODEL = PROJECT_ROOT / "models" / "switchboard.tar.gz"
STARTUP_TIMEOUT = 180
TWILIO_ACCOUNT_SID = "AC" + "1" * 32
SHOP_NUMBER = "+15005550006"
# The services in the order they start: each waits for the one before.
SERVICES = ("actions", "rasa", "web", "worker")


def system_today() -> dt.date:
    """The machine's date in the shop's time zone (what the servers see)."""
    return clock.system_clock().astimezone(ZoneInfo(Settings().timezone)).date()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    rasa_url: str
    action_url: str
    web_url: str
    token: str
    action_token: str
    secret: str
    twilio_token: str
    twilio: FakeTwilio
    engine: Engine
    tracker_db: Path
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def twilio_post(
        self, path: str, params: dict[str, str], signature: str | None = "valid"
    ) -> requests.Response:
        """POST a Twilio webhook, signed like Twilio signs it (or not)."""
        url = f"{self.rasa_url}{path}"
        headers = {}
        if signature == "valid":
            headers["X-Twilio-Signature"] = RequestValidator(
                self.twilio_token
            ).compute_signature(url, params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return requests.post(url, data=params, headers=headers, timeout=30)

    def say(
        self, sender: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Send one customer message through the REST channel; return the bot's replies."""
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=60
        )
        response.raise_for_status()
        return list(response.json())

    def texts(self, sender: str, text: str) -> list[str]:
        return [m.get("text", "") for m in self.say(sender, text)]

    def user_texts(self, conversation_id: str) -> list[str]:
        """What the customer said in a conversation, from Rasa's tracker."""
        tracker = requests.get(
            f"{self.rasa_url}/conversations/{conversation_id}/tracker",
            params={"token": self.token},
            timeout=10,
        )
        tracker.raise_for_status()
        events = tracker.json()["events"]
        return [str(e.get("text")) for e in events if e["event"] == "user"]

    def session(self) -> Session:
        return Session(self.engine)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll `url` until it answers 200; fail if the process exits or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"{url} did not start in {STARTUP_TIMEOUT}s:\n{log.read_text()[-3000:]}"
    )


def launch(service: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a service as the Procfile does (`python -m bot run SERVICE`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", service],
        cwd=PROJECT_ROOT,
        env=dict(env),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def start_worker(env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start the delivery worker and wait until it is up.

    It has no HTTP endpoint: it is up once it logged its start line and is still
    running a second later.
    """
    process = launch("worker", env, log)
    started = time.monotonic()
    deadline = started + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited early:\n{log.read_text()[-3000:]}")
        if time.monotonic() - started >= 1 and WORKER_STARTED in log.read_text():
            return process
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(
        f"the worker did not start in {STARTUP_TIMEOUT}s:\n{log.read_text()[-3000:]}"
    )


def stop(processes: Mapping[str, subprocess.Popen[bytes]]) -> None:
    """Terminate `processes`, each given 30 s to exit before it is killed."""
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
            if service == "worker":
                processes[service] = start_worker(env, log)
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
            processes=processes,
        )
    finally:
        stop(processes)
        twilio.stop()
        engine.dispose()
