"""Load benchmark: concurrent customers on every channel, and a stock Rasa bot beside.

`make benchmark-load` (or `python -m benchmarks.load --customers 1,10,50`) starts
the whole stack as `make run` does, on a fresh database in a temporary folder
(tests/stack.py: Rasa, the action server, the web app, the worker, a fake Twilio
REST API), and a stock Rasa 3.6 `rasa init` bot (benchmarks/stock_rasa.py). At
each level of N concurrent customers, each of our channels and the stock bot's REST
channel in turn get N customers going through realistic journeys back to back,
without pauses (benchmarks/journeys.py), for `--duration` seconds each, cut into
`--slices` interleaved rounds. It prints per channel turns/s, p50/p95/p99 latency,
errors and the Rasa server's CPU per turn, each process's memory, the ratios to the
stock bot, and the latency of one long conversation turn by turn (it must not
grow). `--mode production --rasa-instances N` measures production mode instead,
started as its fault tests start it (tests/production/stack.py: HAProxy in front of
N Rasa instances, on the machine's PostgreSQL, Redis and RabbitMQ).

Only loopback addresses are contacted; every loop is bounded in time. The machine
is shared: print `uptime` with the figures, and compare CPU per turn, which other
jobs disturb less than wall-clock figures.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import journeys, stock_rasa, turns
from benchmarks.stats import LoadSummary, by_turn_group, growth, ratio, summarise
from bot import turn_trace
from bot.settings import PROJECT_ROOT
from tests.production.stack import Installation, running_installation, shared_services
from tests.stack import MODEL, Stack, running_stack

CACHE = PROJECT_ROOT / "var" / "benchmark"
LEVELS = (1, 10, 50)
COMPARED_LEVEL = 10  # the target: ratios at 10 customers
LONG_TURNS = 40
RASA = "rasa"  # the Rasa server's process (all of them, in production mode)
ACTIONS = "actions"  # the action server's process (embedded mode)
TRACE = "turns.jsonl"  # the Rasa server's turn trace (bot/turn_trace.py), in var
GROUP = 5  # turns per row of the long conversation's table
# The phone channel's apologies and redirects follow VOICE_RESPONSE_TIMEOUT as
# configured; everything else is the embedded default of `make run`, but for the
# turn trace (TURN_TRACE_FILE, set in `stack_for`): one JSON line per turn.
STACK_SETTINGS: dict[str, str] = {}
# What one long conversation says, round and round: verification, help, thanks.
LONG_CONVERSATION = (
    "hi",
    "where is my order 104257?",
    "jane.doe@example.com",
    "can I return an item?",
    "what are your opening hours",
    "thanks",
)


class TurnFailed(Exception):
    """A turn raised or timed out: counted as an error, the journey ends."""


class TimeUp(Exception):
    """The window closed: no new turn starts."""


@dataclass
class Window:
    """The turns of one load window, recorded by every customer's thread."""

    deadline: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def turn(self, send: Callable[[], Any]) -> Any:
        """Time `send` as one turn (journeys.Turn)."""
        if time.monotonic() >= self.deadline:
            raise TimeUp
        started = time.perf_counter()
        try:
            answer = send()
        except Exception as exc:
            self.failed(exc)
            raise TurnFailed from exc
        elapsed = (time.perf_counter() - started) * 1000
        with self._lock:
            self.latencies_ms.append(elapsed)
        return answer

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.errors += 1
            self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"[:300]


def drive(journey: journeys.Journey, customers: int, seconds: float) -> Window:
    """`customers` threads, each going through journeys back to back for `seconds`."""
    window = Window(deadline=time.monotonic() + seconds)
    numbers = itertools.count()
    numbers_lock = threading.Lock()

    def customer() -> None:
        while time.monotonic() < window.deadline:
            with numbers_lock:
                number = next(numbers)
            try:
                journey(number, window.turn)
            except (TimeUp, TurnFailed):
                continue
            except Exception as exc:  # outside a turn: loading the page, hanging up
                window.failed(exc)

    threads = [threading.Thread(target=customer) for _ in range(customers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return window


# --- the processes measured --------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident memory of a process now and at its peak, in MB (Linux /proc)."""
    status = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return (
        int(status["VmRSS"].split()[0]) / 1024,
        int(status["VmHWM"].split()[0]) / 1024,
    )


@dataclass
class Target:
    """What is measured: journeys per channel, and the processes that serve them."""

    name: str
    rasa_url: str
    channels: dict[str, journeys.Journey]
    processes: dict[str, int]  # name -> pid
    long_texts: Sequence[str]  # what one long conversation says, round and round
    rasa_instances: int = 1
    trace: Path | None = None  # the Rasa server's turn trace, if it writes one

    def trace_size(self) -> int:
        """Bytes of the turn trace so far: where the next turns' records start."""
        if self.trace is None or not self.trace.exists():
            return 0
        return self.trace.stat().st_size

    def traced_since(self, offset: int) -> list[dict[str, Any]]:
        """The turn records written after `offset` bytes of the trace."""
        return [] if self.trace is None else turn_trace.read(self.trace, offset)

    def cpu(self) -> dict[str, float]:
        """CPU seconds of each process so far; "rasa": of every Rasa instance."""
        spent = {name: cpu_seconds(pid) for name, pid in self.processes.items()}
        if RASA not in spent:  # production mode: rasa_a, rasa_b, ...
            spent[RASA] = sum(v for n, v in spent.items() if n.startswith("rasa_"))
        return spent


def switchboard(site: journeys.Site, channels: Sequence[str]) -> Target:
    running = (
        site.processes.running if isinstance(site, Installation) else site.processes
    )
    return Target(
        name="switchboard",
        rasa_url=site.rasa_url,
        channels={name: journeys.CHANNELS[name](site) for name in channels},
        processes={name: p.pid for name, p in running.items()},
        long_texts=LONG_CONVERSATION,
        rasa_instances=sum(1 for name in running if name.startswith(RASA)),
        trace=site.logs / TRACE if isinstance(site, Stack) else None,
    )


def stock(bot: stock_rasa.StockBot) -> Target:
    def journey(number: int, turn: journeys.Turn) -> None:
        texts = stock_rasa.JOURNEYS[number % len(stock_rasa.JOURNEYS)]
        journeys.rest_journey(bot.url, texts, turn)

    return Target(
        name="stock rasa",
        rasa_url=bot.url,
        channels={"rest": journey},
        processes={"rasa": bot.process.pid},
        long_texts=[text for texts in stock_rasa.JOURNEYS for text in texts],
    )


def stack_for(
    mode: str, var: Path, rasa_instances: int
) -> AbstractContextManager[journeys.Site]:
    """The installation to measure: `make run`'s embedded mode, or production mode."""
    if mode == "embedded":
        return running_stack(
            var, {**STACK_SETTINGS, "TURN_TRACE_FILE": str(var / TRACE)}
        )
    return production(var, rasa_instances)


@contextmanager
def production(var: Path, rasa_instances: int) -> Iterator[Installation]:
    """Production mode as the fault tests start it (tests/production/stack.py).

    HAProxy in front of `rasa_instances` Rasa instances, an action server, two web
    app processes and the worker, on a database, Redis key prefix and RabbitMQ
    queue of this run's own on the machine's PostgreSQL, Redis and RabbitMQ.
    """
    with (
        shared_services() as shared,
        running_installation(shared, var, rasa_instances) as installation,
    ):
        yield installation


# --- measuring ---------------------------------------------------------------------


@dataclass
class Slices:
    """One target's channel measured in slices of time, added up."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    first_error: str | None = None
    traced: list[dict[str, Any]] = field(default_factory=list)  # bot/turn_trace.py


def measure_slice(
    target: Target, channel: str, customers: int, seconds: float, into: Slices
) -> None:
    """Load `channel` with `customers` for `seconds`; add what it measured `into`."""
    before, traced = target.cpu(), target.trace_size()
    started = time.monotonic()
    window = drive(target.channels[channel], customers, seconds)
    into.seconds += time.monotonic() - started
    into.traced += target.traced_since(traced)
    for name, cpu in target.cpu().items():
        into.cpu_seconds[name] = into.cpu_seconds.get(name, 0.0) + cpu - before[name]
    into.latencies_ms += window.latencies_ms
    into.errors += window.errors
    into.first_error = into.first_error or window.first_error


@dataclass(frozen=True)
class Measured:
    target: str
    channel: str
    customers: int
    summary: LoadSummary
    cpu_ms_per_turn: dict[str, float]
    first_error: str | None
    traced: list[dict[str, Any]]

    @classmethod
    def of(cls, target: str, channel: str, customers: int, part: Slices) -> Measured:
        turns = len(part.latencies_ms)
        cpu = {n: ratio(s * 1000, turns) for n, s in part.cpu_seconds.items()}
        summary = summarise(part.latencies_ms, part.errors, part.seconds)
        return cls(
            target, channel, customers, summary, cpu, part.first_error, part.traced
        )


def measure_level(
    targets: Sequence[Target], customers: int, seconds: float, slices: int
) -> list[Measured]:
    """Every target's every channel for `seconds`, in `slices` interleaved rounds.

    Each round gives each channel `seconds / slices`, so that all of them see the
    same changes in the machine's other load (it is shared).
    """
    parts = {(t.name, c): Slices() for t in targets for c in t.channels}
    for _ in range(slices):
        for target in targets:
            for channel in target.channels:
                part = parts[target.name, channel]
                measure_slice(target, channel, customers, seconds / slices, part)
    return [
        Measured.of(name, channel, customers, part)
        for (name, channel), part in parts.items()
    ]


def warm_up(target: Target) -> None:
    """Each journey once per channel, not counted: models and connections warmed."""
    for journey in target.channels.values():
        for number in range(len(journeys.TEXT_JOURNEYS)):
            try:
                journey(number, lambda send: send())
            except Exception as exc:
                print(f"warm-up: {target.name}: {type(exc).__name__}: {exc}"[:300])


def long_conversation(target: Target, turns: int) -> tuple[list[float], list[float]]:
    """Wall-clock ms and Rasa CPU ms of each turn of one conversation, one at a time."""
    sender = f"long-{time.time_ns()}"
    wall, cpu = [], []
    for text in itertools.islice(itertools.cycle(target.long_texts), turns):
        before = target.cpu()[RASA]
        started = time.perf_counter()
        journeys.rest_message(target.rasa_url, sender, text)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((target.cpu()[RASA] - before) * 1000)
    return wall, cpu


# --- printing ----------------------------------------------------------------------


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def print_header() -> None:
    print(f"{'customers':>9} {'target':<12}{'channel':<9}{'turns':>6}{'turns/s':>9}"
          f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>7}"
          f"{'Rasa CPU ms/turn':>18}{'actions CPU':>13}{'calls/turn':>12}")  # fmt: skip


def print_row(row: Measured) -> None:
    s = row.summary
    print(f"{row.customers:>9} {row.target:<12}{row.channel:<9}{s.turns:>6}"
          f"{s.turns_per_second:>9.1f}{s.p50_ms:>8.0f}{s.p95_ms:>8.0f}{s.p99_ms:>8.0f}"
          f"{s.errors:>7}{row.cpu_ms_per_turn.get(RASA, float('nan')):>18.1f}"
          f"{row.cpu_ms_per_turn.get(ACTIONS, float('nan')):>13.1f}"
          f"{turns.calls_per_turn(row.traced):>12.2f}", flush=True)  # fmt: skip
    if row.first_error:
        print(f"{'':>10}first error: {row.first_error}", flush=True)


def print_memory(targets: Sequence[Target]) -> None:
    parts = []
    for target in targets:
        for name, pid in target.processes.items():
            now, peak = memory_mb(pid)
            parts.append(f"{target.name}/{name} {now:.0f} (peak {peak:.0f})")
    print(f"{'':>10}memory MB: " + ", ".join(parts), flush=True)


def print_ratios(rows: Sequence[Measured], rasa_instances: int) -> None:
    """Our REST channel against the stock bot's; turns/s also per Rasa instance."""
    print(f"\nSwitchboard REST ({rasa_instances} Rasa instance(s)) / stock Rasa REST,"
          " same run:")  # fmt: skip
    print(f"{'customers':>9}{'turns/s':>9}{'per instance':>14}{'p95':>7}"
          f"{'Rasa CPU/turn':>15}")  # fmt: skip
    ours = {r.customers: r for r in rows if r.target == "switchboard" and r.channel == "rest"}  # fmt: skip
    theirs = {r.customers: r for r in rows if r.target == "stock rasa"}
    for customers in sorted(ours.keys() & theirs.keys()):
        a, b = ours[customers], theirs[customers]
        mark = "  <- the issue's target: per instance >= 0.8, p95 <= 1.5" if customers == COMPARED_LEVEL else ""  # fmt: skip
        turns = ratio(a.summary.turns_per_second, b.summary.turns_per_second)
        print(f"{customers:>9}{turns:>9.2f}{turns / rasa_instances:>14.2f}"
              f"{ratio(a.summary.p95_ms, b.summary.p95_ms):>7.2f}"
              f"{ratio(a.cpu_ms_per_turn[RASA], b.cpu_ms_per_turn[RASA]):>15.2f}"
              f"{mark}")  # fmt: skip


def print_long(name: str, wall: list[float], cpu: list[float]) -> None:
    print(f"\nOne {name} conversation of {len(wall)} turns, one turn at a time:")
    print(f"{'turns':>9}{'wall ms':>9}{'Rasa CPU ms':>13}")
    for (first, last, w), (_, _, c) in zip(
        by_turn_group(wall, GROUP), by_turn_group(cpu, GROUP), strict=True
    ):
        print(f"{first:>4}-{last:<4}{w:>9.0f}{c:>13.1f}")
    print(f"last {GROUP} / first {GROUP} turns: wall {growth(wall, GROUP):.2f}, "
          f"Rasa CPU {growth(cpu, GROUP):.2f}")  # fmt: skip


# --- main --------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default=",".join(map(str, LEVELS)),
                        help="levels of concurrent customers (default 1,10,50)")  # fmt: skip
    parser.add_argument("--duration", type=float, default=20.0,
                        help="seconds of load per channel and level (default 20)")  # fmt: skip
    parser.add_argument("--slices", type=int, default=4,
                        help="interleaved rounds the duration is cut into (default 4)")  # fmt: skip
    parser.add_argument("--channels", default=",".join(journeys.CHANNELS),
                        help="channels to load (default: all)")  # fmt: skip
    parser.add_argument("--long-turns", type=int, default=LONG_TURNS,
                        help="turns of the long conversation (0: none)")  # fmt: skip
    parser.add_argument("--no-stock", action="store_true",
                        help="skip the stock Rasa bot")  # fmt: skip
    parser.add_argument("--mode", choices=("embedded", "production"),
                        default="embedded")  # fmt: skip
    parser.add_argument("--rasa-instances", type=int, default=1,
                        help="production mode: Rasa instances behind the balancer")  # fmt: skip
    args = parser.parse_args(argv)
    args.levels = [int(n) for n in args.customers.split(",")]
    args.channel_names = args.channels.split(",")
    unknown = set(args.channel_names) - set(journeys.CHANNELS)
    if unknown or min(args.levels) < 1 or args.duration <= 0 or args.slices < 1:
        parser.error(f"unknown channels {sorted(unknown)}" if unknown else
                     "customers, duration and slices must be positive")  # fmt: skip
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not MODEL.exists():
        print(f"error: no trained model at {MODEL}: run `make train`")
        return 2
    var = Path(tempfile.mkdtemp(prefix="benchmark-load-"))
    stack_context = stack_for(args.mode, var, args.rasa_instances)
    stock_model = None if args.no_stock else stock_rasa.trained_model(CACHE)
    instances = (
        f", {args.rasa_instances} Rasa instances" if args.mode == "production" else ""
    )
    print(f"{uptime()}\nmode {args.mode}{instances}; logs in {var}", flush=True)
    rows: list[Measured] = []
    with ExitStack() as running:
        stack = running.enter_context(stack_context)
        targets = [switchboard(stack, args.channel_names)]
        if stock_model is not None:
            bot = running.enter_context(stock_rasa.running_stock_bot(stock_model, var))
            targets.append(stock(bot))
        for target in targets:
            warm_up(target)
        print(f"{uptime()}\n", flush=True)
        print_header()
        for customers in args.levels:
            level = measure_level(targets, customers, args.duration, args.slices)
            for row in level:
                rows.append(row)
                print_row(row)
            print_memory(targets)
            for row in level:
                if row.traced and row.channel == "rest":
                    label = f"{row.target} {row.channel}, {customers} customers"
                    turns.print_calls(label, row.traced)
            print(flush=True)
        print(uptime())
        print_ratios(rows, targets[0].rasa_instances)
        if args.long_turns:
            for target in targets:
                wall, cpu = long_conversation(target, args.long_turns)
                print_long(target.name, wall, cpu)
        print(f"\n{uptime()}")
    if any(r.summary.errors for r in rows):
        print(f"errors: the services' logs are kept in {var}")
        return 1
    shutil.rmtree(var, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
