"""Start Switchboard's processes with settings from the environment.

The Procfile calls these, so that defaults live in one place (bot.settings) and Rasa's
endpoints file is generated from `RASA_TRACKER_STORE_URL` / `LOCK_STORE_URL`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from bot.settings import PROJECT_ROOT, Settings

MODEL_DIR = PROJECT_ROOT / "models"
MODEL_NAME = "switchboard"
TRAINING_INPUTS = ("config.yml", "domain.yml", "data", "bot/nlu")
# What `rasa train` reads: not all of data/, because data/validation/ is the set for
# choosing thresholds and must never be trained on.
TRAINING_DATA = ("data/nlu", "data/rules.yml")


def tracker_store_config(url: str) -> dict[str, Any]:
    """Rasa's SQL tracker store settings for a SQLAlchemy URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"type": "SQL", "dialect": "sqlite", "db": parsed.database}
    config: dict[str, Any] = {
        "type": "SQL",
        "dialect": parsed.drivername,
        "host": parsed.host,
        "db": parsed.database,
    }
    if parsed.port:
        config["port"] = parsed.port
    if parsed.username:
        config["username"] = parsed.username
    if parsed.password:
        config["password"] = parsed.password
    return config


def lock_store_config(url: str | None) -> dict[str, Any] | None:
    """Rasa's lock store settings: Redis when configured, else in-memory (None)."""
    if not url:
        return None
    parsed = make_url(url)
    config: dict[str, Any] = {
        "type": "redis",
        "url": parsed.host or "localhost",
        "port": parsed.port or 6379,
        "db": int(parsed.database or 0),
    }
    if parsed.password:
        config["password"] = parsed.password
    return config


def write_endpoints(settings: Settings) -> Path:
    """Write var/endpoints.yml for the Rasa server and return its path."""
    endpoints: dict[str, Any] = {
        "action_endpoint": {"url": settings.action_server_url},
        "tracker_store": tracker_store_config(settings.tracker_store_url),
    }
    lock_store = lock_store_config(settings.lock_store_url)
    if lock_store:
        endpoints["lock_store"] = lock_store
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    path = settings.var_dir / "endpoints.yml"
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False))
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
            if file.is_file() and "__pycache__" not in file.parts:
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
        f"Training the model (a few minutes; log: {log.relative_to(PROJECT_ROOT)})..."
    )
    started = time.monotonic()
    with log.open("w") as output:
        result = subprocess.run(
            command, cwd=PROJECT_ROOT, env=rasa_env(), stdout=output, stderr=output
        )
    if result.returncode != 0:
        print(log.read_text()[-4000:], file=sys.stderr)
        raise SystemExit(f"training failed (exit {result.returncode}); see {log}")
    stamp.write_text(fingerprint + "\n")
    print(f"Model trained in {time.monotonic() - started:.0f} s: {model_path()}")
    return True


def run_rasa(settings: Settings) -> None:
    """Replace this process with the Rasa server (HTTP API on, token required)."""
    endpoints = write_endpoints(settings)
    command = [
        _bin("rasa"), "run",
        "--model", str(model_path()),
        "--endpoints", str(endpoints),
        "--credentials", str(PROJECT_ROOT / "credentials.yml"),
        "--interface", settings.bind_host,
        "--port", str(settings.rasa_port),
        "--enable-api", "--auth-token", settings.rasa_token,
        "--cors", settings.web_origin,
    ]  # fmt: skip
    print(f"Rasa server: http://{settings.bind_host}:{settings.rasa_port}", flush=True)
    os.chdir(PROJECT_ROOT)
    os.execvpe(command[0], command, rasa_env())


def run_shell(settings: Settings) -> None:
    """Replace this process with `rasa shell` (needs the action server running)."""
    endpoints = write_endpoints(settings)
    command = [
        _bin("rasa"), "shell", "--model", str(model_path()),
        "--endpoints", str(endpoints),
    ]  # fmt: skip
    os.chdir(PROJECT_ROOT)
    os.execvpe(command[0], command, rasa_env())


def run_actions(settings: Settings) -> None:
    """Replace this process with the Rasa action server."""
    command = [
        _bin("rasa"), "run", "actions", "--actions", "actions",
        "--port", str(settings.action_port),
    ]  # fmt: skip
    print(f"Action server: http://127.0.0.1:{settings.action_port}", flush=True)
    os.chdir(PROJECT_ROOT)
    os.execvpe(command[0], command, rasa_env())


def run_web(settings: Settings) -> None:
    """Replace this process with the web app under gunicorn."""
    # Each open chat panel holds a thread for its event stream (25 s at a time).
    command = [
        _bin("gunicorn"), "--bind", f"{settings.bind_host}:{settings.web_port}",
        "--workers", "1", "--threads", "32", "--access-logfile", "-",
        "bot.web:create_app()",
    ]  # fmt: skip
    print(f"Web app: http://{settings.bind_host}:{settings.web_port}", flush=True)
    os.chdir(PROJECT_ROOT)
    os.execvpe(command[0], command, rasa_env())


def run_worker(settings: Settings) -> None:
    """Run the delivery worker in this process (bot/worker.py)."""
    from bot import worker  # only this process needs it

    worker.run(settings, settings.worker_interval)
