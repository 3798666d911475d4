"""Fault runs: a burst of reports while something breaks, then an account of every notification.

Each scenario drives reports at --rate for --seconds (a --matched share about profiled children, each
fanning out to 3+ recipients), breaks something part-way, repairs it, waits for the pipeline to
catch up, and prints sent / expected / delivered / lost / duplicated / worst latency (from the
moment each report was handed to the producer, since a fault can delay the broker's ack too).

    kill-worker     SIGKILL the worker mid-burst, start it again at once
    restart-broker  stop the broker mid-burst (cleanly), start it again
    rebalance       two workers share the partitions; SIGKILL one mid-burst, the other takes over
    twilio-500      the Twilio-compatible server answers 500 to every request for --outage seconds
    twilio-429      ... 429 Too Many Requests with Retry-After: 1
    smtp-down       the SMTP server refuses connections for --outage seconds
    malformed       --malformed broken reports mixed evenly into the valid ones

On a local cluster (--brokers 3: three KRaft nodes, replication 3, min.insync.replicas 2; every
scenario above runs on it too):

    kill-leader      SIGKILL the node leading placement-events/0 mid-burst; start it again --outage s later
    rolling-brokers  stop (cleanly) and start each node in turn, waiting until it is back in sync
    rolling-workers  two workers; stop (SIGTERM) and start each in turn, waiting until it is ready

    .venv/bin/python -m ops.bench.faults all --rate 50 --seconds 60 --outage 60
    .venv/bin/python -m ops.bench.faults kill-worker rebalance --seconds 20
    .venv/bin/python -m ops.bench.faults kill-leader rolling-brokers rebalance rolling-workers --brokers 3

Lost: an expected notification (an SMS or email the domain says a report must produce) that never
reached its peer. Duplicated: a notification that reached its peer more than once. Other: notifications
no report asked for — fallbacks to another person or channel after a permanent failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.bench import harness as h
from ops.bench.pipeline import events_processed, warm_up

SCENARIOS = ("kill-worker", "restart-broker", "rebalance", "twilio-500", "twilio-429", "smtp-down", "malformed")
CLUSTER_SCENARIOS = ("kill-leader", "rolling-brokers", "rolling-workers")
TWO_WORKERS = ("rebalance", "rolling-workers")


@dataclass
class Outcome:
    scenario: str
    sent: int
    expected: int
    delivered: int
    lost: int
    duplicated: int
    other: int
    worst_s: float
    p99_s: float
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _malformed(n: int, rng: random.Random) -> list[bytes | None]:
    """Broken reports of many kinds: not JSON, not UTF-8, the wrong JSON, missing and mistyped fields,
    unknown fields, naive and impossible datetimes, oversized text, and empty payloads."""
    base = {
        "event_id": "evt-bad",
        "type": "left_placement",
        "occurred_at": "2026-11-28T22:40:00Z",
        "reported_at": "2026-11-28T22:55:00Z",
        "placement": {
            "id": "plc-1",
            "name": "Home",
            "local_authority": "Harrow",
            "postcode": "HA1 9ZZ",
            "placed_at": "2026-11-27T16:00:00Z",
        },
        "child": {"reference": "HAR-BAD-1", "given_names": "Test", "sex": "male"},
        "circumstances": {"last_seen_at": "2026-11-28T22:40:00Z", "last_seen_place": "gate"},
        "reporter": {"name": "Carer", "role": "carer", "callback_phone": "+447700900401"},
    }

    def mutate(i: int) -> bytes | None:
        kind = i % 12
        doc: Any = json.loads(json.dumps(base))
        doc["event_id"] = f"evt-bad-{i:06d}"
        if kind == 0:
            return b"this is not json {" + str(i).encode()
        if kind == 1:
            return bytes(rng.getrandbits(8) for _ in range(64))
        if kind == 2:
            return json.dumps([doc]).encode()
        if kind == 3:
            del doc["child"]
        elif kind == 4:
            doc["type"] = "kidnapped"
        elif kind == 5:
            doc["occurred_at"] = "2026-11-28T22:40:00"  # naive
        elif kind == 6:
            doc["child"]["given_names"] = 42
        elif kind == 7:
            doc["surprise"] = {"nested": True}
        elif kind == 8:
            doc["child"]["reference"] = "x" * 5000
        elif kind == 9:
            doc["circumstances"]["last_seen_at"] = "2026-02-30T25:61:00Z"
        elif kind == 10:
            return b""
        else:
            doc["reporter"]["callback_phone"] = "call me"
        return json.dumps(doc).encode()

    return [mutate(i) for i in range(n)]


def _at(when: float, action: Callable[[], None], done: threading.Event) -> threading.Thread:
    """Run `action` `when` seconds from now on a thread (the driver keeps its pace meanwhile)."""

    def run() -> None:
        time.sleep(when)
        try:
            action()
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def scenario(name: str, args: argparse.Namespace, broker: h.Broker, base: Path, topic: str) -> Outcome:
    count = max(1, int(args.rate * args.seconds))
    workers = 2 if name in TWO_WORKERS else 1
    tuning = h.Tuning(partitions=args.partitions, retry=_retry(args), replication=broker.replication)
    with h.Stack(base / name, broker.bootstrap, topic, tuning) as stack:
        for _ in range(workers):
            stack.add_worker()
        for worker in stack.workers:
            stack.wait_idle(worker)
        reports = h.make_reports(
            stack.config, count, matched_fraction=args.matched, profile_count=args.profiles, seed=args.seed, run=name[:6]
        )
        producer = h.bench_producer(broker.bootstrap)
        warm_up(
            stack,
            producer,
            h.make_reports(
                stack.config, 10, matched_fraction=0.5, profile_count=args.profiles, seed=9, run="w", profile_seed=args.seed
            ),
        )
        half = args.seconds / 2
        done = threading.Event()
        note = ""
        items: list[tuple[str, bytes | None, bytes]] = [(r.event_id, r.key, r.value) for r in reports]
        rate = args.rate
        malformed_ids: set[str] = set()
        if name == "kill-worker":
            worker = stack.workers[0]

            def kill_and_restart() -> None:
                stack.kill(worker)
                h.log("worker SIGKILLed; starting it again")
                stack.start(worker)

            _at(half, kill_and_restart, done)
            note = "SIGKILL at the midpoint, restarted at once"
        elif name == "restart-broker":
            if broker.local is None:
                return Outcome(name, 0, 0, 0, 0, 0, 0, 0.0, 0.0, note="skipped: KAFKA_BOOTSTRAP is someone else's broker")

            def restart() -> None:
                took = broker.restart()
                h.log(f"broker restarted: unreachable for {took:.1f} s")

            _at(half, restart, done)
            note = "clean stop and start at the midpoint"
        elif name == "rebalance":
            victim = stack.workers[1]

            def kill() -> None:
                stack.kill(victim)
                h.log("worker 1 SIGKILLed; worker 0 takes its partitions")

            _at(half, kill, done)
            note = "two workers; one SIGKILLed at the midpoint and not restarted"
        elif name in CLUSTER_SCENARIOS:
            note = _cluster_fault(name, args, broker, stack, done)
        elif name in ("twilio-500", "twilio-429", "smtp-down"):
            outage = args.outage

            def break_it() -> None:
                if name == "smtp-down":
                    stack.smtp.down()
                else:
                    preset = "server_error" if name == "twilio-500" else "rate_limited"
                    stack.twilio.fail(preset=preset, times=10**9)
                h.log(f"{name}: for {outage:g} s")

            def repair() -> None:
                if name == "smtp-down":
                    stack.smtp.up()
                else:
                    stack.twilio.reset()  # clears the fault; the record file keeps every request
                h.log(f"{name}: repaired")

            start_at = min(half, max(1.0, args.seconds - outage) / 2)
            _at(start_at, break_it, threading.Event())
            _at(start_at + outage, repair, done)
            note = f"{outage:g} s outage from {start_at:g} s"
        elif name == "malformed":
            bad = _malformed(args.malformed, random.Random(args.seed))
            mixed: list[tuple[str, bytes | None, bytes]] = []
            step = len(bad) / max(1, len(items))
            j = 0.0
            for i, item in enumerate(items):
                mixed.append(item)
                while j < (i + 1) * step and int(j) < len(bad):
                    bad_id = f"bad-{int(j):06d}"
                    malformed_ids.add(bad_id)
                    mixed.append((bad_id, None if int(j) % 3 == 0 else b"HAR-BAD", bad[int(j)] or b""))
                    j += 1
            items = mixed
            rate = args.rate * len(items) / max(1, len(reports))
            done.set()
            note = f"{len(malformed_ids)} malformed among {len(reports)} valid, at {rate:.0f} reports/s in all"
        h.log(f"{name}: {len(items)} reports at {rate:g}/s")
        before = events_processed(stack)
        sent = h.drive(producer, stack.topics["placement_events"], items, rate)
        done.wait(timeout=args.outage + args.seconds + 120)
        got = h.wait_delivered(stack, reports, sent, timeout_s=args.drain, settle_s=3.0)
        acc = h.account(reports, sent, got, from_submit=True)
        extra: dict[str, Any] = {
            "sms requests": got.sms_attempts,
            "sms refused by the fault": got.sms_refused,
        }
        if acc.lost_keys:
            extra["lost"] = [f"{e.channel} {e.key[:12]} ({e.event_id})" for e in acc.lost_keys[:10]]
            extra["lost reports"] = len({e.event_id for e in acc.lost_keys})
            extra["/ready of the live workers"] = [_ready(w) for w in stack.workers if w.alive()]
            h.log(f"{name}: lost {', '.join(extra['lost'])}")
        if name == "malformed":
            rejected = len(h.topic_records(broker.bootstrap, stack.topics["rejected"]))
            extra["rejected topic"] = rejected
            extra["malformed sent"] = len(malformed_ids)
            extra["events counted"] = events_processed(stack) - before
            note += f"; rejected topic holds {rejected}"
        producer.close()
        return Outcome(
            name,
            sent=len([k for k in sent.submitted if k not in malformed_ids]),
            expected=acc.expected,
            delivered=acc.delivered,
            lost=acc.lost,
            duplicated=acc.duplicated,
            other=acc.extra,
            worst_s=acc.worst_s,
            p99_s=h.summary(acc.latencies["sms"] + acc.latencies["email"])["p99"],
            note=note,
            extra=extra,
        )


def _cluster_fault(name: str, args: argparse.Namespace, broker: h.Broker, stack: h.Stack, done: threading.Event) -> str:
    """Schedule a cluster scenario's fault on a thread; returns what it does, for the table."""
    nodes = broker.cluster
    half = args.seconds / 2
    if name == "rolling-workers":

        def roll_workers() -> None:
            for worker in stack.workers:
                worker.running.stop()
                h.log(f"worker {worker.index} stopped (SIGTERM); starting it again")
                stack.start(worker)

        _at(1.0, roll_workers, done)
        return "two workers; each stopped and started in turn from 1 s"
    assert nodes is not None, "kill-leader and rolling-brokers need --brokers 3"
    if name == "kill-leader":
        outage = min(args.outage, half)

        def kill_leader() -> None:
            leader = nodes.leader(stack.topics["placement_events"], 0)
            nodes.node(leader).kill()
            h.log(f"node {leader} (leader of placement-events/0) SIGKILLed")
            time.sleep(outage)
            nodes.start()
            h.log(f"node {leader} started again; now {nodes.leader(stack.topics['placement_events'], 0)} leads")
            nodes.wait_in_sync()

        _at(half, kill_leader, done)
        return f"SIGKILL of placement-events/0's leader at {half:g} s, started again {outage:g} s later"

    def roll_brokers() -> None:
        for node in nodes.nodes:
            node.stop()
            node.start()
            nodes.wait_in_sync()
            h.log(f"node {node.node_id} restarted and in sync")

    _at(1.0, roll_brokers, done)
    return "each node stopped cleanly and started in turn from 1 s, the next once all partitions were in sync"


def _ready(worker: h.WorkerHandle) -> str:
    """What the worker's /ready says (an orchestrator's view of it)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.running.port}/ready", timeout=5) as reply:
            return f"{reply.status} {reply.read().decode()[:200]}"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} {exc.read().decode()[:200]}"
    except OSError as exc:
        return f"no answer ({type(exc).__name__})"


def _retry(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.retry == "default":
        return None  # the shipped RetrySettings (alerts/config/settings.py)
    # The old defaults, to show the difference: 5 attempts from 0.5 s, used up within seconds of an outage.
    return {"max_attempts": 5, "base_delay_s": 0.5, "max_delay_s": 30.0, "budget_s": 120.0}


def print_outcomes(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    print("# Crucial Hour — fault runs\n")
    print(h.table("Machine", ["", ""], h.machine().items()))
    print(
        f"\n{args.rate:g} reports/s for {args.seconds:g} s, {args.matched:.0%} about profiled children "
        f"({args.profiles:,} profiles, {args.partitions} partitions); outages {args.outage:g} s; retry policy: {args.retry}."
    )
    rows = [
        [
            o.scenario,
            o.sent,
            o.expected,
            o.delivered,
            o.lost,
            o.duplicated,
            o.other,
            h.ms(o.worst_s),
            h.ms(o.p99_s),
            o.note,
        ]
        for o in outcomes
    ]
    print(
        h.table(
            "Every notification accounted for (latency from the report's send, ms)",
            ["scenario", "sent", "expected", "delivered", "lost", "duplicated", "other", "worst", "p99", "what happened"],
            rows,
        )
    )
    for o in outcomes:
        if o.extra:
            print(f"\n{o.scenario}: " + ", ".join(f"{k} {v}" for k, v in o.extra.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.faults", description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+", choices=[*SCENARIOS, *CLUSTER_SCENARIOS, "all"])
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--matched", type=float, default=0.1)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds a provider is down")
    parser.add_argument("--malformed", type=int, default=10_000)
    parser.add_argument("--drain", type=float, default=400.0, help="seconds to wait for the pipeline to catch up")
    parser.add_argument(
        "--retry",
        choices=["default", "legacy"],
        default="default",
        help="the shipped retry policy, or the old defaults (5 attempts from 0.5 s)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--brokers", type=int, default=1, help="3: a local cluster, node n on --broker-port + 2(n-1)")
    parser.add_argument("--broker-port", type=int, default=h.DEFAULT_BROKER_PORT)
    parser.add_argument("--broker-dir", type=Path, help="the broker's data and log (default .cache/kafka/bench/PORT)")
    parser.add_argument("--keep-broker", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    every = [*SCENARIOS, *CLUSTER_SCENARIOS] if args.brokers > 1 else list(SCENARIOS)
    chosen = every if "all" in args.scenarios else args.scenarios
    if args.brokers < 3 and {"kill-leader", "rolling-brokers"} & set(chosen):
        parser.error("kill-leader and rolling-brokers need a cluster: add --brokers 3")
    outcomes = []
    with _brokers(args) as broker, h.workdir(args.keep) as base:
        topic, _ = h.load_profiles(broker.bootstrap, args.profiles, args.seed, args.partitions, broker.replication)
        for name in chosen:
            h.log(f"=== {name}")
            outcomes.append(scenario(name, args, broker, base, topic))
            o = outcomes[-1]
            h.log(f"{name}: expected {o.expected}, delivered {o.delivered}, lost {o.lost}, duplicated {o.duplicated}")
    print_outcomes(outcomes, args)
    if args.json:
        args.json.write_text(json.dumps([o.__dict__ for o in outcomes], indent=1, default=str))
    return 0


def _brokers(args: argparse.Namespace) -> contextlib.AbstractContextManager[h.Broker]:
    if args.brokers > 1:
        return h.cluster(args.broker_port, args.brokers, args.broker_dir, keep=args.keep_broker)
    return h.broker(args.broker_port, args.broker_dir, keep=args.keep_broker)


if __name__ == "__main__":
    raise SystemExit(main())
