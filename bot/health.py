"""Health reports: each service and its dependencies, for the load balancer and people.

Every service answers a health path with JSON naming each dependency and either
"ok" or what is wrong, never an address, a URL or a secret:

    {"status": "ok", "database": "ok", "redis": "ok"}

| status | HTTP | when |
|---|---|---|
| ok | 200 | every dependency answers |
| degraded | 200 | only an optional one is down (RabbitMQ: Rasa keeps the events) |
| error | 503 | a required one is down: the load balancer takes the instance out |

A failing check is logged as an error with its cause when it starts failing or its
finding changes, and at most once a minute after that; its recovery is logged too.
A check still starting (:class:`Starting`: Rasa's model loading) is not a failure
until it has once passed: "waiting" and then "up" are logged as information, so
a normal start logs no error. The services: Rasa
`GET /health` (bot/rasa_health.py), the action server `GET /health`
(bot/action_server.py), the web app `GET /healthz` (bot/web/pages.py) and the
worker `GET /health` (bot/worker.py, when given a port).

The Rasa server and the action server answer from a `Monitor`: their checks run on
a thread of their own every second, and the route returns the last report at once.
Probing in the request (a database round trip, the action server's health with its
2 s timeout, a hop through the thread pool that turns use) queued the check behind
a busy instance's turns until the load balancer's check timed out and took the
instance out while it was serving (bot/production.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bot.shared_state import SharedState

logger = logging.getLogger(__name__)

OK = "ok"
DEGRADED = "degraded"
ERROR = "error"
UNREACHABLE = "unreachable"
LOG_EVERY = 60.0  # seconds
PROBE_TIMEOUT = 2.0
MONITOR_INTERVAL = 1.0  # seconds between a Monitor's reports
# A report this old means the probing thread is stuck: the service is not trusted.
STALE_SECONDS = 30.0
STALE = "stale"


class Unhealthy(Exception):
    """What a probe found, in a word or two ("not loaded", "status 503")."""


class Starting(Unhealthy):
    """A dependency that is not usable yet because it is still starting (loading)."""


@dataclass(frozen=True)
class Check:
    """A dependency: `probe` returns when it is usable and raises when not."""

    name: str
    probe: Callable[[], None]
    required: bool = True


@dataclass(frozen=True)
class Report:
    """The service's status and each check's finding."""

    service: str
    status: str
    checks: dict[str, str]

    @property
    def http_status(self) -> int:
        return 503 if self.status == ERROR else 200

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, **self.checks}


class Health:
    """Runs a service's checks and logs what fails (see the module docstring)."""

    def __init__(
        self,
        service: str,
        checks: Sequence[Check],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.checks = list(checks)
        self.clock = clock
        # failing check -> its finding and when it was last logged
        self._logged: dict[str, tuple[str, float]] = {}
        # checks that have passed once (after that, "starting" is a failure)
        self._passed: set[str] = set()
        # checks logged as waiting for their start, not yet up
        self._waiting: set[str] = set()
        self._lock = threading.Lock()

    def report(self) -> Report:
        """Probe every dependency now."""
        findings = {check.name: self._probe(check) for check in self.checks}
        failed = [check for check in self.checks if findings[check.name] != OK]
        if any(check.required for check in failed):
            status = ERROR
        else:
            status = DEGRADED if failed else OK
        return Report(self.service, status, findings)

    def _probe(self, check: Check) -> str:
        try:
            check.probe()
        except Exception as exc:  # any failure means the dependency is not usable
            finding = str(exc) if isinstance(exc, Unhealthy) else UNREACHABLE
            if isinstance(exc, Starting) and self._starting(check, finding):
                return finding
            self._failed(check, finding, exc)
            return finding
        with self._lock:
            was_failing = self._logged.pop(check.name, None) is not None
            was_waiting = check.name in self._waiting
            self._waiting.discard(check.name)
            self._passed.add(check.name)
        if was_failing:
            logger.warning("%s health: %s is back", self.service, check.name)
        elif was_waiting:
            logger.info("%s health: %s is up", self.service, check.name)
        return OK

    def _starting(self, check: Check, finding: str) -> bool:
        """Log a check that has never passed as waiting (once); False if it had passed."""
        with self._lock:
            if check.name in self._passed:
                return False
            first = check.name not in self._waiting
            self._waiting.add(check.name)
        if first:
            logger.info(
                "%s health: waiting for %s (%s)", self.service, check.name, finding
            )
        return True

    def _failed(self, check: Check, finding: str, exc: Exception) -> None:
        now = self.clock()
        with self._lock:
            last = self._logged.get(check.name)
            # A new finding is news at once ("not loaded" while the model loads,
            # then "unreachable"); the same one is repeated once a minute.
            if last is not None and last[0] == finding and now - last[1] < LOG_EVERY:
                return
            self._logged[check.name] = (finding, now)
        logger.error(
            "%s health: %s is %s (%s%s): %s",
            self.service,
            check.name,
            finding,
            type(exc).__name__,
            "" if check.required else "; optional",
            exc,
        )


class Monitor:
    """A Health probed on a thread of its own; `latest()` answers without waiting."""

    def __init__(
        self,
        health: Health,
        interval: float = MONITOR_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.health = health
        self.interval = interval
        self.clock = clock
        self._last: tuple[Report, float] | None = None
        self._stop = threading.Event()

    def refresh(self) -> Report:
        """Probe every dependency now and keep the report."""
        report = self.health.report()
        self._last = (report, self.clock())  # one assignment: readers see a pair
        return report

    def latest(self) -> Report | None:
        """The last report (None before the first); an error once it is stale."""
        last = self._last
        if last is None:
            return None
        report, at = last
        if self.clock() - at > STALE_SECONDS:
            return Report(report.service, ERROR, {**report.checks, "health": STALE})
        return report

    async def current(self) -> Report:
        """For a route: the last report, or one probed now off the event loop."""
        found = self.latest()
        if found is None:
            found = await asyncio.to_thread(self.refresh)
        return found

    def start(self) -> Monitor:
        """Report now, then every `interval` seconds on a daemon thread."""

        def run() -> None:
            while True:
                try:
                    self.refresh()
                except Exception:  # a probe's bug must not end the reports
                    logger.exception(
                        "%s health: the checks failed", self.health.service
                    )
                if self._stop.wait(self.interval):
                    return

        name = f"{self.health.service}-health"
        threading.Thread(target=run, name=name, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()


def probe_database(factory: sessionmaker[Session]) -> Callable[[], None]:
    """A probe that runs `SELECT 1` on the database."""

    def probe() -> None:
        with factory() as session:
            session.execute(text("SELECT 1"))

    return probe


def probe_redis(state: SharedState) -> Callable[[], None]:
    """A probe that pings Redis."""
    return state.ping


def probe_http(url: str, timeout: float = PROBE_TIMEOUT) -> Callable[[], None]:
    """A probe that GETs `url` (another service's health) and wants a 200."""

    def probe() -> None:
        response = requests.get(url, timeout=timeout)
        if response.status_code != 200:
            raise Unhealthy(f"status {response.status_code}")

    return probe


def serve(health: Health, host: str, port: int) -> ThreadingHTTPServer:
    """Answer `GET /health` on host:port in a background thread (the worker's)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # (http.server's name)
            if self.path != "/health":
                self.send_error(404)
                return
            report = health.report()
            body = json.dumps(report.to_json()).encode()
            self.send_response(report.http_status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # a check every few seconds is not news

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            # HAProxy hangs up once it has read the status line.
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    server = Server((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
