"""Worker start → /ready with N profiles: a cold build from the topic, then restarts that load the
index snapshot the previous run wrote (docs/operations.md "Start-up"), with the load average beside
each figure. Prints a Markdown table; no assertions.

    .venv/bin/python -m ops.bench.startup --sizes 10000,100000 --restarts 3

Each size: the synthetic profiles on their own compacted topic (loaded once, kept between runs), one
worker on topics of its own with an empty data directory; started (cold), stopped with SIGTERM (a
clean stop), started again `--restarts` times. The worker log says which start-up it took.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from ops.bench import harness as h


@dataclass
class Start:
    profiles: int
    kind: str  # "cold build" or "snapshot"
    ready_s: float
    cpu_s: float  # the worker's own CPU time (user + system) from start to ready: less at the mercy of neighbours
    load: str  # the 1-minute load average just before the start
    snapshot_mib: float


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} / {five:.2f}"


def took_snapshot(log_text: str, starts_before: int) -> bool:
    """Whether the latest start loaded the snapshot (the feed logs which way it went)."""
    return log_text.count("loaded from its snapshot") > starts_before


def measure(args: argparse.Namespace) -> list[Start]:
    found: list[Start] = []
    with h.broker(args.broker_port, args.broker_dir, keep=args.keep_broker) as broker, h.workdir(args.keep) as base:
        for size in [int(s) for s in args.sizes.split(",")]:
            topic, _ = h.load_profiles(broker.bootstrap, size, args.seed, args.partitions)
            with h.Stack(base / f"p{size}", broker.bootstrap, topic, h.Tuning(partitions=args.partitions)) as stack:
                worker = stack.add_worker(start=False)
                snapshot = stack.config.path(stack.config.settings.data_dir)
                for _ in range(1 + args.restarts):
                    log_path = worker.running.log_path
                    loaded_before = (
                        log_path.read_text(errors="replace").count("loaded from its snapshot") if log_path.exists() else 0
                    )
                    load = load_average()
                    ready_s = stack.start(worker, timeout_s=1800)
                    cpu = psutil.Process(worker.pid).cpu_times()
                    log_text = log_path.read_text(errors="replace")
                    kind = "snapshot" if took_snapshot(log_text, loaded_before) else "cold build"
                    worker.running.stop()  # SIGTERM: a clean stop, which also writes the snapshot
                    files = list(snapshot.glob("profile-index.*.snapshot"))
                    mib = files[0].stat().st_size / 2**20 if files else 0.0
                    found.append(Start(size, kind, ready_s, cpu.user + cpu.system, load, mib))
                    h.log(f"{size:,} profiles, {kind}: ready in {ready_s:.1f} s (load {load})")
    return found


def print_starts(starts: Sequence[Start], args: argparse.Namespace) -> None:
    rows = [
        (f"{s.profiles:,}", s.kind, f"{s.ready_s:.1f} s", f"{s.cpu_s:.1f} s", s.load, f"{s.snapshot_mib:.1f} MiB") for s in starts
    ]
    print(
        h.table(
            "Worker start → /ready",
            [
                "profiles",
                "start-up",
                "start → ready",
                "worker CPU to ready",
                "load average (1 / 5 min) before",
                "snapshot on disk",
            ],
            rows,
            note=f"{args.partitions} partitions; `python -m ops.bench.startup --sizes {args.sizes} --restarts {args.restarts}`",
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--broker-port", type=int, default=h.DEFAULT_BROKER_PORT)
    parser.add_argument("--broker-dir", type=Path, default=None)
    parser.add_argument("--keep-broker", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    args = parser.parse_args(argv)
    print_starts(measure(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
