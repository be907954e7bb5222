"""A stock Rasa 3.6 `rasa init` bot on this machine, to measure Switchboard against.

`rasa init --no-prompt` writes Rasa's example project (the mood bot: default
pipeline and policies, no custom actions, in-memory tracker store) into a temporary
folder and trains it there, a minute or two on 2 cores. The model is cached as
var/benchmark/stock-rasa-<fingerprint>.tar.gz, the fingerprint being Rasa's version
and the files `rasa init` copies, so it is trained once per Rasa version.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import rasa
from rasa.cli.scaffold import scaffold_path

from bot.launch import rasa_env
from tests.stack import free_port, stop, wait_until_up

# What a customer says to the mood bot: multi-turn, every path in its stories.
JOURNEYS = (
    ("hello", "I am great", "bye"),
    ("hi", "I am sad", "yes", "thanks, goodbye"),
    ("hey there", "very sad", "no", "bye"),
    ("good morning", "are you a bot?", "I am feeling wonderful", "see you later"),
)


def fingerprint() -> str:
    """Rasa's version and the contents of the project `rasa init` writes."""
    digest = hashlib.sha256(rasa.__version__.encode())
    root = Path(scaffold_path())
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _rasa() -> str:
    return str(Path(sys.executable).parent / "rasa")


def trained_model(cache: Path) -> Path:
    """The stock bot's model: from the cache, or made by `rasa init` (and cached)."""
    model = cache / f"stock-rasa-{fingerprint()[:16]}.tar.gz"
    if model.exists():
        return model
    cache.mkdir(parents=True, exist_ok=True)
    log = cache / "stock-rasa-init.log"
    print(f"Training the stock `rasa init` bot once (1-2 minutes; log: {log})...")
    with tempfile.TemporaryDirectory(prefix="stock-rasa-") as tmp:
        project = Path(tmp) / "bot"
        project.mkdir()
        with log.open("w") as output:
            subprocess.run(
                [_rasa(), "init", "--no-prompt", "--init-dir", str(project)],
                cwd=tmp, env=rasa_env(), stdout=output, stderr=output, check=True,
            )  # fmt: skip
        [trained] = sorted((project / "models").glob("*.tar.gz"))
        partial = model.with_suffix(f".{os.getpid()}.part")
        shutil.copyfile(trained, partial)
        partial.replace(model)
    return model


@dataclass
class StockBot:
    """The stock bot running: its REST channel at `url`, its process."""

    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def running_stock_bot(model: Path, logs: Path) -> Iterator[StockBot]:
    """`rasa run` with the stock model on a free loopback port, REST channel only."""
    port = free_port()
    logs.mkdir(parents=True, exist_ok=True)
    credentials = logs / "stock-credentials.yml"
    credentials.write_text("rest:\n")
    log = logs / "stock-rasa.log"
    process = subprocess.Popen(
        [_rasa(), "run", "--model", str(model), "--credentials", str(credentials),
         "--interface", "127.0.0.1", "--port", str(port)],
        cwd=logs, env=rasa_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/", process, log)
        yield StockBot(url=url, process=process)
    finally:
        stop([process])
