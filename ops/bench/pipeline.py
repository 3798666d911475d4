"""The pipeline end to end: latency (against the floor and Alertmanager), throughput, and scale.

Real Kafka, `crucial worker` subprocesses, the Twilio-compatible server and an SMTP server with
STARTTLS and AUTH, all on 127.0.0.1. Reports are produced as a placement's integration would (acks=all,
one at a time, at a steady rate); a share of them are about profiled children and fan out to at least
three recipients by SMS and email. What the pipeline must send is decided independently by the pure
domain (ops.bench.harness.Oracle); what it did send is what the peers recorded.

    .venv/bin/python -m ops.bench.pipeline latency --profiles 100000 --rate 100 --seconds 30
    .venv/bin/python -m ops.bench.pipeline throughput --profiles 100000 --rates 50,100,200,400 --workers 1,2
    .venv/bin/python -m ops.bench.pipeline scale --sizes 10000,100000,1000000
    .venv/bin/python -m ops.bench.pipeline latency --workers 2 ...   # two worker processes share the partitions
    .venv/bin/python -m ops.bench.pipeline overload --rate 300 --seconds 30   # first alerts vs email (pipeline_overload.py)

Every command prints its tables (Markdown) on stdout and progress on stderr; --json FILE keeps the
figures. The broker is the benchmark's own (127.0.0.1:19592 unless --broker-port, or KAFKA_BOOTSTRAP).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ops.bench import harness as h
from ops.bench import pyspy_summary, syscalls
from ops.bench.alertmanager import Alert, Alertmanager, PeerResult
from ops.bench.floor import HEADER as FLOOR_HEADER
from ops.bench.floor import Floor, measure
from ops.bench.floor import rows as floor_rows
from ops.bench.pipeline_workers import ROLES, WorkerFigures, WorkerWindow, print_per_worker, start_workers

LATENCY_HEADER = ["ms", "n", "p50", "p95", "p99", "max"]


def _row(name: str, values: Sequence[float]) -> list[Any]:
    s = h.summary(values)
    return [name, len(values), h.ms(s["p50"]), h.ms(s["p95"]), h.ms(s["p99"]), h.ms(s["max"])]


def _items(reports: Sequence[h.Report]) -> list[tuple[str, bytes | None, bytes]]:
    return [(r.event_id, r.key, r.value) for r in reports]


def events_processed(stack: h.Stack) -> float:
    """crucial_events_total summed over outcomes and over every running worker."""
    total = 0.0
    for worker in stack.workers:
        if not worker.alive():
            continue
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{worker.running.port}/metrics", timeout=5) as reply:
                text = reply.read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("crucial_events_total{"):
                total += float(line.rsplit(" ", 1)[1])
    return total


def warm_up(stack: h.Stack, producer: Any, reports: Sequence[h.Report]) -> None:
    """A few reports first, so connections, caches and the JIT-less interpreter's imports are warm."""
    if not reports:
        return
    sent = h.drive(producer, stack.topics["placement_events"], _items(reports), 10.0)
    h.wait_delivered(stack, reports, sent, timeout_s=120, settle_s=0.5)


@dataclass
class Run:
    """One measured run of the pipeline."""

    accounting: h.Accounting
    stages: dict[str, list[float]]
    cpu_percent: float
    cpu_s: float
    waited_percent: float
    peak_rss: int
    hwm: int
    reports: int
    matched: int
    notifications: int
    seconds: float
    drain_s: float
    wall_s: float = 0.0  # the window the CPU was measured over (sending and draining)
    workers: list[WorkerFigures] = field(default_factory=list)  # each worker's own figures
    machine_cpu_percent: float = 0.0  # every process on the machine over the window, % of one core


def run_load(
    stack: h.Stack,
    producer: Any,
    reports: Sequence[h.Report],
    rate: float,
    *,
    drain_timeout_s: float = 180.0,
    with_stages: bool = True,
) -> Run:
    return run_and_collect(stack, producer, reports, rate, LoadOptions(drain_timeout_s, with_stages))[0]


@dataclass(frozen=True)
class LoadOptions:
    drain_timeout_s: float = 180.0
    with_stages: bool = True  # the stage table (reads the notifications and deliveries topics back)


def run_and_collect(
    stack: h.Stack, producer: Any, reports: Sequence[h.Report], rate: float, options: LoadOptions = LoadOptions()
) -> tuple[Run, h.Sent, h.Received]:
    """The measured run, with what was sent and what the peers received (for figures of one's own)."""
    drain_timeout_s, with_stages = options.drain_timeout_s, options.with_stages
    window = WorkerWindow(stack).start()
    watches = window.watches
    began = time.monotonic()
    sent = h.drive(producer, stack.topics["placement_events"], _items(reports), rate)
    driven = time.monotonic() - began
    got = h.wait_delivered(stack, reports, sent, timeout_s=drain_timeout_s)
    drained = time.monotonic() - began - driven
    per_worker = window.stop()
    accounting = h.account(reports, sent, got)
    run = Run(
        accounting=accounting,
        stages=h.stages(stack, reports, sent, got) if with_stages else {},
        cpu_percent=sum(w.cpu_percent for w in watches),
        cpu_s=sum(w.cpu_s for w in watches),
        waited_percent=sum(w.waited_percent for w in watches),
        peak_rss=max((w.peak_rss for w in watches), default=0),
        hwm=max((w.hwm() for w in watches), default=0),
        reports=len(sent.submitted),
        matched=sum(1 for r in reports if r.matched and r.event_id in sent.submitted),
        notifications=accounting.expected,
        seconds=driven,
        drain_s=drained,
        wall_s=max((w.wall_s for w in watches), default=0.0),
        workers=per_worker,
        machine_cpu_percent=window.machine_cpu_percent,
    )
    return run, sent, got


# --- latency --------------------------------------------------------------------------------------


@dataclass
class LatencyResult:
    machine: dict[str, str]
    params: dict[str, Any]
    worker_ready_s: float
    profiles_loaded_s: float
    run: Run
    floor: Floor | None
    peer: PeerResult | None
    load_after: str
    tuning: dict[str, Any] = field(default_factory=dict)
    socket_calls: dict[str, int] = field(default_factory=dict)  # worker 0, strace -c (--strace)


def latency(args: argparse.Namespace) -> LatencyResult:
    machine = h.machine()
    count = max(1, int(args.rate * args.seconds))
    with h.broker(args.broker_port, args.broker_dir, keep=args.keep_broker) as broker, h.workdir(args.keep) as base:
        topic, loaded_s = h.load_profiles(broker.bootstrap, args.profiles, args.seed, args.partitions)
        floor = None
        if not args.no_floor:
            h.log(f"floor: {count} round trips at {args.rate:g}/s")
            floor = measure(broker.bootstrap, base, args.rate, count)
        tuning = tuning_of(args, smtp=not args.email_to_outbox)
        with h.Stack(base, broker.bootstrap, topic, tuning) as stack:
            h.log(f"building {count + args.warmup} reports ({args.matched:.0%} about profiled children)")
            reports = h.make_reports(
                stack.config, count + args.warmup, matched_fraction=args.matched, profile_count=args.profiles, seed=args.seed
            )
            if args.email_to_outbox:  # the diagnostic: email is written to a file, only SMS is measured
                for report in reports:
                    report.expected = [e for e in report.expected if e.channel == "sms"]
            ready_s = start_workers(stack, args.workers, roles=args.roles)
            triage_concurrency = stack.config.settings.kafka.triage_concurrency  # as the workers read it
            producer = h.bench_producer(broker.bootstrap)
            warm, load = reports[: args.warmup], reports[args.warmup :]
            warm_up(stack, producer, warm)
            h.log(f"pipeline: {len(load)} reports at {args.rate:g}/s")
            with observed(args, stack.workers[0].pid, base) as socket_calls:
                run = run_load(stack, producer, load, args.rate, drain_timeout_s=args.drain_timeout)
            producer.close()
        peer = None
        if not args.no_peer:
            matched = [(i, r) for i, r in enumerate(load) if r.matched]
            alerts = [
                Alert(r.event_id, sum(e.channel == "sms" for e in r.expected), sum(e.channel == "email" for e in r.expected))
                for _, r in matched
            ]
            offsets = [i / args.rate for i, _ in matched]
            max_sms = max((a.sms for a in alerts), default=1)
            max_email = max((a.email for a in alerts), default=0)
            h.log(f"alertmanager: {len(alerts)} alerts at the same moments, fan-out up to {max_sms} + {max_email}")
            with Alertmanager(base, max_sms, max_email) as am:
                peer = am.run(alerts, offsets, timeout_s=120)
    load_after = "{:.2f} / {:.2f} / {:.2f}".format(*__import__("os").getloadavg())
    params = {
        "profiles": args.profiles,
        "rate (reports/s)": args.rate,
        "seconds": args.seconds,
        "reports": run.reports,
        "matched share": args.matched,
        "matched reports": run.matched,
        "notifications expected": run.notifications,
        "partitions": args.partitions,
        "worker processes": "triage + deliver" if args.roles == "split" else args.workers,
        "seed": args.seed,
        "triage concurrency": triage_concurrency,
        "email": "to the outbox file (diagnostic)" if args.email_to_outbox else "SMTP, STARTTLS + AUTH",
    }
    return LatencyResult(machine, params, ready_s, loaded_s, run, floor, peer, load_after, socket_calls=socket_calls)


@contextlib.contextmanager
def observed(args: argparse.Namespace, pid: int, base: Path) -> Iterator[dict[str, int]]:
    """py-spy (--py-spy FILE) and strace (--strace) on worker 0 while the load runs; yields the
    socket calls strace counted (filled in at the end)."""
    spy = pyspy_summary.record(pid, args.py_spy, args.seconds) if args.py_spy else None
    table = base / "strace.txt"
    tracer = syscalls.start(pid, table) if args.strace else None
    calls: dict[str, int] = {}
    try:
        yield calls
    finally:
        if tracer is not None:
            calls.update(syscalls.stop(tracer, table))
        if spy is not None:
            spy.wait(timeout=args.seconds + 120)


def print_latency(result: LatencyResult) -> None:
    run, floor, peer = result.run, result.floor, result.peer
    acc = run.accounting
    print("# Crucial Hour — end-to-end latency\n")
    print(h.table("Machine", ["", ""], [*result.machine.items(), ("load avg at end", result.load_after)]))
    print(h.table("Run", ["parameter", "value"], result.params.items()))
    print(f"\nworker start → ready (profile index loaded, partitions held): {result.worker_ready_s:.1f} s")
    rows = [
        _row("ours: report acked → SMS request received (every SMS)", acc.latencies["sms"]),
        _row("ours: report acked → first SMS of the report", acc.first_sms),
        _row("ours: report acked → email received (every email)", acc.latencies["email"]),
    ]
    if floor is not None:
        rows.append(_row("floor: produce acked → consumed → POST received", floor.total))
    if peer is not None:
        rows += [
            _row("Alertmanager: alert acked → SMS webhook received", peer.latencies["sms"]),
            _row("Alertmanager: alert acked → first SMS webhook", peer.first_sms),
            _row("Alertmanager: alert acked → email received", peer.latencies["email"]),
        ]
    print(h.table("Latency (milliseconds)", LATENCY_HEADER, rows))
    ratios = []
    ours_sms = h.summary(acc.latencies["sms"])
    ours_email = h.summary(acc.latencies["email"])
    if floor is not None:
        f = h.summary(floor.total)
        ratios.append(["ours SMS ÷ floor", *(h.ratio(ours_sms[q], f[q]) for q in ("p50", "p95", "p99", "max"))])
    if peer is not None:
        a_sms, a_email = h.summary(peer.latencies["sms"]), h.summary(peer.latencies["email"])
        ratios.append(
            ["ours SMS ÷ Alertmanager SMS webhook", *(h.ratio(ours_sms[q], a_sms[q]) for q in ("p50", "p95", "p99", "max"))]
        )
        ratios.append(
            ["ours email ÷ Alertmanager email", *(h.ratio(ours_email[q], a_email[q]) for q in ("p50", "p95", "p99", "max"))]
        )
    if ratios:
        print(h.table("Ratios", ["", "p50", "p95", "p99", "max"], ratios))
    print(
        h.table(
            "Delivery",
            [
                "reports sent",
                "matched",
                "expected",
                "delivered",
                "lost",
                "duplicated",
                "other notifications",
                "drain after last report",
            ],
            [[acc.sent, run.matched, acc.expected, acc.delivered, acc.lost, acc.duplicated, acc.extra, f"{run.drain_s:.1f} s"]],
        )
    )
    per_report = run.cpu_s / run.reports * 1000 if run.reports else float("nan")
    per_note = run.cpu_s / run.notifications * 1000 if run.notifications else float("nan")
    resources = [
        [
            "worker",
            f"{run.cpu_percent:.0f} %",
            f"{run.waited_percent:.0f} %",
            f"{per_report:.1f}",
            f"{per_note:.1f}",
            h.mib(run.peak_rss),
            h.mib(run.hwm),
        ]
    ]
    if peer is not None:
        resources.append(["Alertmanager", f"{peer.cpu_percent:.0f} %", "", "", "", h.mib(peer.peak_rss), ""])
    print(
        h.table(
            "Resources during the run (CPU: % of one core; waited: runnable but no CPU free)",
            ["process", "CPU", "waited", "CPU ms / report", "CPU ms / notification", "peak RSS (run)", "peak RSS (since start)"],
            resources,
        )
    )
    print_per_worker(run.workers, run.notifications, run.machine_cpu_percent)
    print_socket_calls(result.socket_calls, run.notifications)
    if run.stages:
        print(
            h.table(
                "Where the time goes (ms; from the records' own timestamps)",
                LATENCY_HEADER,
                [_row(k, v) for k, v in run.stages.items()],
            )
        )
    if floor is not None:
        print(h.table("The floor", FLOOR_HEADER, floor_rows(floor)))
    targets = [
        ["lost", "0", str(acc.lost), _met(acc.lost == 0)],
        ["duplicated", "0", str(acc.duplicated), _met(acc.duplicated == 0)],
        ["p99 report → SMS", "≤ 250 ms", h.ms(ours_sms["p99"]), _met(ours_sms["p99"] <= 0.25)],
    ]
    if floor is not None:
        fp99 = h.summary(floor.total)["p99"]
        targets.append(
            ["p99 report → SMS ÷ floor p99", "≤ 3×", h.ratio(ours_sms["p99"], fp99), _met(ours_sms["p99"] <= 3 * fp99)]
        )
    if peer is not None:
        ap99 = h.summary(peer.latencies["sms"])["p99"]
        targets.append(["p99 SMS vs Alertmanager p99", "faster", h.ratio(ours_sms["p99"], ap99), _met(ours_sms["p99"] < ap99)])
    print(h.table("Targets", ["target", "wanted", "measured", ""], targets))
    if peer is not None:
        print("\nAlertmanager command line:\n\n    " + " ".join(peer.argv))
        print(
            "\nAlertmanager configuration (ports filled in at run time):\n\n"
            + "\n".join("    " + line for line in peer.config_text.splitlines())
        )


def print_socket_calls(calls: dict[str, int], notifications: int) -> None:
    if not calls:
        return
    rows = [[name, count, f"{count / notifications:.1f}" if notifications else "—"] for name, count in sorted(calls.items())]
    print(
        h.table(
            "Socket calls of worker 0 over the run (strace -c; its latencies are not meaningful)",
            ["system call", "calls", "per notification"],
            rows,
        )
    )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


# --- throughput -----------------------------------------------------------------------------------


@dataclass
class Step:
    workers: int
    rate: float
    sent: int
    processed_in_time: bool
    processing_rate: float
    sms_p50: float
    sms_p99: float
    lost: int
    duplicated: int
    cpu_percent: float
    waited_percent: float
    held: bool


def throughput(args: argparse.Namespace) -> list[Step]:
    steps: list[Step] = []
    rates = [float(r) for r in args.rates.split(",")]
    with h.broker(args.broker_port, args.broker_dir, keep=args.keep_broker) as broker, h.workdir(args.keep) as base:
        topic, _ = h.load_profiles(broker.bootstrap, args.profiles, args.seed, args.partitions)
        for workers in [int(w) for w in args.workers.split(",")]:
            with h.Stack(base / f"w{workers}", broker.bootstrap, topic, tuning_of(args)) as stack:
                for _ in range(workers):
                    stack.add_worker()
                for worker in stack.workers:
                    stack.wait_idle(worker)
                producer = h.bench_producer(broker.bootstrap)
                warm_up(
                    stack,
                    producer,
                    h.make_reports(
                        stack.config, 20, matched_fraction=0.5, profile_count=args.profiles, seed=args.seed, run="warm"
                    ),
                )
                failures = 0
                for n, rate in enumerate(rates):
                    count = int(rate * args.step_seconds)
                    reports = h.make_reports(
                        stack.config,
                        count,
                        matched_fraction=args.matched,
                        profile_count=args.profiles,
                        seed=args.seed + n,
                        run=f"s{n}",
                        profile_seed=args.seed,
                    )
                    before = events_processed(stack)
                    h.log(f"{workers} worker(s): {count} reports at {rate:g}/s")
                    watches = [h.ProcessWatch(w.pid).start() for w in stack.workers]
                    sent = h.drive(producer, stack.topics["placement_events"], _items(reports), rate)
                    end = time.monotonic()
                    # Held: every report processed within a second of the last one sent ...
                    processed = before
                    while time.monotonic() < end + 1.0:
                        processed = events_processed(stack)
                        if processed - before >= len(sent.submitted):
                            break
                        time.sleep(0.1)
                    in_time = processed - before >= len(sent.submitted)
                    for watch in watches:
                        watch.stop()
                    elapsed = watches[0].wall_s if watches else 1.0
                    got = h.wait_delivered(stack, reports, sent, timeout_s=max(60.0, args.step_seconds * 3), settle_s=1.0)
                    # ... and p99 report → SMS under a second.
                    acc = h.account(reports, sent, got)
                    s = h.summary(acc.latencies["sms"])
                    # (With no report about a profiled child there is no SMS: being processed in time is all.)
                    held = in_time and acc.lost == 0 and (not acc.latencies["sms"] or s["p99"] < 1.0)
                    steps.append(
                        Step(
                            workers,
                            rate,
                            len(sent.submitted),
                            in_time,
                            (processed - before) / elapsed,
                            s["p50"],
                            s["p99"],
                            acc.lost,
                            acc.duplicated,
                            sum(w.cpu_percent for w in watches),
                            sum(w.waited_percent for w in watches),
                            held,
                        )
                    )
                    h.log(f"  -> p99 SMS {h.ms(s['p99'])} ms, processed in time: {in_time}, held: {held}")
                    _drain(stack, before + len(sent.submitted), timeout_s=max(60.0, args.step_seconds * 5))
                    failures = 0 if held else failures + 1
                    if failures >= 2:
                        break
                producer.close()
    return steps


def _drain(stack: h.Stack, target: float, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and events_processed(stack) < target:
        time.sleep(0.5)


def print_throughput(steps: Sequence[Step], args: argparse.Namespace) -> None:
    print("# Crucial Hour — throughput\n")
    print(h.table("Machine", ["", ""], h.machine().items()))
    print(
        f"\n{args.profiles:,} profiles; {args.matched:.0%} of reports about profiled children "
        "(each fanning out to 3+ recipients); "
        f"{args.step_seconds:g} s per step; {args.partitions} partitions."
    )
    rows = [
        [
            s.workers,
            f"{s.rate:g}",
            s.sent,
            f"{s.processing_rate:.0f}",
            h.ms(s.sms_p50),
            h.ms(s.sms_p99),
            s.lost,
            s.duplicated,
            f"{s.cpu_percent:.0f} %",
            f"{s.waited_percent:.0f} %",
            "yes" if s.held else "no",
        ]
        for s in steps
    ]
    print(
        h.table(
            "Steps (held: every report processed within 1 s of the step's end, p99 report → SMS < 1 s, nothing lost)",
            ["workers", "offered /s", "sent", "processed /s", "SMS p50 ms", "SMS p99 ms", "lost", "dup", "CPU", "waited", "held"],
            rows,
        )
    )
    best: dict[int, float] = {}
    for s in steps:
        if s.held:
            best[s.workers] = max(best.get(s.workers, 0.0), s.rate)
    print(
        h.table(
            "Highest sustained rate", ["workers", "reports/s with p99 < 1 s"], [[w, f"{r:g}"] for w, r in sorted(best.items())]
        )
    )


# --- scale ------------------------------------------------------------------------------------------


@dataclass
class ScalePoint:
    profiles: int
    load_topic_s: float
    ready_s: float
    rss_idle: int
    rss_peak: int
    idle_cpu_percent: float
    unprofiled_cpu_ms: float
    matched_cpu_ms: float
    matched_sms_p99_ms: float
    lost: int


def scale(args: argparse.Namespace) -> list[ScalePoint]:
    points: list[ScalePoint] = []
    with h.broker(args.broker_port, args.broker_dir, keep=args.keep_broker) as broker, h.workdir(args.keep) as base:
        for size in [int(s) for s in args.sizes.split(",")]:
            topic, loaded_s = h.load_profiles(broker.bootstrap, size, args.seed, args.partitions)
            with h.Stack(base / f"p{size}", broker.bootstrap, topic, tuning_of(args)) as stack:
                worker = stack.add_worker(start=False)
                ready_s = stack.start(worker, timeout_s=1800)
                watch = h.ProcessWatch(worker.pid)
                rss_idle = watch.rss()
                producer = h.bench_producer(broker.bootstrap)
                warm_up(
                    stack,
                    producer,
                    h.make_reports(stack.config, 10, matched_fraction=0.5, profile_count=size, seed=args.seed, run="warm"),
                )
                # The idle worker's own CPU (timers, heartbeats, long polls), taken off the per-report figures.
                idle = h.ProcessWatch(worker.pid).start()
                time.sleep(args.idle_seconds)
                idle.stop()
                idle_rate = idle.cpu_s / idle.wall_s if idle.wall_s else 0.0
                # Reports about nobody: parse, match, decide; nothing sent. CPU per report is the matching cost.
                unprofiled = h.make_reports(
                    stack.config, int(args.rate * args.seconds), matched_fraction=0.0, profile_count=size, seed=args.seed, run="u"
                )
                h.log(f"{size:,} profiles: {len(unprofiled)} unprofiled reports at {args.rate:g}/s")
                before = events_processed(stack)
                watch = h.ProcessWatch(worker.pid).start()
                sent = h.drive(producer, stack.topics["placement_events"], _items(unprofiled), args.rate)
                _drain(stack, before + len(sent.submitted), timeout_s=300)
                watch.stop()
                unprofiled_cpu = (watch.cpu_s - idle_rate * watch.wall_s) / max(1, len(sent.submitted)) * 1000
                # Reports about profiled children: match, grade, route, render, deliver to 3+ recipients.
                matched = h.make_reports(
                    stack.config,
                    int(args.matched_rate * args.seconds),
                    matched_fraction=1.0,
                    profile_count=size,
                    seed=args.seed,
                    run="m",
                )
                h.log(f"{size:,} profiles: {len(matched)} matched reports at {args.matched_rate:g}/s")
                run = run_load(stack, producer, matched, args.matched_rate, with_stages=False)
                producer.close()
                points.append(
                    ScalePoint(
                        profiles=size,
                        load_topic_s=loaded_s,
                        ready_s=ready_s,
                        rss_idle=rss_idle,
                        rss_peak=max(run.hwm, watch.peak_rss),
                        idle_cpu_percent=idle_rate * 100,
                        unprofiled_cpu_ms=unprofiled_cpu,
                        matched_cpu_ms=(run.cpu_s - idle_rate * run.wall_s) / max(1, run.reports) * 1000,
                        matched_sms_p99_ms=h.summary(run.accounting.latencies["sms"])["p99"] * 1000,
                        lost=run.accounting.lost,
                    )
                )
    return points


def print_scale(points: Sequence[ScalePoint], args: argparse.Namespace) -> None:
    print("# Crucial Hour — scale\n")
    print(h.table("Machine", ["", ""], h.machine().items()))
    rows = [
        [
            f"{p.profiles:,}",
            f"{p.ready_s:.1f} s",
            h.mib(p.rss_idle),
            h.mib(p.rss_peak),
            f"{p.idle_cpu_percent:.1f} %",
            f"{p.unprofiled_cpu_ms:.2f}",
            f"{1000 / p.unprofiled_cpu_ms:,.0f}" if p.unprofiled_cpu_ms > 0 else "—",
            f"{p.matched_cpu_ms:.1f}",
            f"{p.matched_sms_p99_ms:,.0f}",
            p.lost,
        ]
        for p in points
    ]
    print(
        h.table(
            f"The worker at each size (unprofiled at {args.rate:g}/s, matched at {args.matched_rate:g}/s, "
            f"{args.seconds:g} s each)",
            [
                "profiles",
                "start → ready",
                "RSS when ready",
                "peak RSS (since start)",
                "idle CPU",
                "CPU ms / unprofiled report",
                "→ reports/s per core",
                "CPU ms / matched report",
                "matched: SMS p99 ms",
                "lost",
            ],
            rows,
        )
    )


# --- the command line -----------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--broker-port", type=int, default=h.DEFAULT_BROKER_PORT)
    parser.add_argument("--broker-dir", type=Path, help="the broker's data and log (default .cache/kafka/bench/PORT)")
    parser.add_argument("--keep-broker", action="store_true", help="leave the benchmark's broker running (faster reruns)")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, peer records)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--triage-concurrency", type=int, help="the workers' kafka.triage_concurrency (default: settings.yaml's)")


def tuning_of(args: argparse.Namespace, **more: Any) -> h.Tuning:
    """The settings a run's workers get from its command line."""
    return h.Tuning(partitions=args.partitions, triage_concurrency=args.triage_concurrency, **more)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.pipeline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lat = sub.add_parser("latency", help="end-to-end latency against the floor and Alertmanager")
    lat.add_argument("--profiles", type=int, default=100_000)
    lat.add_argument("--rate", type=float, default=100.0, help="reports per second")
    lat.add_argument("--seconds", type=float, default=30.0)
    lat.add_argument("--matched", type=float, default=0.1, help="share of reports about profiled children")
    lat.add_argument("--warmup", type=int, default=20)
    lat.add_argument("--workers", type=int, choices=(1, 2), default=1, help="worker processes sharing the partitions")
    lat.add_argument("--roles", choices=ROLES, default="all", help="split: one triage and one deliver process")
    lat.add_argument(
        "--drain-timeout", type=float, default=180.0, help="seconds to wait after the last report; what has not arrived is lost"
    )
    lat.add_argument("--strace", action="store_true", help="count worker 0's socket calls with strace (ops/bench/syscalls.py)")
    lat.add_argument("--py-spy", type=Path, help="record worker 0 with py-spy while the load runs (ops/bench/pyspy_summary.py)")
    lat.add_argument("--no-floor", action="store_true")
    lat.add_argument("--no-peer", action="store_true")
    lat.add_argument(
        "--email-to-outbox", action="store_true", help="diagnostic: email goes to the outbox file; only SMS is measured"
    )
    _common(lat)
    thr = sub.add_parser("throughput", help="the highest rate a worker (and two) holds with p99 < 1 s")
    thr.add_argument("--profiles", type=int, default=100_000)
    thr.add_argument("--rates", default="50,100,200,400,800,1200")
    thr.add_argument("--step-seconds", type=float, default=20.0)
    thr.add_argument("--matched", type=float, default=0.02)
    thr.add_argument("--workers", default="1,2")
    _common(thr)
    sca = sub.add_parser("scale", help="matching cost and worker memory at each profile count")
    sca.add_argument("--sizes", default="10000,100000,1000000")
    sca.add_argument("--rate", type=float, default=100.0, help="unprofiled reports per second")
    sca.add_argument("--matched-rate", type=float, default=5.0, help="matched reports per second")
    sca.add_argument("--seconds", type=float, default=20.0)
    sca.add_argument("--idle-seconds", type=float, default=5.0, help="measure the idle worker's CPU this long first")
    _common(sca)
    from ops.bench import pipeline_overload  # it builds on this module

    pipeline_overload.add_parser(sub, _common)
    args = parser.parse_args(argv)
    result: Any
    if args.command == "overload":
        result = pipeline_overload.overload(args)
        pipeline_overload.print_overload(result)
    elif args.command == "latency":
        result = latency(args)
        print_latency(result)
    elif args.command == "throughput":
        result = throughput(args)
        print_throughput(result, args)
    else:
        result = scale(args)
        print_scale(result, args)
    if args.json:
        args.json.write_text(json.dumps(_plain(result), indent=1, default=str))
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        data = asdict(value)
        return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in data.items()}
    return value


if __name__ == "__main__":
    raise SystemExit(main())
