"""What every pipeline benchmark shares: the broker, the stack (Twilio-compatible and SMTP peers, one
or more `crucial worker` subprocesses), profile loading, the paced load driver, the expectation
oracle, collecting what the peers received, statistics and tables.

Everything listens on 127.0.0.1. The broker is the benchmark's own (`LocalBroker` on --broker-port,
default 19592, state under .cache/kafka/bench) unless KAFKA_BOOTSTRAP is set; never the dev broker on
9092. Every loop here is bounded in count and in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from alerts.config import Config, load_config
from alerts.intake import parse_event, parse_profile
from alerts.matching import ProfileIndex
from alerts.rendering import Renderer
from alerts.triage import Context, triage
from ops.bench import profiles as synth
from streams.pipeline.broker import LocalBroker, LocalCluster
from streams.pipeline.connection import ensure_topics
from tests.integration.worker import RunningWorker
from tests.peers.notifications import TwilioCredentials
from tests.peers.remote import RemoteSmtpPeer, RemoteTwilioPeer
from tests.support import REPO, free_port, unique_topics, write_config

DEFAULT_BROKER_PORT = 19592
BENCH_STATE = REPO / ".cache" / "kafka" / "bench"
FROM_NUMBER = "+447700900999"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the machine ------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    return {
        "cpus": str(os.cpu_count()),
        "ram": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "cpu model": model or "unknown",
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load avg (1/5/15 min) at start": f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
    }


# --- the broker -------------------------------------------------------------------------------------


@dataclass
class Broker:
    bootstrap: str
    local: LocalBroker | None
    cluster: LocalCluster | None = None  # the nodes, when the run is on a local cluster

    @property
    def replication(self) -> int:
        return self.cluster.replication if self.cluster is not None else 1

    def restart(self, down_s: float = 0.0) -> float:
        """Stop the local broker cleanly, wait `down_s`, start it again; seconds it was unreachable."""
        if self.local is None:
            raise RuntimeError("KAFKA_BOOTSTRAP is set: cannot restart someone else's broker")
        began = time.monotonic()
        self.local.stop()
        time.sleep(down_s)
        self.local.start()
        return time.monotonic() - began


@contextlib.contextmanager
def broker(port: int = DEFAULT_BROKER_PORT, state_dir: Path | None = None, keep: bool = False) -> Iterator[Broker]:
    """KAFKA_BOOTSTRAP when set; else the benchmark's own broker (started if not running)."""
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP"):
        yield Broker(bootstrap, None)
        return
    if port == 9092:
        raise SystemExit("refusing port 9092: that is the development broker others use")
    local = LocalBroker(state_dir=state_dir or BENCH_STATE / str(port), port=port, heap="1g")
    was_running = local.pid() is not None
    took = local.start()
    log(f"broker {local.bootstrap} {'already running' if was_running else f'started in {took:.1f} s'}")
    try:
        yield Broker(local.bootstrap, local)
    finally:
        if not keep and not was_running:
            local.stop()


@contextlib.contextmanager
def cluster(port: int, size: int, state_dir: Path | None = None, keep: bool = False) -> Iterator[Broker]:
    """A local cluster of `size` nodes of the benchmark's own (started if not running): node n on
    port + 2(n-1). KAFKA_BOOTSTRAP cannot stand in: the cluster scenarios kill its nodes."""
    if port <= 9092 < port + 2 * size:
        raise SystemExit("refusing ports around 9092: that is the development broker others use")
    nodes = LocalCluster(state_dir=state_dir or BENCH_STATE / f"cluster-{port}", port=port, size=size)
    was_running = bool(nodes.registered())
    took = nodes.start()
    log(f"cluster {nodes.bootstrap} {'already running' if was_running else f'started in {took:.1f} s'}")
    try:
        yield Broker(nodes.bootstrap, None, nodes)
    finally:
        if not keep and not was_running:
            nodes.stop()


# --- profiles ----------------------------------------------------------------------------------------


def profiles_topic(count: int, seed: int) -> str:
    return f"bench.profiles.s{seed}.n{count}"


def topic_size(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None)
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            return 0
        tps = [TopicPartition(topic, p) for p in parts]
        end = consumer.end_offsets(tps)
        begin = consumer.beginning_offsets(tps)
        return sum(end[tp] - begin[tp] for tp in tps)
    finally:
        consumer.close()


def load_profiles(bootstrap: str, count: int, seed: int, partitions: int, replication: int = 1) -> tuple[str, float]:
    """The synthetic profiles on a compacted topic of their own, kept between runs (loaded once per
    count and seed). Returns (topic, seconds spent loading; 0 when already there)."""
    topic = profiles_topic(count, seed)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        if topic not in set(admin.list_topics()):
            with contextlib.suppress(TopicAlreadyExistsError):
                compacted = {"cleanup.policy": "compact"}
                admin.create_topics([NewTopic(topic, partitions, replication, topic_configs=compacted)])
    finally:
        admin.close()
    if topic_size(bootstrap, topic) >= count:
        return topic, 0.0
    log(f"loading {count:,} synthetic profiles onto {topic}")
    began = time.monotonic()
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=20, batch_size=512 * 1024)
    for n, p in enumerate(synth.profiles(count, seed)):
        producer.send(topic, key=p["profile_id"].encode(), value=json.dumps(p, separators=(",", ":")).encode())
        if n and n % 100_000 == 0:
            log(f"  {n:,} profiles sent")
    producer.flush(timeout=600)
    producer.close()
    return topic, time.monotonic() - began


# --- reports and the expectation oracle ----------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """One notification the domain says a report must produce."""

    key: str
    event_id: str
    channel: str
    address: str
    # From the domain's own Notification: what the overload mode tells apart (first alerts of
    # high-priority incidents from the rest), whatever topics or lanes the worker uses.
    kind: str = ""
    priority: str = ""
    incident_id: str = ""


@dataclass
class Report:
    event_id: str
    key: bytes
    value: bytes
    matched: bool
    expected: list[Expected] = field(default_factory=list)


_INDEXES: dict[tuple[int, int], ProfileIndex] = {}


def profile_index(count: int, seed: int) -> ProfileIndex:
    """The synthetic profiles indexed as the worker indexes them (streams/pipeline/app.py: `ProfileIndex()`,
    each record through `parse_profile`); built once per process per (count, seed)."""
    if (count, seed) not in _INDEXES:
        log(f"oracle: indexing {count:,} profiles as the worker does")
        index = ProfileIndex()
        for p in synth.profiles(count, seed):
            index.upsert(parse_profile(json.dumps(p, separators=(",", ":"))))
        _INDEXES[(count, seed)] = index
    return _INDEXES[(count, seed)]


class Oracle:
    """What the pipeline must send for a report, decided by the pure domain (alerts.triage) against the
    same profiles the worker holds — independently of the worker. (Against the whole index, not just
    the report's own profile: with many namesakes the matcher may call even a shared Home Office
    reference a possible match, which changes who is told.)"""

    def __init__(self, config: Config, index: ProfileIndex) -> None:
        self.config, self.index = config, index
        self.renderer = Renderer.from_config(config)

    def expect(self, report: dict[str, Any], now: datetime) -> list[Expected]:
        outcome = triage(parse_event(json.dumps(report)), Context(self.config, self.renderer, now, self.index))
        return [
            Expected(
                n.idempotency_key, report["event_id"], n.channel, n.recipient.address, n.kind, n.priority.value, n.incident_id
            )
            for n in outcome.notifications
        ]


def make_reports(
    config: Config,
    count: int,
    *,
    matched_fraction: float,
    profile_count: int,
    seed: int,
    min_recipients: int = 3,
    run: str | None = None,
    profile_seed: int | None = None,
) -> list[Report]:
    """`count` reports, a `matched_fraction` of them about profiled children who fan out to at least
    `min_recipients` recipients; the rest about unprofiled children. `seed` picks the reports;
    `profile_seed` (default: `seed`) is the seed the profiles on the topic were made with."""
    profile_seed = seed if profile_seed is None else profile_seed
    rng = random.Random(seed * 7919 + count)
    run = run or uuid.uuid4().hex[:6]
    oracle = Oracle(config, profile_index(profile_count, profile_seed))
    now = datetime.now(UTC).replace(microsecond=0)
    out: list[Report] = []
    for i in range(count):
        event_id = f"evt-{run}-{i:07d}"
        if rng.random() < matched_fraction:
            for _ in range(50):
                p = synth.profile(rng.randrange(profile_count), profile_seed)
                report = synth.matched_report(p, event_id, now, rng)
                expected = oracle.expect(report, now)
                if len({e.address for e in expected}) >= min_recipients:
                    break
            out.append(Report(event_id, report["child"]["reference"].encode(), json.dumps(report).encode(), True, expected))
        else:
            report = synth.unprofiled_report(event_id, now, rng)
            # Almost always nothing; but an invented name can still sound like a profiled child's, and
            # then the matcher calls a possible match: the oracle says so too.
            expected = oracle.expect(report, now)
            out.append(Report(event_id, report["child"]["reference"].encode(), json.dumps(report).encode(), False, expected))
    return out


# --- the paced driver ---------------------------------------------------------------------------------


@dataclass
class Sent:
    submitted: dict[str, float] = field(default_factory=dict)  # event id -> time.time() at send()
    acked: dict[str, float] = field(default_factory=dict)  # event id -> time.time() at the broker's ack
    failed: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ack_or_submit(self, event_id: str) -> float | None:
        return self.acked.get(event_id, self.submitted.get(event_id))


def bench_producer(bootstrap: str) -> KafkaProducer:
    # As a placement's integration would: acks=all, no linger (each report on its own, at once);
    # retries for the broker-restart scenario, bounded by the delivery timeout.
    return KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        acks="all",
        # A retry after a leader's loss must not write the report twice.
        enable_idempotence=True,
        linger_ms=0,
        retries=2**31 - 1,
        delivery_timeout_ms=180_000,
        request_timeout_ms=30_000,
    )


def drive(
    producer: KafkaProducer,
    topic: str,
    items: Sequence[tuple[str, bytes | None, bytes]],
    rate: float,
    *,
    sent: Sent | None = None,
    max_seconds: float | None = None,
    on_tick: Callable[[int, float], None] | None = None,
) -> Sent:
    """Produce (event id, key, value) items at `rate` per second, recording submit and ack times.
    Stops after the last item or after `max_seconds`. `on_tick(i, elapsed)` runs before item i."""
    sent = sent or Sent()
    began = time.monotonic()
    limit = max_seconds if max_seconds is not None else len(items) / rate + 60
    for i, (event_id, key, value) in enumerate(items):
        due = began + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        elapsed = time.monotonic() - began
        if elapsed > limit:
            log(f"driver: stopping at {i} of {len(items)} after {elapsed:.0f} s")
            break
        if on_tick is not None:
            on_tick(i, elapsed)

        def ok(_: Any, event_id: str = event_id) -> None:
            sent.acked[event_id] = time.time()

        def bad(exc: BaseException, event_id: str = event_id) -> None:
            sent.failed[event_id] = type(exc).__name__

        sent.submitted[event_id] = time.time()
        producer.send(topic, key=key, value=value).add_callback(ok).add_errback(bad)
    producer.flush(timeout=240)
    return sent


# --- the stack -------------------------------------------------------------------------------------


@dataclass
class WorkerHandle:
    running: RunningWorker
    index: int
    ready_s: float = float("nan")  # start → /ready 200 (profiles loaded, partitions held)

    @property
    def pid(self) -> int:
        assert self.running.process is not None
        return self.running.process.pid

    def alive(self) -> bool:
        return self.running.process is not None and self.running.process.poll() is None


@dataclass
class Tuning:
    """Settings the benchmark writes into the workers' settings.yaml (None: the shipped default)."""

    partitions: int = 4
    delivery_concurrency: int | None = None
    triage_concurrency: int | None = None  # settings.kafka.triage_concurrency
    kafka_tuning: dict[str, Any] | None = None  # settings.kafka.tuning, when the config has it
    retry: dict[str, Any] | None = None  # twilio.retry and smtp.retry
    smtp: bool = True  # False: email goes to the outbox file (a diagnostic: the SMS path without email's cost)
    replication: int = 1  # settings.kafka.replication_factor: 3 on a cluster


class Stack:
    """Twilio-compatible and SMTP peers (recording every request), and workers on topics of their own."""

    def __init__(self, base: Path, bootstrap: str, profiles_topic: str, tuning: Tuning | None = None) -> None:
        self.base, self.bootstrap, self.profiles_topic = base, bootstrap, profiles_topic
        self.tuning = tuning or Tuning()
        self.prefix = f"bench{uuid.uuid4().hex[:6]}"
        self.topics = {**unique_topics(self.prefix), "profiles": profiles_topic}
        self.credentials = TwilioCredentials.fresh()
        self.smtp_password = secrets.token_urlsafe(12)
        # Made at run time, shared by the stack's workers (links signed by one verify on another).
        self.link_secret, self.session_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.twilio_record = base / "twilio.jsonl"
        self.smtp_record = base / "smtp.jsonl"
        self.workers: list[WorkerHandle] = []
        self._stack = contextlib.ExitStack()
        self.twilio: RemoteTwilioPeer
        self.smtp: RemoteSmtpPeer
        self.config: Config

    def __enter__(self) -> Stack:
        self.twilio = self._stack.enter_context(RemoteTwilioPeer.spawn(self.credentials, record=self.twilio_record))
        self.smtp = self._stack.enter_context(
            RemoteSmtpPeer.spawn(self.base / "smtp-certs", password=self.smtp_password, record=self.smtp_record)
        )
        self.config = self._write_config(self.base / "config-0", free_port())
        ensure_topics(self.config)
        return self

    def __exit__(self, *_: object) -> None:
        for worker in self.workers:
            worker.running.close()
        self._stack.close()

    def _write_config(self, where: Path, port: int) -> Config:
        t = self.tuning
        retry = t.retry or {}
        kafka: dict[str, Any] = {
            "bootstrap": self.bootstrap,
            "app_id": f"crucial-{self.prefix}",
            "partitions": t.partitions,
            "replication_factor": t.replication,
            "topics": self.topics,
        }
        if t.kafka_tuning:
            kafka["tuning"] = t.kafka_tuning
        if t.triage_concurrency is not None:
            kafka["triage_concurrency"] = t.triage_concurrency
        settings: dict[str, Any] = {
            "kafka": kafka,
            "web": {"port": port},
            "outbox": {"path": str(self.base / "outbox.jsonl")},
            "twilio": {
                "account_sid": self.credentials.account_sid,
                "from_number": FROM_NUMBER,
                "base_url": self.twilio.base_url,
                "status_callback_url": f"http://127.0.0.1:{port}/twilio/status",
                "inbound_url": f"http://127.0.0.1:{port}/twilio/inbound",
                **({"retry": retry} if retry else {}),
            },
            **({"smtp": self._smtp_settings(retry)} if t.smtp else {}),
        }
        if t.delivery_concurrency is not None:
            settings["delivery_concurrency"] = t.delivery_concurrency
        if where.exists():
            shutil.rmtree(where)
        return load_config(write_config(where, **settings))

    def _smtp_settings(self, retry: dict[str, Any]) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.smtp.port,
            "tls": "starttls",
            "username": self.smtp.user,
            "sender": "alerts@crucial-hour.example",
            "ca_file": str(self.smtp.ca_file),
            **({"retry": retry} if retry else {}),
        }

    def add_worker(self, start: bool = True, timeout_s: float = 600.0, role: str = "all") -> WorkerHandle:
        """A worker process on a config of its own (its web port), running `role` (`crucial worker --role`)."""
        n = len(self.workers)
        port = self.config.settings.web.port if n == 0 else free_port()
        config = self.config if n == 0 else self._write_config(self.base / f"config-{n}", port)
        env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP"}
        env |= {
            "TWILIO_AUTH_TOKEN": self.credentials.auth_token,
            "SMTP_PASSWORD": self.smtp_password,
            "CRUCIAL_LINK_SECRET": self.link_secret,
            "CRUCIAL_SESSION_SECRET": self.session_secret,
            # Outside the demo every configured secret is required (streams.pipeline.checks.required_key_problems).
            "CRUCIAL_HMAC_LARCHWOOD": self.session_secret,
        }
        running = RunningWorker(
            config.directory, config, self.base / f"worker-{n}.log", self.base / "outbox.jsonl", env, role=role
        )
        handle = WorkerHandle(running, n)
        self.workers.append(handle)
        if start:
            self.start(handle, timeout_s)
        return handle

    def start(self, worker: WorkerHandle, timeout_s: float = 600.0) -> float:
        took = worker.running.start(timeout_s)
        worker.ready_s = took
        log(f"worker {worker.index} ({worker.running.role}, pid {worker.pid}) ready in {took:.1f} s")
        return took

    def kill(self, worker: WorkerHandle) -> None:
        assert worker.running.process is not None
        worker.running.process.send_signal(signal.SIGKILL)
        worker.running.process.wait(30)

    def wait_idle(self, worker: WorkerHandle, timeout_s: float = 120.0) -> None:
        """Until the worker holds partitions and is not rebalancing (its /ready says 200)."""
        worker.running.wait_ready(timeout_s)


# --- what the peers received ----------------------------------------------------------------------


@dataclass
class Delivery:
    key: str
    channel: str
    at: float  # time.time() at the peer
    address: str


@dataclass
class Received:
    deliveries: list[Delivery]
    sms_attempts: int  # every request at the Twilio peer, failed ones included
    sms_refused: int  # answered with an error (the faults)

    def by_key(self) -> dict[str, list[Delivery]]:
        out: dict[str, list[Delivery]] = defaultdict(list)
        for d in self.deliveries:
            out[d.key].append(d)
        return out


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                with contextlib.suppress(json.JSONDecodeError):  # a line being written as we read
                    yield json.loads(line)


class _Tail:
    """Reads a JSON Lines file incrementally: only what was appended since the last call."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.partial = path, 0, b""

    def new_rows(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        data, self.partial = self.partial + data, b""
        lines = data.split(b"\n")
        self.partial = lines.pop()  # an unfinished last line waits for the next call
        for line in lines:
            if line.strip():
                with contextlib.suppress(json.JSONDecodeError):
                    yield json.loads(line)


class Collector:
    """What the stack's peers have received so far (their record files, read incrementally, so polling
    costs the harness little CPU while the worker is being measured)."""

    def __init__(self, stack: Stack) -> None:
        self._twilio, self._smtp = _Tail(stack.twilio_record), _Tail(stack.smtp_record)
        self.deliveries: list[Delivery] = []
        self.attempts = self.refused = 0

    def poll(self) -> Received:
        for row in self._twilio.new_rows():
            if row.get("kind") != "request":
                continue
            self.attempts += 1
            if row.get("status") != 201:
                self.refused += 1
                continue
            form = row.get("form") or {}
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(form.get("StatusCallback", "")).query)
            key = (query.get("key") or [""])[0]
            self.deliveries.append(Delivery(key, "sms", float(row["received_at"]), form.get("To", "")))
        for row in self._smtp.new_rows():
            key = (row.get("message_id") or "").strip("<>").split("@", 1)[0]
            for rcpt in row.get("rcpt_tos") or []:
                self.deliveries.append(Delivery(key, "email", float(row["received_at"]), rcpt))
        return Received(list(self.deliveries), self.attempts, self.refused)


def received(stack: Stack) -> Received:
    """Everything the peers have received since the stack started."""
    return Collector(stack).poll()


# --- accounting -----------------------------------------------------------------------------------------


@dataclass
class Accounting:
    sent: int
    expected: int
    delivered: int
    lost: int
    duplicated: int
    extra: int  # delivered notifications no matched report asked for (possible matches, fallbacks)
    latencies: dict[str, list[float]]  # channel -> seconds, expected notifications, first delivery
    first_sms: list[float]  # per matched report: to its first SMS
    lost_keys: list[Expected]
    worst_s: float
    extra_deliveries: list[Delivery] = field(default_factory=list)  # a sample of the "extra" ones, to look into


def account(reports: Sequence[Report], sent: Sent, got: Received, *, from_submit: bool = False) -> Accounting:
    """Expected notifications of the reports sent against what the peers received. Deliveries that
    arrived before the first of these reports was sent (a warm-up, an earlier step) are not counted."""
    expected = {e.key: e for r in reports if r.event_id in sent.submitted for e in r.expected}
    since = min(sent.submitted.values(), default=0.0)
    by_key = Received([d for d in got.deliveries if d.at >= since or d.key in expected], 0, 0).by_key()
    latencies: dict[str, list[float]] = {"sms": [], "email": []}
    first_sms: dict[str, float] = {}
    lost: list[Expected] = []
    worst = 0.0
    for key, e in expected.items():
        seen = by_key.get(key)
        if not seen:
            lost.append(e)
            continue
        start = sent.submitted[e.event_id] if from_submit else sent.ack_or_submit(e.event_id)
        assert start is not None
        took = min(d.at for d in seen) - start
        latencies[e.channel].append(took)
        worst = max(worst, took)
        if e.channel == "sms":
            first_sms[e.event_id] = min(first_sms.get(e.event_id, took), took)
    duplicated = sum(len(v) - 1 for v in by_key.values() if len(v) > 1)
    extra = sum(1 for k in by_key if k not in expected)
    extra_sample = [d for k, v in by_key.items() if k not in expected for d in v][:20]
    return Accounting(
        sent=len(sent.submitted),
        expected=len(expected),
        delivered=len(expected) - len(lost),
        lost=len(lost),
        duplicated=duplicated,
        extra=extra,
        latencies=latencies,
        first_sms=list(first_sms.values()),
        lost_keys=lost,
        worst_s=worst,
        extra_deliveries=extra_sample,
    )


def wait_delivered(stack: Stack, reports: Sequence[Report], sent: Sent, timeout_s: float, settle_s: float = 2.0) -> Received:
    """Poll the peers' records until every expected notification arrived (then `settle_s` more, to
    catch duplicates) or `timeout_s` passed."""
    want = {e.key for r in reports if r.event_id in sent.submitted for e in r.expected}
    deadline = time.monotonic() + timeout_s
    collector = Collector(stack)
    got = collector.poll()
    seen = {d.key for d in got.deliveries}
    while time.monotonic() < deadline:
        before = len(got.deliveries)
        got = collector.poll()
        seen.update(d.key for d in got.deliveries[before:])
        if want <= seen:
            time.sleep(settle_s)
            return collector.poll()
        time.sleep(0.5)
    return got


# --- the worker's CPU and memory -----------------------------------------------------------------------


class ProcessWatch:
    """CPU seconds over a window and peak RSS (sampled every 0.1 s, and the kernel's high-water mark)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.process = psutil.Process(pid)
        self.peak_rss = 0
        self._cpu0 = 0.0
        self._t0 = 0.0
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self._wait0 = 0.0
        self.waited_s = 0.0  # runnable, waiting for a CPU: the other processes' share of the machine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def _waited(self) -> float:
        """Seconds the process's threads spent runnable but waiting for a CPU (Linux schedstat)."""
        total = 0
        for task in Path(f"/proc/{self.pid}/task").glob("*/schedstat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(task.read_text().split()[1])
        return total / 1e9

    def start(self) -> ProcessWatch:
        self._cpu0, self._t0 = self._cpu(), time.monotonic()
        self._wait0 = self._waited()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            self._stop.wait(0.1)

    def stop(self) -> ProcessWatch:
        with contextlib.suppress(psutil.Error):
            self.cpu_s = self._cpu() - self._cpu0
        self.waited_s = self._waited() - self._wait0
        self.wall_s = time.monotonic() - self._t0
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        return self

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    def hwm(self) -> int:
        """VmHWM: the process's peak resident set since it started (Linux), in bytes."""
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return self.peak_rss

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def waited_percent(self) -> float:
        return 100.0 * self.waited_s / self.wall_s if self.wall_s else 0.0


# --- statistics and tables -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": float(len(values)),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def ms(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "—"
    return f"{seconds * 1000:.1f}" if seconds < 10 else f"{seconds * 1000:,.0f}"


def ratio(a: float, b: float) -> str:
    if a != a or b != b or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], note: str | None = None) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [f"\n{title}", ""]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        lines.append(
            "| " + " | ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        )
    if note:
        lines += ["", note]
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace(".", "").replace("×", "").replace("%", "").replace("-", "").replace(" MiB", "")
    return stripped.isdigit()


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def counts(items: Iterable[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in Counter(items).most_common())


@contextlib.contextmanager
def workdir(keep: bool = False) -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="crucial-bench-"))
    try:
        yield base
    finally:
        if keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def run_quiet(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


# --- where the time goes: the stages, from the records' own timestamps -----------------------------


def topic_records(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every record on `topic` now (bounded by the end offsets at the call, and by `timeout_s`)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","), group_id=None, enable_auto_commit=False, consumer_timeout_ms=1000
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(consumer.position(tp) < end[tp] for tp in tps):
            for batch in consumer.poll(timeout_ms=500, max_records=5000).values():
                out.extend(batch)
        return out
    finally:
        consumer.close()


def stages(stack: Stack, reports: Sequence[Report], sent: Sent, got: Received) -> dict[str, list[float]]:
    """Seconds spent in each hop by the expected notifications, from Kafka's record timestamps (the
    producing client's clock, ms) and the peers' receive times:
    report ack → notification produced (hop 1 + triage) → intent recorded (hop 2 + queueing in the
    delivery agent) → provider received the request → accepted recorded."""
    expected = {e.key: e for r in reports if r.event_id in sent.acked for e in r.expected}
    produced: dict[str, float] = {}
    for record in topic_records(stack.bootstrap, stack.topics["notifications"]):
        key = record.key.decode() if record.key else ""
        if key in expected and key not in produced:
            produced[key] = record.timestamp / 1000
    intent: dict[str, float] = {}
    accepted: dict[str, float] = {}
    for record in topic_records(stack.bootstrap, stack.topics["deliveries"]):
        key = record.key.decode() if record.key else ""
        if key not in expected:
            continue
        state = json.loads(record.value).get("state")
        if state == "intent" and key not in intent:
            intent[key] = record.timestamp / 1000
        elif state == "accepted" and key not in accepted:
            accepted[key] = record.timestamp / 1000
    first = {k: min(d.at for d in v) for k, v in got.by_key().items()}
    out: dict[str, list[float]] = defaultdict(list)
    for key, e in expected.items():
        ack = sent.acked[e.event_id]
        if key in produced:
            out["ack → notification produced"].append(produced[key] - ack)
            if key in intent:
                out["notification → intent recorded"].append(intent[key] - produced[key])
                if key in first:
                    out[f"intent → {e.channel} received"].append(first[key] - intent[key])
                    if key in accepted:
                        out[f"{e.channel} received → accepted recorded"].append(accepted[key] - first[key])
    return dict(out)
