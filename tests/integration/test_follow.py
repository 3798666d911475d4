"""A follower against a real broker: a batched one (the directory's) still applies a lone record within
its batch wait, and every record of a burst in order; the registers' follower, which writers wait on,
is not batched."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path

from aiokafka import ConsumerRecord
from kafka import KafkaProducer

from alerts.config import load_config
from streams.pipeline.app import DIRECTORY_BATCH_MS, create_app
from streams.pipeline.connection import ensure_topics
from streams.pipeline.follow import BATCH_MIN_BYTES, Follower
from tests.support import REPO, unique_topics, write_config
from tests.unit.pipeline.test_stage import stage


def test_the_directory_follower_batches_and_the_registers_follower_does_not() -> None:
    worker = create_app(load_config(REPO / "config"), in_memory=True)
    assert worker.directory_feed.fetch_settings() == {"fetch_min_bytes": BATCH_MIN_BYTES, "fetch_max_wait_ms": DIRECTORY_BATCH_MS}
    assert worker.registers.feed.fetch_settings() == {}  # a claim's writer waits to read it back


async def _follow(bootstrap: str, base: Path) -> list[bytes]:
    prefix = f"f{uuid.uuid4().hex[:8]}"
    kafka = {"bootstrap": bootstrap, "app_id": f"crucial-{prefix}", "partitions": 2, "topics": unique_topics(prefix)}
    config = load_config(write_config(base / "config", kafka=kafka, data_dir=str(base / "data")))
    ensure_topics(config)
    topic = config.settings.kafka.topics.deliveries
    applied: list[bytes] = []

    def apply(record: ConsumerRecord[bytes, bytes]) -> None:
        applied.append(record.value or b"")

    follower = Follower(config, [topic], apply, "test", stage()[0])
    follower.batch_ms = 100
    task = asyncio.create_task(follower.run())
    try:
        await asyncio.wait_for(follower.ready.wait(), 30)
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        producer.send(topic, key=b"k", value=b"lone").get(10)  # far below BATCH_MIN_BYTES
        burst = [f"r{i}".encode() for i in range(200)]
        deadline = time.monotonic() + 20
        while not applied and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for value in burst:
            producer.send(topic, key=b"k", value=value)  # one key: one partition, one order
        producer.flush(10)
        producer.close()
        while len(applied) < 1 + len(burst) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return applied
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_batched_follower_applies_a_lone_record_and_a_burst_in_order(kafka_bootstrap: str, tmp_path: Path) -> None:
    # The lone record never reaches the fetch minimum: it arrives only because the broker answers at the
    # batch wait (the test's 20 s is patience, not a timing claim).
    assert asyncio.run(_follow(kafka_bootstrap, tmp_path)) == [b"lone", *(f"r{i}".encode() for i in range(200))]
