"""What `make train` shows of `rasa train`, on a recorded run and on real processes."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest

from bot.train_output import (
    Epochs,
    Problem,
    Stage,
    TrainingDisplay,
    TrainingParser,
    follow,
    log_tail,
    run,
    stage_of,
)

# A real `rasa train` of this project (combined stdout and stderr, as the pipe
# delivers it: warnings, log lines, tqdm's "\r" redraws).
RECORDED = Path(__file__).parent / "recorded" / "rasa-train.log"
STAGES = [
    "  checking the training data",
    "  learning the dialogue rules",
    "  preparing the NLU features",
    "  training the DIETClassifier",
]
ERROR_LINE = "2026-11-30 09:12:18 ERROR    rasa.engine  - the graph failed"


def recorded_lines() -> list[str]:
    """The recording split as the launcher reads its pipe (at CR and LF)."""
    with RECORDED.open(encoding="utf-8", newline="") as handle:
        return list(handle)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_recorded_run_is_four_stages_and_the_epochs() -> None:
    out, log = io.StringIO(), io.StringIO()

    follow(recorded_lines(), log, TrainingDisplay(out, terminal=False))

    assert out.getvalue().splitlines() == [*STAGES, "    50/50 epochs"]
    assert log.getvalue() == "".join(recorded_lines())  # every byte kept


def test_on_a_terminal_the_epochs_are_one_bar_redrawn_in_place() -> None:
    out = Terminal()

    follow(recorded_lines(), io.StringIO(), TrainingDisplay(out, terminal=True))

    lines = out.getvalue().split("\n")
    assert lines[:4] == STAGES
    bar = lines[4].split("\r")  # one line, redrawn
    assert re.search(r"\s50/50 epochs \[", bar[-1])
    assert lines[5:] == [""]
    assert "Warning" not in out.getvalue() and "INFO" not in out.getvalue()


def test_an_error_line_shows_at_once_even_during_the_bar() -> None:
    out = Terminal()
    display = TrainingDisplay(out, terminal=True)
    lines = recorded_lines()
    during_epochs = next(i for i, line in enumerate(lines) if "| 3/50" in line)

    follow(
        [*lines[:during_epochs], f"\x1b[31m{ERROR_LINE}\x1b[0m\n"],
        io.StringIO(),
        display,
    )

    assert ERROR_LINE + "\n" in out.getvalue()


def test_the_parser_names_each_stage_once() -> None:
    parser = TrainingParser()
    component = "INFO rasa.engine.training.hooks  - Starting to train component '{}'."

    events = [
        parser.feed(component.format(name))
        for name in ("RegexFeaturizer", "CountVectorsFeaturizer", "DIETClassifier")
    ]

    assert events == [
        Stage("preparing the NLU features"),
        None,
        Stage("training the DIETClassifier"),
    ]
    assert parser.feed("Epochs:  12%|█▏        | 6/50 [00:10<01:13]\r") == Epochs(6, 50)
    assert parser.feed(ERROR_LINE) == Problem(ERROR_LINE)
    assert parser.feed("Processed trackers: 100%|██████████| 44/44 [00:00]") is None


@pytest.mark.parametrize(
    ("component", "stage"),
    [
        ("TEDPolicy", "learning the dialogue rules"),
        ("ResponseSelector", "training the ResponseSelector"),
        ("MiniLMFeaturizer", "preparing the NLU features"),
    ],
)
def test_components_fall_into_stages(component: str, stage: str) -> None:
    assert stage_of(component) == stage


def test_the_tail_of_a_log_skips_the_progress_bars() -> None:
    tail = log_tail(RECORDED, count=3)

    assert tail[-1] == (
        "Your Rasa model is trained and saved at "
        "'/work/main/models/switchboard.tar.gz'."
    )
    assert not any(line.startswith(("Epochs", "Processed")) for line in tail)


def fake_rasa(tmp_path: Path, exit_code: int) -> list[str]:
    """A command that replays the recording, then exits with `exit_code`."""
    script = tmp_path / "fake_rasa.py"
    script.write_text(
        "import sys\n"
        f"sys.stdout.write(open({str(RECORDED)!r}, encoding='utf-8').read())\n"
        f"print('Traceback: the last words', file=sys.stderr)\n"
        f"sys.exit({exit_code})\n"
    )
    return [sys.executable, str(script)]


def test_a_successful_run_shows_the_stages(tmp_path: Path) -> None:
    out, log = io.StringIO(), tmp_path / "train.log"

    run(fake_rasa(tmp_path, 0), cwd=tmp_path, env={}, log=log, out=out)

    assert out.getvalue().splitlines() == [*STAGES, "    50/50 epochs"]
    assert log.read_text(encoding="utf-8").endswith("Traceback: the last words\n")


def test_a_failed_run_shows_the_log_tail_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "train.log"

    with pytest.raises(SystemExit) as failed:
        run(fake_rasa(tmp_path, 3), cwd=tmp_path, env={}, log=log, out=io.StringIO())

    assert str(failed.value) == f"training failed (exit 3); the whole log: {log}"
    tail = capsys.readouterr().err.splitlines()
    assert tail[-2:] == [
        "Your Rasa model is trained and saved at "
        "'/work/main/models/switchboard.tar.gz'.",
        "Traceback: the last words",
    ]


class Interrupted(io.StringIO):
    """An output where the user presses Ctrl-C as the first stage shows."""

    def write(self, text: str) -> int:
        raise KeyboardInterrupt


def test_an_interrupted_run_stops_the_training(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = tmp_path / "slow_rasa.py"
    script.write_text(
        "import os, sys, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "print('INFO - Started validating domain and training data...', flush=True)\n"
        "time.sleep(120)\n"
    )

    with pytest.raises(KeyboardInterrupt):
        run(
            [sys.executable, str(script)],
            cwd=tmp_path, env={}, log=tmp_path / "train.log", out=Interrupted(),
        )  # fmt: skip

    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
