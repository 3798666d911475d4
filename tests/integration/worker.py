"""A real `crucial worker` subprocess on the session's broker, with topics of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from alerts.config import Config, load_config
from streams.pipeline.connection import ensure_topics
from tests.support import REPO, free_port, sample_placements, sample_profiles, unique_topics, write_config


@dataclass
class RunningWorker:
    config_dir: Path
    config: Config
    log_path: Path
    outbox: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    role: str = "all"  # `crucial worker --role` (streams/pipeline/roles.py)
    _producer: KafkaProducer | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return self.config.settings.web.port

    @property
    def topics(self) -> Any:
        return self.config.settings.kafka.topics

    @property
    def stage_topics(self) -> list[str]:
        """What the triage and deliver agents consume: handled, everything the worker owes is sent."""
        t = self.topics
        return [t.placement_events, t.incident_commands, t.notifications, t.delivery_status]

    def start(self, timeout_s: float = 90.0) -> float:
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli.main", "worker", "--config", str(self.config_dir), "--role", self.role],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env=self.env,
            )
        self.wait_ready(timeout_s)
        return time.monotonic() - began

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited {self.process.returncode}; log:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=1) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready within {timeout_s} s; log:\n{self.log_tail()}")

    def stop(self, kill: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:]) if self.log_path.exists() else ""

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as reply:
            return str(reply.read().decode())

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample at /metrics (0 when absent)."""
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in self.metrics().splitlines():
            if line.startswith("#"):
                continue
            series, _, value = line.rpartition(" ")
            metric_name, _, rest = series.partition("{")
            if metric_name != name:
                continue
            got = ",".join(sorted(part for part in rest.rstrip("}").split(",") if part))
            if got == want:
                return float(value)
        return 0.0

    # --- Kafka helpers ------------------------------------------------------------------------

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(bootstrap_servers=self.config.settings.kafka.bootstrap, acks="all")
        return self._producer

    def emit(self, event: dict[str, Any] | bytes, key: str | None = None) -> None:
        if isinstance(event, dict):
            key = key or event["child"]["reference"]
            value = json.dumps(event).encode()
        else:
            value = event
        self.producer.send(self.topics.placement_events, key=key.encode() if key else None, value=value)
        self.producer.flush()

    def read(
        self,
        topic: str,
        until: Callable[[list[dict[str, Any]]], bool],
        timeout_s: float = 30.0,
        handled: Sequence[str] = (),
        skip_undecodable: bool = False,
    ) -> list[dict[str, Any]]:
        """Every JSON record on `topic` once `until(records)` holds. With `handled` (topics the worker
        consumes), it then waits until the worker has handled every record on those topics so far
        (`handled_all`) and reads on, so anything extra the worker would write is caught — the barrier,
        not a fixed settle time. `skip_undecodable` passes over records that are not JSON objects (a
        poisoned topic)."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.config.settings.kafka.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            consumer_timeout_ms=200,
        )
        # Assign every partition explicitly and read from the start: no group, no waiting for one.
        partitions = [TopicPartition(topic, p) for p in range(self.config.settings.kafka.partitions)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        barrier = list(handled)
        try:
            while time.monotonic() < deadline:
                for message in consumer:
                    try:
                        record = json.loads(message.value)
                    except (ValueError, RecursionError):
                        if skip_undecodable:
                            continue
                        raise
                    if skip_undecodable and not isinstance(record, dict):
                        continue
                    records.append(record)
                if until(records):
                    if not barrier:
                        return records
                    self.handled_all(barrier)
                    barrier = []  # read on: what the worker wrote before the barrier is there now
        finally:
            consumer.close()
        raise AssertionError(f"condition not met on {topic} within {timeout_s} s; got {len(records)} record(s)")

    def handled_all(self, topics: list[str], group: str | None = None, timeout_s: float = 60.0) -> None:
        """Until the worker's consumer group has committed, on every partition of `topics`, the end
        offsets those partitions had when this was called: every record written before the call was
        handled (a record is acknowledged only once handled, and faust commits only acknowledged
        offsets), so whatever it would send has been sent. The barrier a test needs before saying
        "nothing else arrived", instead of a fixed sleep."""
        bootstrap = self.config.settings.kafka.bootstrap
        partitions = [TopicPartition(t, p) for t in topics for p in range(self.config.settings.kafka.partitions)]
        reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            end = reader.end_offsets(partitions)
            group_id = group or self.config.settings.kafka.app_id
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                committed = admin.list_group_offsets({group_id: partitions})[group_id]
                behind = {tp: o for tp, o in end.items() if o > 0 and (tp not in committed or committed[tp].offset < o)}
                if not behind:
                    return
                time.sleep(0.2)
        finally:
            reader.close()
            admin.close()
        raise AssertionError(f"group {group_id} did not commit past {sorted(map(str, behind))} within {timeout_s} s")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
        self.stop()


def prepare_worker(base: Path, bootstrap: str, **settings: Any) -> RunningWorker:
    """Config with unique topics, app id and port; sample profiles and placements loaded. Not started."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    overrides: dict[str, Any] = {
        "kafka": {"bootstrap": bootstrap, "app_id": f"crucial-{prefix}", "partitions": 2, "topics": unique_topics(prefix)},
        "web": {"port": free_port()},
        "outbox": {"path": str(base / "outbox.jsonl")},
        "data_dir": str(base / "data"),
    }
    for key, value in settings.items():
        overrides[key] = {**overrides.get(key, {}), **value} if isinstance(value, dict) else value
    config_dir = write_config(base / "config", **overrides)
    config = load_config(config_dir)
    ensure_topics(config)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for profile in sample_profiles():
        producer.send(
            config.settings.kafka.topics.profiles, key=profile["profile_id"].encode(), value=json.dumps(profile).encode()
        )
    for placement in sample_placements():
        producer.send(
            config.settings.kafka.topics.placements, key=placement["placement_id"].encode(), value=json.dumps(placement).encode()
        )
    producer.flush()
    producer.close()
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP",)}
    return RunningWorker(config_dir, config, base / "worker.log", base / "outbox.jsonl", env)
