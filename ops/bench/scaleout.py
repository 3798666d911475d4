"""Scale-out arithmetic and a small queue simulation for a national deployment.

    .venv/bin/python -m ops.bench.scaleout
    .venv/bin/python -m ops.bench.scaleout --reports-per-day 5000 --peak-reports 200 --peak-seconds 60 \\
        --cpu-ms-per-notification 5.6 --profiles 1000000 --workers 1,2,4

The arithmetic: mean and peak reports and notifications per second, the cores they take at the CPU
per report and per notification the pipeline harness measured, the workers and partitions that
gives, and the memory each worker needs (every worker holds every profile). The simulation: a burst
of reports (Poisson arrivals), each matched one fanning out to its notifications, on `workers`
single-threaded workers that own partitions by the child's key; each worker serves its queue
first-in first-out, or first alerts first (a priority lane). It prints p99 to the first alert and
to the last notification of the burst. Pure Python, seeded: the same command prints the same table.
Its inputs are the measured figures (docs/performance.md); it is a model, not a measurement.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from ops.bench.harness import percentile, table

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Load:
    reports_per_day: float
    matched: float  # share of reports about a profiled child
    fanout: float  # notifications per matched report
    peak_reports: int  # reports in the burst
    peak_seconds: float  # over this long


@dataclass(frozen=True)
class Costs:
    cpu_ms_per_report: float  # parse, match, decide (a report about nobody)
    cpu_ms_per_notification: float  # everything a notification costs, its report's share included
    core_ceiling: float  # plan each worker to at most this share of its core


def cores_needed(reports_per_s: float, load: Load, costs: Costs) -> float:
    notes = reports_per_s * load.matched * load.fanout
    return (reports_per_s * costs.cpu_ms_per_report + notes * costs.cpu_ms_per_notification) / 1000


def workers_for(cores: float, costs: Costs) -> int:
    return max(1, math.ceil(cores / costs.core_ceiling))


def memory_mib(profiles: int, base_mib: float, kib_per_profile: float) -> float:
    return base_mib + profiles * kib_per_profile / 1024


def arithmetic_rows(load: Load, costs: Costs) -> list[list[str]]:
    mean = load.reports_per_day / SECONDS_PER_DAY
    peak = load.peak_reports / load.peak_seconds
    rows = []
    for name, rate in (("mean day", mean), ("the burst", peak)):
        cores = cores_needed(rate, load, costs)
        rows.append(
            [
                name,
                f"{rate:.3f}",
                f"{rate * load.matched * load.fanout:.2f}",
                f"{cores:.3f}",
                str(workers_for(cores, costs)),
            ]
        )
    return rows


# --- the simulation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    arrived: float
    report: int
    first_alert: bool  # the first SMS of its report: a priority lane serves these first


def burst(load: Load, partitions: int, seed: int) -> list[tuple[int, Job]]:
    """(partition, job) for every notification of the burst, in arrival order."""
    rng = random.Random(seed)
    rate, t, jobs = load.peak_reports / load.peak_seconds, 0.0, []
    for report in range(load.peak_reports):
        t += rng.expovariate(rate)
        if rng.random() >= load.matched:
            continue
        partition = rng.randrange(partitions)  # the child's key: spread evenly, not in order
        count = max(1, round(rng.expovariate(1 / load.fanout)))
        jobs += [(partition, Job(t, report, first_alert=n == 0)) for n in range(count)]
    return jobs


def serve(jobs: Sequence[Job], service_s: float, priority: bool) -> list[tuple[Job, float]]:
    """One single-threaded worker: (job, finished at) for each, FIFO or first alerts first."""
    pending = sorted(jobs, key=lambda j: j.arrived)
    queue: list[tuple[int, float, int, Job]] = []
    done, clock, i = [], 0.0, 0
    while i < len(pending) or queue:
        if not queue:
            clock = max(clock, pending[i].arrived)
        while i < len(pending) and pending[i].arrived <= clock:
            job = pending[i]
            heapq.heappush(queue, (0 if priority and job.first_alert else 1, job.arrived, i, job))
            i += 1
        *_, job = heapq.heappop(queue)
        clock += service_s
        done.append((job, clock))
    return done


def simulate(load: Load, costs: Costs, workers: int, partitions: int, seed: int) -> dict[str, float]:
    """p99 to the first alert and to every notification, FIFO and with a priority lane."""
    jobs = burst(load, partitions, seed)
    service_s = costs.cpu_ms_per_notification / 1000  # a worker has its core to itself
    out: dict[str, float] = {}
    for lane, priority in (("fifo", False), ("lane", True)):
        finished: list[tuple[Job, float]] = []
        for w in range(workers):
            finished += serve([j for p, j in jobs if p % workers == w], service_s, priority)
        out[f"{lane} first"] = percentile([f - j.arrived for j, f in finished if j.first_alert], 99)
        out[f"{lane} all"] = percentile([f - j.arrived for j, f in finished], 99)
    return out


def simulation_rows(load: Load, costs: Costs, worker_counts: Sequence[int], partitions: int) -> list[list[str]]:
    rows = []
    for workers in worker_counts:
        got = simulate(load, costs, workers, partitions, seed=1)
        rows.append([str(workers), *(f"{got[k]:.2f}" for k in ("fifo first", "fifo all", "lane first", "lane all"))])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.scaleout", description=__doc__.splitlines()[0])
    parser.add_argument("--reports-per-day", type=float, default=2_000.0, help="placement reports a day, nationally")
    parser.add_argument("--matched", type=float, default=0.1, help="share about a profiled child")
    parser.add_argument("--fanout", type=float, default=10.0, help="notifications per matched report")
    parser.add_argument("--peak-reports", type=int, default=3_000, help="reports in the worst burst")
    parser.add_argument("--peak-seconds", type=float, default=30.0, help="over this long")
    parser.add_argument("--cpu-ms-per-report", type=float, default=0.7)
    parser.add_argument("--cpu-ms-per-notification", type=float, default=5.6)
    parser.add_argument("--core-ceiling", type=float, default=0.5, help="plan each worker to this share of a core")
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--base-mib", type=float, default=128.0, help="a worker's RSS with no profiles")
    parser.add_argument("--kib-per-profile", type=float, default=0.75, help="RSS per profile held")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args(argv)
    load = Load(args.reports_per_day, args.matched, args.fanout, args.peak_reports, args.peak_seconds)
    costs = Costs(args.cpu_ms_per_report, args.cpu_ms_per_notification, args.core_ceiling)
    print("# Crucial Hour — scale-out arithmetic (a model fed with measured costs)\n")
    header = ["load", "reports/s", "notifications/s", "cores", f"workers at ≤ {costs.core_ceiling:.0%} of a core"]
    print(table("Load and workers", header, arithmetic_rows(load, costs)))
    mib = memory_mib(args.profiles, args.base_mib, args.kib_per_profile)
    print(f"\nEvery worker holds all {args.profiles:,} profiles: ≈ {mib:,.0f} MiB resident each.")
    counts = [int(w) for w in args.workers.split(",")]
    print(
        table(
            f"The burst simulated ({args.peak_reports:,} reports in {args.peak_seconds:g} s, {args.partitions} partitions; "
            "seconds)",
            ["workers", "FIFO: p99 first alert", "FIFO: p99 all", "lane: p99 first alert", "lane: p99 all"],
            simulation_rows(load, costs, counts, args.partitions),
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
