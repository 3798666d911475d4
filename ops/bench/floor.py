"""The floor: the least any Kafka-fed alerting pipeline could do on this machine — one bare
kafka-python produce → consume round trip, then one HTTP POST on loopback.

A producer sends a small record (acks=all, no linger, as the benchmark's reports are sent); a
consumer on another thread receives it and at once POSTs it to a minimal HTTP receiver (a separate
process, ops.bench.receiver) over a kept-alive connection. Latency is measured the way the pipeline's
is: from the producer's ack to the moment the receiver has the request.

    .venv/bin/python -m ops.bench.floor --rate 100 --seconds 10
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from ops.bench import harness as h
from tests.peers.process import PeerProcess, spawn_python_peer


@dataclass
class Floor:
    kafka: list[float]  # producer ack → consumer has the record
    http: list[float]  # POST sent → receiver has it
    total: list[float]  # producer ack → receiver has the POST
    sent: int
    received: int


def spawn_receiver(record: Path) -> PeerProcess:
    return spawn_python_peer("ops.bench.receiver", ["--port", "0", "--record", str(record)])


def measure(bootstrap: str, base: Path, rate: float, count: int) -> Floor:
    topic = f"bench.floor.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    record = base / "floor-http.jsonl"
    receiver = spawn_receiver(record)
    port = int(receiver.info["port"])
    consumed: dict[str, float] = {}
    posted: dict[str, float] = {}
    ready = threading.Event()
    done = threading.Event()

    def consume() -> None:
        consumer = KafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest", enable_auto_commit=False
        )
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            while not consumer.assignment():
                consumer.poll(timeout_ms=100)
            consumer.seek_to_end()
            consumer.poll(timeout_ms=0)
            ready.set()
            deadline = time.monotonic() + count / rate + 60
            while len(consumed) < count and not done.is_set() and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=100).values():
                    for message in batch:
                        key = message.key.decode()
                        consumed[key] = time.time()
                        posted[key] = time.time()
                        connection.request(
                            "POST", f"/floor/{key}", body=message.value, headers={"Content-Type": "application/json"}
                        )
                        connection.getresponse().read()
        finally:
            connection.close()
            consumer.close()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    ready.wait(60)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    items = [(f"f{i:07d}", f"f{i:07d}".encode(), json.dumps({"n": i, "pad": "x" * 400}).encode()) for i in range(count)]
    sent = h.drive(producer, topic, items, rate)
    producer.close()
    thread.join(timeout=30)
    done.set()
    time.sleep(0.5)
    receiver.stop()
    arrived = {
        row["path"].rsplit("/", 1)[1]: float(row["at"])
        for row in (json.loads(line) for line in record.read_text().splitlines() if line.strip())
    }
    kafka, http_, total = [], [], []
    for key, ack in sent.acked.items():
        if key in consumed:
            kafka.append(consumed[key] - ack)
        if key in arrived and key in posted:
            http_.append(arrived[key] - posted[key])
            total.append(arrived[key] - ack)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics([topic])
    except Exception:  # best effort: the broker is the benchmark's own
        pass
    finally:
        admin.close()
    return Floor(kafka, http_, total, len(sent.submitted), len(arrived))


def rows(floor: Floor) -> list[list[str]]:
    out = []
    for name, values in (
        ("kafka: producer ack → consumed", floor.kafka),
        ("http: POST sent → received", floor.http),
        ("floor: producer ack → POST received", floor.total),
    ):
        s = h.summary(values)
        out.append([name, str(len(values)), h.ms(s["p50"]), h.ms(s["p95"]), h.ms(s["p99"]), h.ms(s["max"])])
    return out


HEADER = ["floor (ms)", "n", "p50", "p95", "p99", "max"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--broker-port", type=int, default=h.DEFAULT_BROKER_PORT)
    parser.add_argument("--broker-dir", type=Path, help="the broker's data and log (default .cache/kafka/bench/PORT)")
    parser.add_argument("--keep-broker", action="store_true")
    args = parser.parse_args(argv)
    with h.broker(args.broker_port, args.broker_dir, keep=args.keep_broker) as broker, h.workdir() as base:
        floor = measure(broker.bootstrap, base, args.rate, max(1, int(args.rate * args.seconds)))
    print(h.table(f"The floor at {args.rate:g}/s", HEADER, rows(floor)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
