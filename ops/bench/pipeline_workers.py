"""Per-worker and per-machine figures, for runs with one or more `crucial worker` processes on this
machine sharing the partitions (`latency --workers 2`, `overload --workers 2`), or with the stages
split between a triage and a deliver process (`--roles split`: `crucial worker --role triage|deliver`).

Each worker's CPU and memory come from psutil (ops.bench.harness.ProcessWatch); what it did in the
window from its own /metrics (placement events processed, notifications the providers accepted),
so the work each worker carried is its own count, not a share guessed from the partitions. The
machine's figure is every process on it (broker, peers, the load driver, other users too): the
context for the workers' own.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

import psutil
from prometheus_client.parser import text_string_to_metric_families

from ops.bench import harness as h


@dataclass
class WorkerFigures:
    """One worker over a measured window."""

    index: int
    role: str  # all (both stages), triage or deliver
    cpu_s: float
    cpu_percent: float
    waited_percent: float
    peak_rss: int
    wall_s: float
    events: float  # placement events it processed (crucial_events_total, every outcome)
    accepted: float  # notifications a provider accepted from it (crucial_notifications_total{outcome="accepted"})

    @property
    def cpu_ms_per_notification(self) -> float:
        return self.cpu_s / self.accepted * 1000 if self.accepted else float("nan")

    def cpu_ms_per_run_notification(self, notifications: int) -> float:
        """Per notification it took part in: a worker of both stages its own sends; a triage or deliver
        process has a hand in every notification of the run."""
        if self.role == "all":
            return self.cpu_ms_per_notification
        return self.cpu_s / notifications * 1000 if notifications else float("nan")

    @property
    def notifications_per_s(self) -> float:
        return self.accepted / self.wall_s if self.wall_s else 0.0


def counters(port: int) -> dict[str, float]:
    """The worker's events processed and notifications accepted so far (0 when it cannot be read)."""
    out = {"events": 0.0, "accepted": 0.0}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
    except OSError:
        return out
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "crucial_events_total":
                out["events"] += sample.value
            elif sample.name == "crucial_notifications_total" and sample.labels.get("outcome") == "accepted":
                out["accepted"] += sample.value
    return out


def machine_busy_s() -> float:
    """CPU seconds every core of the machine has spent busy since boot (all processes)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


class WorkerWindow:
    """Watches every live worker of a stack (and the machine) from start() to stop()."""

    def __init__(self, stack: h.Stack) -> None:
        self.workers = [w for w in stack.workers if w.alive()]
        self.watches: list[h.ProcessWatch] = []
        self.before: list[dict[str, float]] = []
        self.machine_busy_s = 0.0
        self.machine_cpu_percent = 0.0  # % of one core, every process on the machine

    def start(self) -> WorkerWindow:
        self.before = [counters(w.running.port) for w in self.workers]
        self.machine_busy_s = machine_busy_s()
        self.watches = [h.ProcessWatch(w.pid).start() for w in self.workers]
        return self

    def stop(self) -> list[WorkerFigures]:
        for watch in self.watches:
            watch.stop()
        wall = max((w.wall_s for w in self.watches), default=0.0)
        busy = machine_busy_s() - self.machine_busy_s
        self.machine_cpu_percent = 100.0 * busy / wall if wall else 0.0
        return [self._figures(n, watch) for n, watch in enumerate(self.watches)]

    def _figures(self, n: int, watch: h.ProcessWatch) -> WorkerFigures:
        after = counters(self.workers[n].running.port)
        before = self.before[n]
        return WorkerFigures(
            index=self.workers[n].index,
            role=self.workers[n].running.role,
            cpu_s=watch.cpu_s,
            cpu_percent=watch.cpu_percent,
            waited_percent=watch.waited_percent,
            peak_rss=watch.peak_rss,
            wall_s=watch.wall_s,
            events=after["events"] - before["events"],
            accepted=after["accepted"] - before["accepted"],
        )


ROLES = ("all", "split")  # --roles: every worker runs both stages, or one triage + one deliver process


def worker_roles(workers: int, roles: str) -> list[str]:
    """The role of each worker process to start: `workers` of both stages, or (split) triage and deliver."""
    if roles == "split":
        if workers != 1:
            raise SystemExit("--roles split starts one triage and one deliver process: leave --workers at 1")
        return ["triage", "deliver"]
    return ["all"] * workers


def start_workers(stack: h.Stack, count: int, timeout_s: float = 1800.0, roles: str = "all") -> float:
    """`count` workers on the stack (or, `roles` split, a triage and a deliver process), each ready and
    the groups settled (every one holding partitions after the last joined); returns the first worker's
    start → ready seconds."""
    for role in worker_roles(count, roles):
        stack.add_worker(timeout_s=timeout_s, role=role)
    for worker in stack.workers:
        stack.wait_idle(worker, timeout_s=timeout_s)
    return stack.workers[0].ready_s


PER_WORKER_HEADER = [
    "process",
    "CPU (% of a core)",
    "waited",
    "events processed",
    "notifications accepted",
    "notifications/s",
    "CPU ms / notification",
    "peak RSS (run)",
]


def per_worker_rows(workers: Sequence[WorkerFigures], notifications: int, machine_cpu_percent: float) -> list[list[str]]:
    """A row per worker, then the machine: the workers together (CPU over every notification the run
    expected) and every process on the machine."""
    rows = [
        [
            f"worker {w.index}" + ("" if w.role == "all" else f" ({w.role})"),
            f"{w.cpu_percent:.0f} %",
            f"{w.waited_percent:.0f} %",
            f"{w.events:.0f}",
            f"{w.accepted:.0f}",
            f"{w.notifications_per_s:.1f}",
            f"{w.cpu_ms_per_run_notification(notifications):.2f}",
            h.mib(w.peak_rss),
        ]
        for w in workers
    ]
    cpu_s = sum(w.cpu_s for w in workers)
    wall = max((w.wall_s for w in workers), default=0.0)
    rows.append(
        [
            f"all {len(workers)} worker(s)",
            f"{sum(w.cpu_percent for w in workers):.0f} %",
            f"{sum(w.waited_percent for w in workers):.0f} %",
            f"{sum(w.events for w in workers):.0f}",
            f"{sum(w.accepted for w in workers):.0f}",
            f"{notifications / wall:.1f}" if wall else "—",
            f"{cpu_s / notifications * 1000:.2f}" if notifications else "—",
            "",
        ]
    )
    rows.append(["the machine (every process)", f"{machine_cpu_percent:.0f} %", "", "", "", "", "", ""])
    return rows


def print_per_worker(workers: Sequence[WorkerFigures], notifications: int, machine_cpu_percent: float) -> None:
    if not workers:
        return
    print(
        h.table(
            "Per worker and per machine (CPU: % of one core; waited: runnable but no CPU free; "
            "notifications/s over the window: sending and draining)",
            PER_WORKER_HEADER,
            per_worker_rows(workers, notifications, machine_cpu_percent),
        )
    )
