"""Start Switchboard's processes with settings from the environment.

The Procfile calls these, so that defaults live in one place (bot.settings) and Rasa's
endpoints file is generated from `RASA_TRACKER_STORE_URL`, `LOCK_STORE_URL` and
`EVENT_BROKER_URL`. Each service can listen on another port than its own (`port`):
an instance behind the load balancer in production mode (bot/production.py). Every
process keeps what it writes private (`keep_files_private`): var/ holds customer data,
password hashes and secrets.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from sqlalchemy.engine import make_url

from bot import train_output
from bot.db import sqlite_path
from bot.settings import PROJECT_ROOT, Settings, is_rabbitmq

MODEL_DIR = PROJECT_ROOT / "models"
MODEL_NAME = "switchboard"
TRAINING_INPUTS = ("config.yml", "domain.yml", "data", "bot/nlu")
# What `rasa train` reads: not all of data/, because data/validation/ is the set for
# choosing thresholds and must never be trained on.
TRAINING_DATA = ("data/nlu", "data/rules.yml")
# Folders under TRAINING_INPUTS that no model depends on: the help centre's
# validation set chooses the knowledge base's thresholds, which are read at run time.
NOT_TRAINING_INPUTS = ("data/validation/kb/",)


# Rasa's SQL tracker store, reading only each conversation's new rows per turn.
TRACKER_STORE = "bot.tracker_store.CachedSQLTrackerStore"


def tracker_store_config(url: str) -> dict[str, Any]:
    """Rasa's tracker store settings for a SQLAlchemy URL (bot/tracker_store.py)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"type": TRACKER_STORE, "dialect": "sqlite", "db": parsed.database}
    # The host goes under `url`: Rasa passes that to a custom store as its host.
    config: dict[str, Any] = {
        "type": TRACKER_STORE,
        "dialect": parsed.drivername,
        "url": parsed.host,
        "db": parsed.database,
    }
    if parsed.port:
        config["port"] = parsed.port
    if parsed.username:
        config["username"] = parsed.username
    if parsed.password:
        config["password"] = parsed.password
    return config


def lock_store_config(url: str | None, key_prefix: str) -> dict[str, Any] | None:
    """Rasa's lock store settings: Redis when configured, else in-memory (None).

    Our store (bot/lock_store.py), not Rasa's own "redis" type, whose tickets two
    instances can take at the same moment.
    """
    if not url:
        return None
    parsed = make_url(url)
    config: dict[str, Any] = {
        "type": "bot.lock_store.SharedLockStore",
        "url": parsed.host or "localhost",
        "port": parsed.port or 6379,
        "db": int(parsed.database or 0),
        "key_prefix": key_prefix,
    }
    if parsed.password:
        config["password"] = parsed.password
    return config


def event_broker_config(url: str, queue: str) -> dict[str, Any]:
    """Rasa's event broker settings: RabbitMQ for amqp:// URLs, else Rasa's SQL broker.

    The SQL broker takes a whole SQLAlchemy URL as its `url` and writes a table
    named `events`. RabbitMQ goes through our broker (bot/event_broker.py), which
    does not hold up the server while RabbitMQ is down; its credentials go in their
    own fields, so that the URL Rasa logs has none, and its fanout exchange is
    named after the queue, so installations sharing a server do not get each
    other's events.
    """
    if not is_rabbitmq(url):
        return {"type": "sql", "url": url}
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 5672
    return {
        "type": "bot.event_broker.RabbitMQBroker",
        "url": f"{parts.scheme}://{host}:{port}{parts.path or '/'}",
        "port": port,
        "username": unquote(parts.username or "guest"),
        "password": unquote(parts.password or "guest"),
        "queues": [queue],
        "exchange_name": queue,
    }


SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


PRIVATE_UMASK = 0o077


def keep_files_private(settings: Settings) -> None:
    """Make files this process (and what it execs) creates owner-only; tighten var/.

    Covers the SQLite databases (customers, agents' password hashes, conversations),
    their WAL files, secrets and endpoints. Files made by older versions, or before
    this ran, lose their group and other permissions.
    """
    os.umask(PRIVATE_UMASK)
    paths = [settings.var_dir]
    if settings.var_dir.is_dir():
        paths += sorted(settings.var_dir.rglob("*"))
    databases = [settings.database_url, settings.tracker_store_url]
    if not is_rabbitmq(settings.event_broker_url):
        databases.append(settings.event_broker_url)
    for url in databases:
        database = sqlite_path(url)
        if database is not None:  # maybe outside var/
            paths += [database.with_name(database.name + s) for s in SQLITE_SUFFIXES]
    for path in paths:
        try:
            mode = path.lstat().st_mode
            if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
                path.chmod(stat.S_IMODE(mode) & ~PRIVATE_UMASK)
        except (FileNotFoundError, PermissionError):
            continue  # gone meanwhile, or another user's file: not ours to change


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner can read, whatever the umask.

    Atomically: several Rasa instances starting together each write the endpoints
    file while the others read it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode on open
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(partial, path)


def write_endpoints(settings: Settings) -> Path:
    """Write var/endpoints.yml for the Rasa server and return its path.

    It holds the action server's token (and maybe the passwords of the tracker
    store, Redis and RabbitMQ or the event broker's database), so only its owner
    can read it.
    """
    endpoints: dict[str, Any] = {
        "action_endpoint": {
            "url": settings.action_server_url,
            "headers": {"Authorization": f"Bearer {settings.action_server_token}"},
            # The domain (17 kB of JSON) goes only to the forms' validate_*
            # actions, which read it; no other action does.
            "enable_selective_domain": True,
        },
        "tracker_store": tracker_store_config(settings.tracker_store_url),
        "event_broker": event_broker_config(
            settings.event_broker_url, settings.event_broker_queue
        ),
    }
    lock_store = lock_store_config(settings.lock_store_url, settings.redis_key_prefix)
    if lock_store:
        endpoints["lock_store"] = lock_store
    path = settings.var_dir / "endpoints.yml"
    write_private(path, yaml.safe_dump(endpoints, sort_keys=False))
    return path


def rasa_env() -> dict[str, str]:
    """Environment for Rasa processes: telemetry off, quiet TensorFlow."""
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("PYTHONPATH", str(PROJECT_ROOT))
    return env


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def training_fingerprint(root: Path = PROJECT_ROOT) -> str:
    """Hash of every file that affects the trained model."""
    digest = hashlib.sha256()
    for entry in TRAINING_INPUTS:
        path = root / entry
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            name = file.relative_to(root).as_posix()
            if (
                file.is_file()
                and "__pycache__" not in file.parts
                and not name.startswith(NOT_TRAINING_INPUTS)
            ):
                digest.update(str(file.relative_to(root)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def model_path() -> Path:
    return MODEL_DIR / f"{MODEL_NAME}.tar.gz"


def train(force: bool = False) -> bool:
    """Train the model if its inputs changed; returns True when it trained."""
    fingerprint = training_fingerprint()
    stamp = MODEL_DIR / f"{MODEL_NAME}.fingerprint"
    if (
        not force
        and model_path().exists()
        and stamp.exists()
        and stamp.read_text().strip() == fingerprint
    ):
        print(f"Model {model_path()} is up to date; not retraining.")
        return False
    MODEL_DIR.mkdir(exist_ok=True)
    command = [
        _bin("rasa"), "train", "--fixed-model-name", MODEL_NAME, "--out", str(MODEL_DIR),
        "--data", *TRAINING_DATA, "--force",
    ]  # fmt: skip
    log = MODEL_DIR / "train.log"
    print(
        "Training the model (a few minutes; the full log: "
        f"{log.relative_to(PROJECT_ROOT)})",
        flush=True,
    )
    started = time.monotonic()
    cpu_before = _children_cpu_seconds()
    train_output.run(command, cwd=PROJECT_ROOT, env=rasa_env(), log=log, out=sys.stdout)
    wall = time.monotonic() - started
    cpu = _children_cpu_seconds() - cpu_before
    stamp.write_text(fingerprint + "\n")
    training_time_path().write_text(
        json.dumps({"wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1)})
    )
    print(f"Model trained in {wall:.0f} s: {model_path()}")
    return True


def training_time_path() -> Path:
    """Where `train` records how long the served model took to train."""
    return MODEL_DIR / f"{MODEL_NAME}.training-time.json"


def _children_cpu_seconds() -> float:
    """User + system CPU time of this process's finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _rasa_server(*args: str) -> list[str]:
    """Our Rasa entry point (bot/rasa_server.py): the hold gate, the token from env.

    Started through bot/rasa_process.py, which filters warnings before Rasa loads.
    """
    return [sys.executable, "-m", "bot.rasa_process", *args]


def run_rasa(settings: Settings, port: int | None = None) -> None:
    """Replace this process with the Rasa server (HTTP API on, token required).

    The token goes in the environment (RASA_TOKEN), which only this user can read;
    the command line is shown to everyone by `ps`. `port` (an instance behind the
    load balancer) replaces RASA_PORT, where the load balancer listens.
    """
    port = port or settings.rasa_port
    endpoints = write_endpoints(settings)
    command = _rasa_server(
        "run",
        "--model", str(model_path()),
        "--endpoints", str(endpoints),
        "--credentials", str(PROJECT_ROOT / "credentials.yml"),
        "--interface", settings.bind_host,
        "--port", str(port),
        "--enable-api",
        "--cors", settings.web_origin,
    )  # fmt: skip
    env = rasa_env()
    env["RASA_TOKEN"] = settings.rasa_token
    print(f"Rasa server: http://{settings.bind_host}:{port}", flush=True)
    os.chdir(PROJECT_ROOT)
    os.execvpe(command[0], command, env)


def run_shell(settings: Settings) -> None:
    """Replace this process with `rasa shell` (needs the action server running)."""
    endpoints = write_endpoints(settings)
    # The shell runs its own server, which its prompt calls on localhost: on a free
    # port, so that it starts next to `make run`'s Rasa server (RASA_PORT).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = _rasa_server(
        "shell", "--model", str(model_path()), "--endpoints", str(endpoints),
        "--interface", "127.0.0.1", "--port", str(port),
    )  # fmt: skip
    os.chdir(PROJECT_ROOT)
    os.execvpe(command[0], command, rasa_env())


def run_actions(settings: Settings, port: int | None = None) -> None:
    """Run the action server in this process (on BIND_HOST, token required)."""
    from bot import action_server  # only this process needs rasa-sdk's server

    port = port or settings.action_port
    print(f"Action server: http://{settings.bind_host}:{port}", flush=True)
    os.chdir(PROJECT_ROOT)
    for name, value in rasa_env().items():
        os.environ.setdefault(name, value)
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))  # the `actions` package
    action_server.run(settings, port)


def run_web(settings: Settings, port: int | None = None) -> None:
    """Serve the web app under waitress in this process (on `port` or WEB_PORT).

    It drains at SIGTERM instead of dying mid-request (bot/web/server.py).
    """
    from bot.web import create_app
    from bot.web.server import GracefulServer

    port = port or settings.web_port
    os.chdir(PROJECT_ROOT)
    for name, value in rasa_env().items():
        os.environ.setdefault(name, value)
    server = GracefulServer(create_app(), settings.bind_host, port)
    print(f"Web app: http://{settings.bind_host}:{port}", flush=True)
    server.serve()


def run_worker(settings: Settings, port: int | None = None) -> None:
    """Run the delivery worker in this process (bot/worker.py).

    With `port`, it answers GET /health there (for the load balancer's checks).
    """
    from bot import worker  # only this process needs it

    worker.run(settings, settings.worker_interval, health_port=port)


def run_insights(settings: Settings) -> None:
    """Run the insights consumer in this process (bot/insights/consumer.py)."""
    from bot.insights import consumer  # only this process needs it

    consumer.run(settings)


def services_table(settings: Settings, demo_agents: Path | None) -> str:
    """What `make run` starts and where, as a table.

    `demo_agents` is the file with the demo agents' password (None: no demo agents).
    """
    host = settings.bind_host
    if demo_agents is None:
        sign_in = "agents: `python -m bot agent create`"
    else:
        sign_in = f"demo agents' password: {_shown(demo_agents)}"
    rows = [
        ("Service", "Address", "What"),
        ("Rasa server", f"http://{host}:{settings.rasa_port}",
         "REST channel: /webhooks/rest/webhook"),
        ("Action server", f"http://{host}:{settings.action_port}",
         "custom actions, for the Rasa server only"),
        ("Web app", settings.web_origin, "demo shop with the chat widget"),
        ("Agent console", f"{settings.web_origin}/console", sign_in),
        ("Worker", "(no port)", "delivers agent replies, retries failed ones"),
        ("Insights", "(no port)", "records conversation events for /console/insights"),
    ]  # fmt: skip
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    return "\n".join(
        f"  {name:<{widths[0]}}  {address:<{widths[1]}}  {what}"
        for name, address, what in rows
    )


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
