"""What `make train` shows of `rasa train`: one line per stage and one progress bar.

`rasa train` prints hundreds of lines: library warnings, a log line per graph node,
a progress bar per featurizer pass. All of it goes to the log file (models/train.log);
the terminal gets a line when a stage starts, a bar over the epochs of the model
being trained, and every ERROR line as it comes. On failure, the log's tail and its
path (`run`).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")
VALIDATING = re.compile(r"Started validating domain and training data")
COMPONENT = re.compile(r"Starting to train component '(?P<name>\w+)'")
# tqdm's text, e.g. "Epochs:  12%|█▏        | 6/50 [00:10<01:13, 1.67s/it, t_loss=3.1]"
EPOCHS = re.compile(r"^Epochs:\s+\d+%\|.*?\|\s*(?P<done>\d+)/(?P<total>\d+)\b")
PROGRESS_BAR = re.compile(r"^[\w ]+:\s+(\d+%\||\d+it \[)")  # any tqdm line
ERROR = re.compile(r"\bERROR\b")  # Rasa's log lines at level ERROR


@dataclass(frozen=True)
class Stage:
    """A step of training has started."""

    text: str


@dataclass(frozen=True)
class Epochs:
    """Epochs trained so far by the current stage's model."""

    done: int
    total: int


@dataclass(frozen=True)
class Problem:
    """An error line: always shown as it is."""

    line: str


Event = Stage | Epochs | Problem


def stage_of(component: str) -> str:
    """The stage a Rasa graph component's training belongs to."""
    if component.endswith("Policy"):
        return "learning the dialogue rules"
    if component.endswith(("Classifier", "Selector")):
        return f"training the {component}"
    return "preparing the NLU features"  # tokenizers, featurizers, extractors


class TrainingParser:
    """Turns `rasa train`'s output lines into events (most lines are none)."""

    def __init__(self) -> None:
        self._stages: set[str] = set()

    def feed(self, line: str) -> Event | None:
        """The event `line` means, if any; each stage is reported once, when it starts."""
        text = ANSI_CODES.sub("", line).strip()
        if ERROR.search(text):
            return Problem(text)
        epochs = EPOCHS.match(text)
        if epochs:
            return Epochs(int(epochs["done"]), int(epochs["total"]))
        stage = None
        if VALIDATING.search(text):
            stage = "checking the training data"
        elif component := COMPONENT.search(text):
            stage = stage_of(component["name"])
        if stage is None or stage in self._stages:
            return None
        self._stages.add(stage)
        return Stage(stage)


class TrainingDisplay:
    """Writes the events: indented stage lines and a bar over the epochs.

    On a terminal the bar redraws in place; elsewhere (CI, a log) it is one line
    when the stage ends, so the output stays readable.
    """

    def __init__(self, out: IO[str], terminal: bool) -> None:
        self._out = out
        self._terminal = terminal
        self._bar: tqdm | None = None
        self._epochs: Epochs | None = None

    def show(self, event: Event) -> None:
        """Write one event."""
        if isinstance(event, Epochs):
            self._advance(event)
            return
        if isinstance(event, Stage):
            self._end_bar()
            self._write(f"  {event.text}")
        else:
            self._write(event.line)

    def close(self) -> None:
        """End the bar under way, if any."""
        self._end_bar()

    def _advance(self, epochs: Epochs) -> None:
        self._epochs = epochs
        if not self._terminal:
            return
        if self._bar is None:
            # tqdm hides its bar on a terminal that reports no size (0 rows, as a
            # bare pseudo-terminal does); shutil falls back to $LINES, then 24.
            size = shutil.get_terminal_size()
            self._bar = tqdm(
                total=epochs.total,
                file=self._out,
                ncols=size.columns,
                nrows=size.lines,
                bar_format="    {bar:30} {n_fmt}/{total_fmt} epochs [{elapsed}<{remaining}]",
                ascii=False,
            )
        self._bar.update(epochs.done - self._bar.n)

    def _end_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._epochs is not None:
            self._write(f"    {self._epochs.done}/{self._epochs.total} epochs")
        self._bar = None
        self._epochs = None

    def _write(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self._out)
        else:
            print(text, file=self._out, flush=True)


def follow(lines: Iterable[str], log: IO[str], display: TrainingDisplay) -> None:
    """Copy every line to `log` and show what it means on `display`."""
    parser = TrainingParser()
    try:
        for line in lines:
            log.write(line)
            event = parser.feed(line)
            if event is not None:
                display.show(event)
    finally:
        display.close()


def log_tail(path: Path, count: int = 30) -> list[str]:
    """The last `count` lines of a training log, without progress-bar redraws."""
    tail: deque[str] = deque(maxlen=count)
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for line in handle:
            text = ANSI_CODES.sub("", line).rstrip("\r\n")
            if text.strip() and not PROGRESS_BAR.match(text.strip()):
                tail.append(text)
    return list(tail)


def run(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    out: IO[str],
) -> None:
    """Run a `rasa train` command: all its output to `log`, its stages to `out`.

    Raises:
        SystemExit: the command failed; the log's tail went to stderr first.
    """
    display = TrainingDisplay(out, terminal=out.isatty())
    env = {**env, "PYTHONUNBUFFERED": "1"}  # each line as it comes, for the bar
    with (
        log.open("w", encoding="utf-8", buffering=1) as output,  # line by line
        subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        ) as process,
    ):
        assert process.stdout is not None
        # newline="": a line ends at "\r" too, as each redraw of a progress bar does.
        lines = io.TextIOWrapper(
            process.stdout, encoding="utf-8", errors="replace", newline=""
        )
        try:
            follow(lines, output, display)
        except BaseException:  # Ctrl-C, or a failure of ours: no training left behind
            process.kill()
            process.wait()
            raise
    if process.returncode != 0:
        print(*log_tail(log), sep="\n", file=sys.stderr)
        raise SystemExit(
            f"training failed (exit {process.returncode}); the whole log: {log}"
        )
