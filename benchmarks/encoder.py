"""Cost of the all-MiniLM-L6-v2 sentence encoder (bot/nlu/encoder.py) per message.

Prints, for typical customer messages of 5 to 40 words, the milliseconds per message
(p50/p95) when each message is encoded alone, as Rasa does per turn, on one BLAS
thread and on all, then the batch throughput over the NLU training examples
(data/nlu), which is what training adds before DIET. Run with
`python -m benchmarks.encoder` (`--rounds N` per message).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable

from rasa.shared.nlu.training_data.loading import load_data
from threadpoolctl import threadpool_info, threadpool_limits

from benchmarks.stats import percentile
from bot.nlu.encoder import (
    SentenceEncoder,
    default_model_dir,
    load_encoder,
    read_encoder,
)
from bot.settings import PROJECT_ROOT

# 5 to 40 words, written the way customers write in the chat and by SMS.
MESSAGES = [
    "where is my order 104257",
    "cancel my order please, wrong size",
    "hi, my parcel hasn't arrived yet, can you check?",
    "I need to change the delivery address for order 112233",
    "the lamp I got yesterday arrived broken, the glass is cracked",
    "can i return shoes that i already wore once outside, they hurt",
    "hello, I ordered two chairs last week and only one came, what happened to "
    "the other one",
    "my tracking number says delivered but there is nothing at my door and my "
    "neighbours have not seen anything either",
    "i was charged twice for the same order and i would like one of the payments "
    "refunded to my card as soon as possible",
    "Good morning! I placed an order on Friday with express shipping but it still "
    "says processing, will it arrive before my daughter's birthday on Tuesday?",
    "hey so i moved last month and forgot to update my address, the package "
    "went to my old flat, can you redirect it or do i have to wait for it "
    "to come back",
    "I have been trying to reach someone for three days about a refund that was "
    "promised to me by one of your agents and nobody answers my emails, please "
    "let me talk to a real person now",
]


def per_message_ms(
    encoder: SentenceEncoder, rounds: int
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds to encode each message alone, ``rounds`` times.

    The CPU time (all threads of the process) shows the cost on a machine whose
    cores are not shared: wall-clock time grows with whatever else runs.
    """
    for message in MESSAGES:  # warm-up: caches, BLAS threads
        encoder.encode([message])
    wall, cpu = [], []
    for _ in range(rounds):
        for message in MESSAGES:
            start, start_cpu = time.perf_counter(), time.process_time()
            encoder.encode([message])
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def print_by_length(cpu: list[float]) -> None:
    """Prints the CPU p50 per message length (timings are in MESSAGES order)."""
    for low, high in ((5, 10), (11, 20), (21, 40)):
        selected = [
            ms
            for index, ms in enumerate(cpu)
            if low <= len(MESSAGES[index % len(MESSAGES)].split()) <= high
        ]
        print(f"    {low}-{high} words: CPU p50 {statistics.median(selected):.1f} ms")


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds one call of ``action`` takes."""
    start, start_cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - start, time.process_time() - start_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timings per message")
    args = parser.parse_args(argv)

    load_seconds, _ = timed(functools.partial(read_encoder, default_model_dir()))
    encoder = load_encoder()
    blas = [f"{i['internal_api']} {i['version']} {i.get('architecture')}"
            for i in threadpool_info() if i["user_api"] == "blas"]  # fmt: skip
    words = [len(message.split()) for message in MESSAGES]
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}, "
          f"BLAS: {', '.join(blas)}")  # fmt: skip
    print(f"load with checksums: {load_seconds * 1000:.0f} ms")
    print(f"{len(MESSAGES)} messages of {min(words)}-{max(words)} words, "
          f"{args.rounds} rounds each, one message per call:")  # fmt: skip
    for threads in (1, os.cpu_count() or 1):
        with threadpool_limits(threads):
            wall, cpu = per_message_ms(encoder, args.rounds)
        print(f"  {threads} thread(s): wall p50 {statistics.median(wall):.1f} ms, "
              f"p95 {percentile(wall, 0.95):.1f} ms; CPU p50 "
              f"{statistics.median(cpu):.1f} ms, "
              f"p95 {percentile(cpu, 0.95):.1f} ms")  # fmt: skip
        if threads == 1:
            print_by_length(cpu)

    texts = [m.get("text") for m in load_data(str(PROJECT_ROOT / "data" / "nlu"))
             .training_examples if m.get("text")]  # fmt: skip
    for batch_size in (1, 32):
        with threadpool_limits(1):
            wall_s, cpu_s = timed(functools.partial(encoder.encode, texts, batch_size))
        print(f"training examples ({len(texts)}), 1 thread, batch {batch_size}: "
              f"wall {wall_s:.2f} s, CPU {cpu_s:.2f} s, "
              f"{len(texts) / cpu_s:.0f} messages per CPU second")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
