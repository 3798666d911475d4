"""A follower against a real broker: a batched one (the directory's) applies a lone record and every
record of a burst in order; `caught_up` returns only once a record written before the call is applied;
the registers' follower, which writers wait on, is not batched."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from aiokafka import AIOKafkaProducer, ConsumerRecord

from alerts.config import Config, load_config
from streams.pipeline.app import create_app
from streams.pipeline.connection import ensure_topics
from streams.pipeline.follow import BATCH_MIN_BYTES, Follower
from tests.support import REPO, unique_topics, write_config
from tests.unit.pipeline.test_stage import stage

PATIENCE_S = 30.0  # how long a test waits for the broker before it fails (patience, not a timing claim)


def test_the_directory_follower_batches_and_the_registers_follower_does_not() -> None:
    config = load_config(REPO / "config")
    worker = create_app(config, in_memory=True)
    wait_ms = config.settings.kafka.directory_fetch_wait_ms
    assert wait_ms > 0 and worker.directory_feed.fetch_settings() == {
        "fetch_min_bytes": BATCH_MIN_BYTES,
        "fetch_max_wait_ms": wait_ms,
    }
    assert worker.registers.feed.fetch_settings() == {}  # a claim's writer waits to read it back


def _config(bootstrap: str, base: Path) -> Config:
    prefix = f"f{uuid.uuid4().hex[:8]}"
    kafka = {"bootstrap": bootstrap, "app_id": f"crucial-{prefix}", "partitions": 2, "topics": unique_topics(prefix)}
    config = load_config(write_config(base / "config", kafka=kafka, data_dir=str(base / "data")))
    ensure_topics(config)
    return config


@contextlib.asynccontextmanager
async def _following(config: Config, batch_ms: int, applied: list[bytes]) -> AsyncIterator[Follower]:
    topics = config.settings.kafka.topics

    def apply(record: ConsumerRecord[bytes, bytes]) -> None:
        applied.append(record.value or b"")

    follower = Follower(config, [topics.deliveries, topics.incidents], apply, "test", stage()[0])
    follower.batch_ms = batch_ms
    task = asyncio.create_task(follower.run())
    try:
        await asyncio.wait_for(follower.ready.wait(), PATIENCE_S)
        yield follower
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    return producer


async def _lone_then_burst(bootstrap: str, base: Path) -> tuple[bool, list[bytes], bool, list[bytes]]:
    config = _config(bootstrap, base)
    topic = config.settings.kafka.topics.deliveries
    applied: list[bytes] = []
    producer = await _producer(bootstrap)
    try:
        async with _following(config, config.settings.kafka.directory_fetch_wait_ms, applied) as follower:
            await producer.send_and_wait(topic, key=b"k", value=b"lone")  # far below BATCH_MIN_BYTES
            lone_caught_up = await follower.caught_up(PATIENCE_S)
            after_lone = list(applied)
            for i in range(200):
                await producer.send(topic, key=b"k", value=f"r{i}".encode())  # one key: one partition, one order
            await producer.flush()
            return lone_caught_up, after_lone, await follower.caught_up(PATIENCE_S), list(applied)
    finally:
        await producer.stop()


def test_a_batched_follower_applies_a_lone_record_and_a_burst_in_order(kafka_bootstrap: str, tmp_path: Path) -> None:
    # The lone record never reaches the fetch minimum: it is applied only because the broker answers at
    # the batch wait, and caught_up waits for exactly that.
    lone_caught_up, after_lone, burst_caught_up, applied = asyncio.run(_lone_then_burst(kafka_bootstrap, tmp_path))
    assert lone_caught_up and after_lone == [b"lone"]
    assert burst_caught_up and applied == [b"lone", *(f"r{i}".encode() for i in range(200))]


async def _written_then_caught_up(bootstrap: str, base: Path) -> tuple[bool, list[bytes], bool, list[bytes]]:
    config = _config(bootstrap, base)
    topics = config.settings.kafka.topics
    applied: list[bytes] = []
    producer = await _producer(bootstrap)
    try:
        # A batch wait far longer than the test's steps: the broker holds each fetch, so a record written
        # now is not applied until that wait ends. Without caught_up's wait the assertion below fails.
        async with _following(config, 5000, applied) as follower:
            await producer.send_and_wait(topics.incidents, key=b"c1", value=b"written")
            waited = await follower.caught_up(PATIENCE_S)
            seen = list(applied)
            await producer.send_and_wait(topics.deliveries, key=b"c2", value=b"second")  # the other topic too
            return waited, seen, await follower.caught_up(PATIENCE_S), list(applied)
    finally:
        await producer.stop()


def test_caught_up_returns_only_once_a_record_written_before_it_is_applied(kafka_bootstrap: str, tmp_path: Path) -> None:
    waited, seen, waited_again, applied = asyncio.run(_written_then_caught_up(kafka_bootstrap, tmp_path))
    assert waited and seen == [b"written"]
    assert waited_again and applied == [b"written", b"second"]


def test_caught_up_says_false_at_once_when_the_follower_is_not_running(tmp_path: Path) -> None:
    config = load_config(REPO / "config")
    follower = Follower(config, ["incidents"], lambda record: None, "test", stage()[0])
    # Nothing would ever be applied: the caller must not wait out its timeout (an hour here) for it.
    assert asyncio.run(asyncio.wait_for(follower.caught_up(3600), PATIENCE_S)) is False
