"""The incident directory's follower and its snapshot against a real broker: a current snapshot is loaded
and only the records after it are read, giving the directory a read of the whole topics gives; one
that is not provably current (ahead of the topics, behind their start, another record at its last
offset) is ignored with its reason and the topics are read from the beginning. Synthetic records only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from kafka import KafkaConsumer, KafkaProducer
from pydantic import BaseModel

import alerts.directory as directory_module
from alerts.config import Config
from alerts.directory import IncidentDirectory
from alerts.matching.snapshot import Coverage
from alerts.model import IncidentStatus
from streams.pipeline import feed_snapshot
from streams.pipeline.feed_snapshot import SnapshottedFollower, directory_feed, directory_snapshots
from streams.pipeline.metrics import FEED_SNAPSHOTS
from streams.pipeline.profile_snapshot import SnapshotFile
from tests.integration.test_profile_snapshot import configured, count, stopped
from tests.unit.pipeline.test_stage import stage
from tests.unit.test_directory import _incident, _step

FEED = "incident directory"


@pytest.fixture(autouse=True)
def few_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """So that a few dozen incidents already forget some: the snapshot must carry what was forgotten."""
    monkeypatch.setattr(directory_module, "KEPT_AFTER_RESOLVED", 5)


def produce_incidents(config: Config, first: int, last: int, *, bad: bool = False) -> int:
    """Incidents first..last, every other one resolved, each with two steps; the number of records."""
    topics = config.settings.kafka.topics
    producer = KafkaProducer(bootstrap_servers=config.settings.kafka.bootstrap, acks="all")
    written = 0
    for n in range(first, last):
        records: list[tuple[str, str, BaseModel]] = [(topics.incidents, f"inc-{n}", _incident(n, IncidentStatus.OPEN))]
        records += [
            (topics.deliveries, f"key-{n}", _step(n, "accepted")),
            (topics.deliveries, f"key-{n}", _step(n, "delivered", 9)),
        ]
        if n % 2:
            records.append((topics.incidents, f"inc-{n}", _incident(n, IncidentStatus.RESOLVED)))
        for topic, key, value in records:
            producer.send(topic, key=key.encode(), value=value.model_dump_json().encode())
        written += len(records)
    if bad:  # not a delivery record: quarantined by the guard, the feed goes on
        producer.send(topics.deliveries, key=b"key-bad", value=b'{"idempotency_key": "key-bad"}')
        written += 1
    producer.flush()
    producer.close()
    return written


class Started:
    """One start of the directory's follower: the directory it fills and what it applied."""

    def __init__(self, config: Config, snapshots: SnapshotFile | None = None) -> None:
        self.directory = IncidentDirectory()
        guard, _ = stage(max_record_bytes=1 << 20)
        self.feed: SnapshottedFollower = directory_feed(config, self.directory, guard, snapshots)
        self.handled = 0
        self.feed.apply = self._counting(self.feed.apply)

    def _counting(self, apply: Callable[[ConsumerRecord[bytes, bytes]], None]) -> Callable[[ConsumerRecord[bytes, bytes]], None]:
        def counted(record: ConsumerRecord[bytes, bytes]) -> None:
            self.handled += 1
            apply(record)

        return counted

    async def run_until_ready(self) -> None:
        task = asyncio.create_task(self.feed.run())
        await asyncio.wait_for(self.feed.ready.wait(), 60)
        for _ in range(600):  # until the snapshot it writes once ready is written (when it had to)
            if self.feed.saves or not self.feed._changed:
                break
            await asyncio.sleep(0.05)
        await stopped(task)


def started(config: Config, snapshots: SnapshotFile | None = None) -> Started:
    start = Started(config, snapshots)
    asyncio.run(start.run_until_ready())
    return start


def held(directory: IncidentDirectory) -> dict[str, Any]:
    """What the directory holds, in no order: a read interleaves the topics' partitions as they come."""
    state = directory.state()
    return {
        "incidents": {i["incident"]: (sorted(i["deliveries"]), i["first_delivery_at"]) for i in state["incidents"]},
        "early": {incident_id: sorted(steps) for incident_id, steps in state["early"]},
        "forgotten": set(state["forgotten"]),
        "forgotten_steps": {key: (kept, raw) for key, kept, raw in state["forgotten_steps"]},
    }


def read_whole(config: Config, tmp_path: Path) -> IncidentDirectory:
    start = started(config, SnapshotFile(tmp_path / "none.snapshot", lambda: "fp"))
    assert not start.feed.loaded_from_snapshot
    return start.directory


def test_a_current_snapshot_is_loaded_and_only_the_records_after_it_are_read(kafka_bootstrap: str, tmp_path: Path) -> None:
    config = configured(tmp_path, kafka_bootstrap)
    first = produce_incidents(config, 0, 30)
    cold = started(config)
    assert not cold.feed.loaded_from_snapshot and cold.handled == first
    assert directory_snapshots(config).path.exists() and cold.feed.saves == 1
    since = produce_incidents(config, 30, 40, bad=True)

    loaded_before = count(FEED_SNAPSHOTS, FEED, "loaded", "")
    warm = started(config)
    assert warm.feed.loaded_from_snapshot and count(FEED_SNAPSHOTS, FEED, "loaded", "") == loaded_before + 1
    assert warm.handled == since  # the records after the snapshot, not the topics' history
    whole = read_whole(config, tmp_path)
    assert held(warm.directory) == held(whole)
    assert whole.sizes()["forgotten ids"] > 0 and warm.directory.delivery("inc-1", "key-1").state == "delivered"  # type: ignore[union-attr]
    assert warm.directory.by_reference("CH-38") is not None

    again = started(config)  # nothing since: loaded, nothing read, nothing written
    assert again.feed.loaded_from_snapshot and again.handled == 0 and again.feed.saves == 0


def rewritten(config: Config, target: Path, change: Callable[[Coverage], dict[str, Any]]) -> SnapshotFile:
    """The snapshot with what it says it covers changed (and a valid checksum)."""
    store = directory_snapshots(config)
    coverages, state = feed_snapshot.decode(store.read_bytes(), FEED, store.fingerprint)
    changed = [Coverage(**(vars(c) | change(c))) for c in coverages]
    copy = SnapshotFile(target / "changed.snapshot", lambda: store.fingerprint)
    copy.write(feed_snapshot.encode(FEED, changed, state, store.fingerprint, coverages[0].written_at))  # type: ignore[arg-type]
    return copy


def ignored(config: Config, snapshots: SnapshotFile, reason: str, tmp_path: Path) -> None:
    before = count(FEED_SNAPSHOTS, FEED, "ignored", reason)
    start = started(config, snapshots)
    assert not start.feed.loaded_from_snapshot
    assert count(FEED_SNAPSHOTS, FEED, "ignored", reason) == before + 1
    assert held(start.directory) == held(read_whole(config, tmp_path))


@pytest.fixture
def snapshotted(kafka_bootstrap: str, tmp_path: Path) -> Config:
    config = configured(tmp_path, kafka_bootstrap)
    produce_incidents(config, 0, 12)
    started(config)
    return config


def test_a_snapshot_ahead_of_the_topics_is_ignored(snapshotted: Config, tmp_path: Path) -> None:
    deliveries = snapshotted.settings.kafka.topics.deliveries

    def ahead(c: Coverage) -> dict[str, Any]:
        return {"offsets": c.offsets | {0: c.offsets[0] + 50}} if c.topic == deliveries else {}

    ignored(snapshotted, rewritten(snapshotted, tmp_path, ahead), "offsets_ahead", tmp_path)


def test_a_snapshot_whose_last_record_is_not_the_topics_is_ignored(snapshotted: Config, tmp_path: Path) -> None:
    """As after a topic was deleted and made again with as many records."""
    incidents = snapshotted.settings.kafka.topics.incidents

    def other(c: Coverage) -> dict[str, Any]:
        held = next(p for p, o in c.offsets.items() if o > 0)
        return {"last": c.last | {held: "0" * 64}} if c.topic == incidents else {}

    ignored(snapshotted, rewritten(snapshotted, tmp_path, other), "last_record", tmp_path)


def test_a_snapshot_lacking_records_the_topics_no_longer_hold_is_ignored(snapshotted: Config, tmp_path: Path) -> None:
    """Audit retention (kafka.retention.audit_years) or DeleteRecords: a topic starts after the snapshot."""
    produce_incidents(snapshotted, 12, 20)
    coverages, _ = feed_snapshot.decode(
        directory_snapshots(snapshotted).read_bytes(), FEED, directory_snapshots(snapshotted).fingerprint
    )
    deliveries = next(c for c in coverages if c.topic == snapshotted.settings.kafka.topics.deliveries)

    consumer = KafkaConsumer(bootstrap_servers=snapshotted.settings.kafka.bootstrap)
    end = consumer.end_offsets([TopicPartition(deliveries.topic, p) for p in deliveries.offsets])
    consumer.close()
    since = {p: o for p, o in deliveries.offsets.items() if end[TopicPartition(deliveries.topic, p)] > o}
    assert since  # records on a partition after the snapshot: cut the topic there

    async def cut() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=snapshotted.settings.kafka.bootstrap)
        await admin.start()
        try:
            await admin.delete_records({TopicPartition(deliveries.topic, p): RecordsToDelete(o + 1) for p, o in since.items()})
        finally:
            await admin.close()

    asyncio.run(cut())
    ignored(snapshotted, directory_snapshots(snapshotted), "offsets_behind", tmp_path)
