"""Worker start → /ready with N profiles: a cold build from the topic, then restarts that load the
index snapshot the previous run wrote (docs/operations.md "Start-up"), with the load average beside
each figure. Prints a Markdown table; no assertions.

    .venv/bin/python -m ops.bench.startup --sizes 10000,100000 --restarts 3 [--history 10000]

Each size: the synthetic profiles on their own compacted topic (loaded once, kept between runs), one
worker on topics of its own with an empty data directory; started (cold), stopped with SIGTERM (a
clean stop), started again `--restarts` times. The worker log says which start-up it took. With
`--history N`, the worker's incidents and deliveries topics first hold what N incidents leave there
(ops/bench/long_run.py `history`: opened, ten notifications, resolved), as after a long run; /ready
waits for the incident directory to read them (cold) or to load its snapshot and read on.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
from kafka import KafkaProducer

from ops.bench import harness as h
from ops.bench import long_run


@dataclass
class Start:
    profiles: int
    kind: str  # "cold build" or "snapshot"
    directory: str  # how the incident directory started: "read whole" or "snapshot"
    ready_s: float
    cpu_s: float  # the worker's own CPU time (user + system) from start to ready: less at the mercy of neighbours
    load: str  # the 1-minute load average just before the start
    snapshot_mib: float
    account: str  # the worker's own summary of the start (streams/pipeline/startup.py)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} / {five:.2f}"


def worker_account(log_path: Path, before: str, timeout_s: float = 10.0) -> str:
    """The start-up summary the worker logged for this start (it logs it as /ready turns 200)."""
    deadline = time.monotonic() + timeout_s
    while True:
        lines = log_path.read_text(errors="replace")[len(before) :].splitlines()
        found = [line.split("start-up: ", 1)[1] for line in lines if "start-up: ready after" in line]
        if found or time.monotonic() > deadline:
            return found[-1] if found else "(not logged)"
        time.sleep(0.1)


def took_snapshot(log_text: str, starts_before: int, feed: str = "profile index") -> bool:
    """Whether the latest start loaded the feed's snapshot (the feed logs which way it went)."""
    return log_text.count(f"{feed} loaded from its snapshot") > starts_before


def write_history(stack: h.Stack, incidents: int) -> int:
    """What `incidents` incidents leave on the stack's incidents and deliveries topics; the records written."""
    topics = {
        "incidents": stack.config.settings.kafka.topics.incidents,
        "deliveries": stack.config.settings.kafka.topics.deliveries,
    }
    records = long_run.history(incidents)
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap.split(","), acks="all", linger_ms=20, batch_size=512 * 1024)
    for topic, key, value in records:
        producer.send(topics[topic], key=key, value=value)
    producer.flush(timeout=600)
    producer.close()
    return len(records)


def measure(args: argparse.Namespace) -> list[Start]:
    found: list[Start] = []
    with h.broker(args.broker_port, args.broker_dir, keep=args.keep_broker) as broker, h.workdir(args.keep) as base:
        for size in [int(s) for s in args.sizes.split(",")]:
            topic, _ = h.load_profiles(broker.bootstrap, size, args.seed, args.partitions)
            with h.Stack(base / f"p{size}", broker.bootstrap, topic, h.Tuning(partitions=args.partitions)) as stack:
                if args.history:
                    h.log(f"{write_history(stack, args.history):,} records of {args.history:,} incidents written")
                worker = stack.add_worker(start=False)
                for _ in range(1 + args.restarts):
                    found.append(one_start(stack, worker, size))
    return found


def one_start(stack: h.Stack, worker: h.WorkerHandle, size: int) -> Start:
    """Start the worker, wait for /ready, stop it cleanly (which writes the snapshots)."""
    log_path = worker.running.log_path
    before = log_path.read_text(errors="replace") if log_path.exists() else ""
    load = load_average()
    ready_s = stack.start(worker, timeout_s=1800)
    cpu = psutil.Process(worker.pid).cpu_times()
    log_text = log_path.read_text(errors="replace")
    kind = "snapshot" if took_snapshot(log_text, before.count("profile index loaded from its snapshot")) else "cold build"
    directory_loaded = took_snapshot(log_text, before.count("incident directory loaded from its snapshot"), "incident directory")
    account = worker_account(log_path, before)
    worker.running.stop()  # SIGTERM: a clean stop, which also writes the snapshots
    files = list(stack.config.path(stack.config.settings.data_dir).glob("profile-index.*.snapshot"))
    mib = files[0].stat().st_size / 2**20 if files else 0.0
    directory = "snapshot" if directory_loaded else "read whole"
    h.log(f"{size:,} profiles, {kind}, directory {directory}: ready in {ready_s:.1f} s (load {load})")
    return Start(size, kind, directory, ready_s, cpu.user + cpu.system, load, mib, account)


def print_starts(starts: Sequence[Start], args: argparse.Namespace) -> None:
    rows = [
        (f"{s.profiles:,}", s.kind, s.directory, f"{s.ready_s:.1f} s", f"{s.cpu_s:.1f} s", s.load, f"{s.snapshot_mib:.1f} MiB")
        for s in starts
    ]
    print(
        h.table(
            "Worker start → /ready",
            [
                "profiles",
                "start-up",
                "incident directory",
                "start → ready",
                "worker CPU to ready",
                "load average (1 / 5 min) before",
                "snapshot on disk",
            ],
            rows,
            note=f"{args.partitions} partitions, {args.history:,} incidents of history; "
            f"`python -m ops.bench.startup --sizes {args.sizes} --restarts {args.restarts} --history {args.history}`",
        )
    )
    print("\nThe worker's own account of each start (seconds since its process began; its log's `start-up:` line)\n")
    for n, s in enumerate(starts, start=1):
        print(f"{n}. {s.profiles:,} profiles, {s.kind}, directory {s.directory}: {s.account}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--history", type=int, default=0, help="incidents already on the worker's topics (a long run's)")
    parser.add_argument("--broker-port", type=int, default=h.DEFAULT_BROKER_PORT)
    parser.add_argument("--broker-dir", type=Path, default=None)
    parser.add_argument("--keep-broker", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    args = parser.parse_args(argv)
    print_starts(measure(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
