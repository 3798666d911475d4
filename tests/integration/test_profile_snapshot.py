"""The profile feed and its index snapshot against a real broker: a current snapshot is loaded and only
the records after it are read, giving the index a build from the whole topic gives; one that is not
provably current (ahead of the topic, behind its start, another record at its last offset, other code,
a torn file) is ignored with its reason and the index is built from the topic. Synthetic profiles only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from kafka import KafkaConsumer, KafkaProducer

from alerts.config import Config, load_config
from alerts.matching import ProfileIndex
from alerts.matching import snapshot as snap
from alerts.matching.snapshot import Coverage
from ops.bench.profiles import profile
from streams.pipeline.connection import ensure_topics
from streams.pipeline.metrics import PROFILE_SNAPSHOTS, PROFILES
from streams.pipeline.profile_snapshot import SnapshotFile, snapshot_path
from streams.pipeline.profiles import ProfileFeed
from tests.support import unique_topics, write_config
from tests.unit.pipeline.test_stage import stage
from tests.unit.test_matching_snapshot import probes, results

COUNT = 300


def configured(base: Path, bootstrap: str) -> Config:
    prefix = f"s{uuid.uuid4().hex[:8]}"
    kafka = {"bootstrap": bootstrap, "app_id": f"crucial-{prefix}", "partitions": 2, "topics": unique_topics(prefix)}
    config = load_config(write_config(base / "config", kafka=kafka, data_dir=str(base / "data")))
    ensure_topics(config)
    return config


def produce(config: Config, records: list[tuple[str, dict[str, Any] | bytes | None]]) -> None:
    producer = KafkaProducer(bootstrap_servers=config.settings.kafka.bootstrap, acks="all")
    for key, value in records:
        raw = json.dumps(value).encode() if isinstance(value, dict) else value
        producer.send(config.settings.kafka.topics.profiles, key=key.encode(), value=raw)
    producer.flush()
    producer.close()


async def loaded_feed(config: Config, snapshots: SnapshotFile | None = None) -> tuple[ProfileFeed, asyncio.Task[None]]:
    guard, _ = stage(max_record_bytes=1 << 20)
    feed = ProfileFeed(config, ProfileIndex(config.risk.matching, config.risk.links), guard, snapshots)
    task = asyncio.create_task(feed.run())
    await asyncio.wait_for(feed.ready.wait(), 120)
    for _ in range(1200):  # until the snapshot it writes once ready is written (when it had to)
        if feed._saves or not feed._changed:
            break
        await asyncio.sleep(0.05)
    return feed, task


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def count(metric: Any, *labels: str) -> float:
    return float(metric.labels(*labels)._value.get())


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return [profile(n, seed=5) for n in range(COUNT)]


@pytest.fixture(scope="module")
def topic(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, Any]]) -> Iterator[Config]:
    """A profiles topic with COUNT profiles, and a snapshot of it written by a first, cold start."""
    config = configured(tmp_path_factory.mktemp("snapshot"), kafka_bootstrap)
    produce(config, [(row["profile_id"], row) for row in rows])

    async def cold() -> None:
        feed, task = await loaded_feed(config)
        assert not feed.loaded_from_snapshot and len(feed.index) == COUNT
        await stopped(task)

    asyncio.run(cold())
    assert snapshot_path(config).exists()
    yield config


async def fresh_build(config: Config, tmp: Path) -> ProfileFeed:
    feed, task = await loaded_feed(config, SnapshotFile(tmp / "none.snapshot", lambda: "fp"))
    assert not feed.loaded_from_snapshot
    await stopped(task)
    return feed


def test_a_current_snapshot_is_loaded_and_only_the_records_after_it_are_read(
    topic: Config, rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    renamed = rows[5] | {"aliases": ["Anh Thu"]}
    produce(
        topic,
        [
            (renamed["profile_id"], renamed),
            (rows[6]["profile_id"], None),
            ("RP-SNAP-NEW", rows[7] | {"profile_id": "RP-SNAP-NEW"}),
        ],
    )
    produce(topic, [("RP-SNAP-BAD", b'{"profile_id": "RP-SNAP-BAD"}')])  # invalid: quarantined, not applied

    async def scenario() -> None:
        loaded_before, upserted_before = count(PROFILE_SNAPSHOTS, "loaded", ""), count(PROFILES, "upserted")
        feed, task = await loaded_feed(topic)
        await stopped(task)
        assert feed.loaded_from_snapshot
        assert count(PROFILE_SNAPSHOTS, "loaded", "") == loaded_before + 1
        assert count(PROFILES, "upserted") == upserted_before + 2  # the changes since, not the whole topic
        assert feed.index.get(rows[6]["profile_id"]) is None
        changed = feed.index.get(rows[5]["profile_id"])
        assert changed is not None and changed.aliases == ["Anh Thu"]
        built = await fresh_build(topic, tmp_path)
        assert len(feed.index) == len(built.index) == COUNT
        events = probes([*rows[:5], renamed, *rows[7:], rows[7] | {"profile_id": "RP-SNAP-NEW"}])
        assert results(feed.index, events) == results(built.index, events)

    asyncio.run(scenario())


def rewritten(topic: Config, target: Path, change: dict[str, Any]) -> SnapshotFile:
    """The topic's snapshot with part of what it says it covers changed (and a valid checksum)."""
    store = SnapshotFile.of(topic)
    loaded = store.read()
    index = ProfileIndex(topic.risk.matching, topic.risk.links)
    snap.restore(index, loaded)
    coverage = Coverage(**(vars(loaded.coverage) | change))
    copy = SnapshotFile(target / "changed.snapshot", lambda: store.fingerprint)
    copy.write(snap.encode(index, coverage, store.fingerprint))
    return copy


def ignored(topic: Config, snapshots: SnapshotFile, reason: str, tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    async def scenario() -> None:
        before = count(PROFILE_SNAPSHOTS, "ignored", reason)
        feed, task = await loaded_feed(topic, snapshots)
        await stopped(task)
        assert not feed.loaded_from_snapshot
        assert count(PROFILE_SNAPSHOTS, "ignored", reason) == before + 1
        built = await fresh_build(topic, tmp_path)
        held = set(feed.index._slot_of)
        assert held == set(built.index._slot_of) and len(feed.index) == len(held) > 0
        events = probes([row for row in rows if row["profile_id"] in held])
        assert results(feed.index, events) == results(built.index, events)

    asyncio.run(scenario())


def test_a_snapshot_ahead_of_the_topic_is_ignored_and_the_index_built(
    topic: Config, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    offsets = SnapshotFile.of(topic).read().coverage.offsets
    ignored(topic, rewritten(topic, tmp_path, {"offsets": offsets | {0: offsets[0] + 50}}), "offsets_ahead", tmp_path, rows)


def test_a_snapshot_whose_last_record_is_not_the_topics_is_ignored(
    topic: Config, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    """As after the topic was deleted and made again with as many records."""
    last = SnapshotFile.of(topic).read().coverage.last
    ignored(topic, rewritten(topic, tmp_path, {"last": last | {0: "0" * 64}}), "last_record", tmp_path, rows)


def test_a_snapshot_of_other_code_is_ignored(topic: Config, tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    copy = tmp_path / "copy.snapshot"
    copy.write_bytes(snapshot_path(topic).read_bytes())
    ignored(topic, SnapshotFile(copy, lambda: "another release"), "fingerprint", tmp_path, rows)


def test_a_torn_snapshot_file_is_ignored(topic: Config, tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    torn = tmp_path / "torn.snapshot"
    torn.write_bytes(snapshot_path(topic).read_bytes()[:-1000])
    store = SnapshotFile.of(topic)
    ignored(topic, SnapshotFile(torn, lambda: store.fingerprint), "checksum", tmp_path, rows)


def test_a_snapshot_lacking_records_the_topic_no_longer_holds_is_ignored(
    kafka_bootstrap: str, rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    config = configured(tmp_path, kafka_bootstrap)
    produce(config, [(row["profile_id"], row) for row in rows[:40]])

    async def scenario() -> None:
        _, task = await loaded_feed(config)  # writes the snapshot
        await stopped(task)
        produce(config, [(row["profile_id"], row) for row in rows[40:80]])
        topic = config.settings.kafka.topics.profiles
        covered = SnapshotFile.of(config).read().coverage.offsets
        consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
        end = consumer.end_offsets([TopicPartition(topic, p) for p in covered])
        consumer.close()
        assert all(end[TopicPartition(topic, p)] > o for p, o in covered.items())  # records on each since
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:  # retention by time or DeleteRecords (only on a topic not purely compacted): the topic starts later
            policy = {"cleanup.policy": "compact,delete"}
            await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=policy)])
            await admin.delete_records({TopicPartition(topic, p): RecordsToDelete(o + 1) for p, o in covered.items()})
        finally:
            await admin.close()

    asyncio.run(scenario())
    ignored(config, SnapshotFile.of(config), "offsets_behind", tmp_path, rows)
