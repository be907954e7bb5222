"""Production-mode processes for the fault tests, as `make run-production` starts them.

Each service is `python -m bot run SERVICE --port N`; HAProxy's configuration comes
from bot/production.py.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis  # type: ignore[import-untyped]
import requests
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import migrate
from bot.production import Service, Topology, haproxy_binary, haproxy_config
from bot.seed import seed_demo_data
from bot.settings import LOCAL_RABBITMQ_URL, LOCAL_REDIS_URL
from tests.assistant import Assistant
from tests.conftest import _postgres_database
from tests.fakes.twilio import FakeTwilio
from tests.production.forwarder import Forwarder
from tests.rabbitmq import delete_queue
from tests.stack import (
    TWILIO_ACCOUNT_SID,
    free_port,
    launch,
    stop,
    system_today,
    wait_until_up,
)

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
    twilio: FakeTwilio | None = None
    # Between HAProxy and the action server, to make it slow (running_installation).
    action_proxy: Forwarder | None = None

    @classmethod
    def of(
        cls,
        processes: Processes,
        shared: Shared,
        instances: dict[str, str],
        **parts: Any,
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
            **parts,
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


@contextmanager
def running_installation(
    shared: Shared,
    var: Path,
    rasa_instances: int = 2,
    web_instances: int = 2,
    action_proxy: bool = False,
) -> Iterator[Installation]:
    """Production mode on `shared`, started at once, waited for, stopped at the end.

    HAProxy in front of `rasa_instances` Rasa instances (rasa_a, rasa_b, ...), one
    action server, `web_instances` web app processes, the worker and the insights
    consumer. With `action_proxy`, HAProxy reaches the action server through a
    Forwarder (`Installation.action_proxy`) that can make it slow.
    """
    front = {name: free_port() for name in ("rasa", "actions", "web", "worker")}
    ports = {
        "rasa": [free_port() for _ in range(rasa_instances)],
        "actions": [free_port()],
        "web": [free_port() for _ in range(web_instances)],
    }
    balanced = dict(ports)
    proxy = Forwarder(ports["actions"][0]) if action_proxy else None
    if proxy is not None:
        balanced["actions"] = [proxy.port]
        proxy.open()
    twilio = FakeTwilio().start()
    processes = Processes(var, production_env(shared, var, twilio, **front))
    instances = {
        f"rasa_{chr(ord('a') + n)}": f"http://127.0.0.1:{port}"
        for n, port in enumerate(ports["rasa"])
    }
    instances["actions"] = f"http://127.0.0.1:{ports['actions'][0]}"
    try:
        processes.haproxy(plan(front, balanced))
        processes.launch("actions", "actions", "--port", str(ports["actions"][0]))
        for name, url in instances.items():
            if name.startswith("rasa_"):
                processes.launch(name, "rasa", "--port", url.rsplit(":", 1)[1])
        for n, port in enumerate(ports["web"], start=1):
            processes.launch(f"web{n}", "web", "--port", str(port))
        processes.launch("worker", "worker", "--port", str(front["worker"]))
        processes.launch("insights", "insights")
        for name, url in instances.items():
            processes.wait(name, f"{url}/health")
        for n, port in enumerate(ports["web"], start=1):
            processes.wait(f"web{n}", f"http://127.0.0.1:{port}/healthz")
        processes.wait("worker", f"http://127.0.0.1:{front['worker']}/health")
        for name in ("rasa", "actions"):  # HAProxy has seen the instances healthy
            processes.wait("haproxy", f"http://127.0.0.1:{front[name]}/health")
        yield Installation.of(
            processes, shared, instances, twilio=twilio, action_proxy=proxy
        )
    finally:
        processes.stop_all()
        twilio.stop()
        if proxy is not None:
            proxy.close()


def _forget_redis(prefix: str) -> None:
    client = redis.Redis.from_url(LOCAL_REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@contextmanager
def shared_services() -> Iterator[Shared]:
    """A seeded PostgreSQL database, a Redis key prefix and a RabbitMQ queue.

    For this run alone, on the machine's services: dropped and deleted at the end.
    """
    run = "sbtest" + uuid.uuid4().hex[:10]  # letters and digits (REDIS_KEY_PREFIX)
    with _postgres_database() as url:
        migrate.upgrade(url)
        engine = create_engine(url)
        with Session(engine) as session, session.begin():
            seed_demo_data(session, today=system_today())
        try:
            yield Shared(url, engine, run, f"{run}_events")
        finally:
            engine.dispose()
            _forget_redis(run)
            asyncio.run(delete_queue(LOCAL_RABBITMQ_URL, f"{run}_events"))
