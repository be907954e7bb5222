"""Production-mode processes for the fault tests, as `make run-production` starts them.

Each service is `python -m bot run SERVICE --port N`; HAProxy's configuration comes
from bot/production.py.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy.engine import Engine

from bot.production import Service, Topology, haproxy_binary, haproxy_config
from tests.assistant import Assistant
from tests.fakes.twilio import FakeTwilio
from tests.stack import TWILIO_ACCOUNT_SID, free_port, launch, stop, wait_until_up

STARTUP_SECONDS = 600.0


@dataclass(frozen=True)
class Shared:
    """This run's own database, Redis key prefix and RabbitMQ queue."""

    database_url: str
    engine: Engine
    redis_prefix: str
    queue: str


@dataclass
class Processes:
    """The processes a module starts together and stops at its end."""

    var: Path
    env: dict[str, str]
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def log(self, name: str) -> str:
        return (self.var / f"{name}.log").read_text(errors="replace")

    def launch(self, name: str, service: str, *args: str) -> None:
        """Start `python -m bot run SERVICE ARGS`, logging to var/NAME.log."""
        self.running[name] = launch(service, self.env, self.var / f"{name}.log", *args)

    def haproxy(self, plan: Topology) -> None:
        config = self.var / "haproxy.cfg"
        config.write_text(haproxy_config(plan))
        log = (self.var / "haproxy.log").open("wb")
        self.running["haproxy"] = subprocess.Popen(
            [haproxy_binary(), "-db", "-f", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait(
        self,
        name: str,
        url: str,
        up: Callable[[requests.Response], bool] = lambda response: response.ok,
    ) -> None:
        """Until `url` answers (see tests.stack.wait_until_up).

        Generously: Rasa instances loading the model side by side on a busy
        2-core machine take minutes.
        """
        log = self.var / f"{name}.log"
        wait_until_up(url, self.running[name], log, up, timeout=STARTUP_SECONDS)

    def kill(self, name: str) -> None:
        """SIGKILL: no goodbye, no cleanup (a crashed machine, an OOM kill)."""
        process = self.running.pop(name)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self, *names: str) -> None:
        """SIGTERM, and SIGKILL 5 s later: no test here needs Rasa's 15 s grace."""
        stop([self.running.pop(name) for name in names], grace=5.0)

    def stop_all(self) -> None:
        self.stop(*self.running)


def production_env(
    shared: Shared, var: Path, twilio: FakeTwilio, **ports: int
) -> dict[str, str]:
    """The environment of a production installation on this run's shared services.

    `ports`: rasa, actions and web (where clients reach them: HAProxy's ports).
    """
    return {
        **os.environ,
        "SWITCHBOARD_MODE": "production",
        "SWITCHBOARD_VAR_DIR": str(var),
        "DATABASE_URL": shared.database_url,
        "REDIS_KEY_PREFIX": shared.redis_prefix,
        "EVENT_BROKER_QUEUE": shared.queue,
        "RASA_PORT": str(ports["rasa"]),
        "ACTION_PORT": str(ports["actions"]),
        "WEB_PORT": str(ports["web"]),
        "RASA_TOKEN": secrets.token_hex(16),
        "ACTION_SERVER_TOKEN": secrets.token_hex(16),
        "SECRET_KEY": secrets.token_hex(16),
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "TWILIO_PHONE_NUMBER": "+15005550006",
        "TWILIO_API_BASE_URL": twilio.url,
        "WORKER_INTERVAL": "0.5",
        "RASA_TELEMETRY_ENABLED": "false",
    }


@dataclass
class Installation(Assistant):
    """A running production installation: `rasa_url` is HAProxy's (or one instance)."""

    web_url: str
    secret: str
    processes: Processes
    shared: Shared
    instances: dict[str, str]  # process name -> its own URL

    @classmethod
    def of(
        cls, processes: Processes, shared: Shared, instances: dict[str, str]
    ) -> Installation:
        env = processes.env
        return cls(
            rasa_url=f"http://127.0.0.1:{env['RASA_PORT']}",
            token=env["RASA_TOKEN"],
            twilio_token=env["TWILIO_AUTH_TOKEN"],
            web_url=f"http://127.0.0.1:{env['WEB_PORT']}",
            secret=env["SECRET_KEY"],
            processes=processes,
            shared=shared,
            instances=instances,
        )

    def on(self, name: str) -> Assistant:
        """The same installation, reached at one instance instead of HAProxy."""
        return Assistant(self.instances[name], self.token, self.twilio_token)

    def health(self, url: str) -> tuple[int, dict[str, str]]:
        response = requests.get(url, timeout=10)
        return response.status_code, response.json()


def plan(front: dict[str, int], instances: dict[str, list[int]]) -> Topology:
    """A one-machine topology on the given ports (the tests choose free ones)."""
    health = {"rasa": "/health", "actions": "/health", "web": "/healthz"}
    return Topology(
        host="127.0.0.1",
        services=tuple(
            Service(name, front[name], tuple(instances[name]), health[name])
            for name in ("rasa", "actions", "web")
        ),
        worker_port=front["worker"],
        stats_port=free_port(),
    )
