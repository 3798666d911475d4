"""A followed feed's state kept on disk with the offsets it covers, so a start reads only what followed.

The incident directory follows the incidents and deliveries topics whole, and both keep every record
for the audit: without this, every start would read the whole history again before the deliverer
sends anything, and that grows for as long as the deployment runs (docs/operations.md, "Over a long
run"). A worker writes the directory's state once it is ready, every `REFRESH_S` while it changes, and
on a clean stop; the next start loads it when it is provably current and reads on from its offsets.

Provably current, on every partition of every topic followed (the profile snapshot's rules,
alerts/matching/snapshot.py `coverage_problem`): the same topics and partitions; no offset past the
topic's end or before its first offset; the record each partition's part ends with is still the one
at that offset (a topic made again is caught); written by this code (the fingerprint). Not aged:
these topics are not compacted, so no deletion's tombstone can have been missed. Anything else and
the feed is read from the beginning, as without a snapshot, the reason counted and logged.

    MAGIC, header length (u32, little-endian), header (JSON), state (JSON), SHA-256 of everything before it

The header names the format, the feed, the fingerprint, when it was written and, per topic, the
offsets covered and the digest of the last record applied on each partition.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from alerts import directory as directory_module
from alerts import model
from alerts.config import Config
from alerts.directory import IncidentDirectory
from alerts.matching.snapshot import (
    DIGEST_SIZE,
    Coverage,
    SnapshotRejected,
    TopicExtent,
    coverage_problem,
    fingerprint,
    framed,
    read_header,
    record_digest,
)
from alerts.model import DeliveryRecord, IncidentRecord
from streams.pipeline.connection import aiokafka_kwargs
from streams.pipeline.follow import Follower
from streams.pipeline.metrics import FEED_SNAPSHOTS
from streams.pipeline.profile_snapshot import SnapshotFile, safe_name
from streams.pipeline.stage import Stage

log = logging.getLogger("crucial.feed_snapshot")
FORMAT = 1
MAGIC = b"CRUCIAL-FEED-SNAPSHOT\n"
REFRESH_S = 3600.0  # a new snapshot at most this often while the state changes (a crash then replays less)
ENCODED_AT_ONCE = 2000  # list entries per call of the JSON encoder (see _json_in_slices)
LAST_RECORD_TIMEOUT_S = 10.0  # fetching the records a snapshot ends with, to check they are still there
LAST_RECORD_FETCH_BYTES = 64 * 1024  # per partition: the check wants one record, not a megabyte after it
ASSIGNMENT_WAIT_S = 10.0  # for every followed topic's partitions to be assigned before the check


class FeedState(Protocol):
    """What a snapshotted feed keeps: all it holds as JSON values, and the way back."""

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...


def encode(feed: str, coverages: list[Coverage], state: dict[str, Any], fingerprint: str, written_at: datetime) -> bytes:
    header = {
        "format": FORMAT,
        "feed": feed,
        "fingerprint": fingerprint,
        "written_at": written_at.isoformat(),
        "topics": {
            c.topic: {
                "offsets": {str(p): o for p, o in sorted(c.offsets.items())},
                "last": {str(p): d for p, d in c.last.items()},
            }
            for c in coverages
        },
    }
    return framed(MAGIC, header, [b"".join(_json_in_slices(state))])


def _json_in_slices(value: Any) -> Iterator[bytes]:
    """`value` as JSON, long lists a slice at a time: a snapshot is encoded in a thread, and one call
    of the C encoder over a million entries would hold the interpreter (the event loop) for a second."""
    if isinstance(value, dict):
        yield b"{"
        for n, (key, item) in enumerate(value.items()):
            yield b"," + json.dumps(str(key)).encode() + b":" if n else json.dumps(str(key)).encode() + b":"
            yield from _json_in_slices(item)
        yield b"}"
    elif isinstance(value, list) and len(value) > ENCODED_AT_ONCE:
        yield b"["
        for start in range(0, len(value), ENCODED_AT_ONCE):
            part = json.dumps(value[start : start + ENCODED_AT_ONCE], separators=(",", ":")).encode()
            yield (b"," if start else b"") + part[1:-1]
        yield b"]"
    else:
        yield json.dumps(value, separators=(",", ":")).encode()


def decode(data: bytes, feed: str, expected_fingerprint: str) -> tuple[list[Coverage], dict[str, Any]]:
    """The coverage per topic and the state; SnapshotRejected says why it may not be used."""
    header = read_header(data, MAGIC, "feed snapshot")
    if header.get("format") != FORMAT:
        raise SnapshotRejected("format", f"format {header.get('format')!r}, this release reads {FORMAT}")
    if header.get("feed") != feed:
        raise SnapshotRejected("feed", f"a snapshot of {header.get('feed')!r}, not of {feed!r}")
    if header.get("fingerprint") != expected_fingerprint:
        raise SnapshotRejected("fingerprint", "written by other code")
    try:
        written_at = datetime.fromisoformat(header["written_at"])
        coverages = [
            Coverage(
                topic,
                {int(p): int(o) for p, o in held["offsets"].items()},
                {int(p): str(d) for p, d in held["last"].items()},
                written_at,
            )
            for topic, held in header["topics"].items()
        ]
        state = json.loads(data[header["_payload_at"] : -DIGEST_SIZE])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SnapshotRejected("corrupt", f"the contents do not read as a snapshot ({type(exc).__name__})") from exc
    if not isinstance(state, dict):
        raise SnapshotRejected("corrupt", "the state is not a JSON object")
    return coverages, state


async def check_last_records(config: Config, coverages: Sequence[Coverage], beginnings: Mapping[TopicPartition, int]) -> None:
    """The record each partition's part of a snapshot ends with is still the topic's record at that
    offset: a topic deleted and made again (offsets start over) is caught here.

    Every partition of every coverage at once, on a consumer of its own: one fetch asks for them all,
    none waits for a batch to fill (the feed's own consumer may batch), and nothing else is read."""
    wanted: dict[TopicPartition, tuple[int, str]] = {}
    for coverage in coverages:
        for partition, offset in sorted(coverage.offsets.items()):
            tp = TopicPartition(coverage.topic, partition)
            if offset <= beginnings[tp]:
                continue  # covers nothing the topic holds on this partition
            digest = coverage.last.get(partition)
            if digest is None:
                raise SnapshotRejected("last_record", f"{coverage.topic} partition {partition}: no last record to check")
            wanted[tp] = (offset - 1, digest)
    if not wanted:
        return
    found = await _records_at(config, {tp: offset for tp, (offset, _) in wanted.items()})
    for tp, (offset, digest) in sorted(wanted.items()):
        record = found.get(tp)
        if record is None:
            raise SnapshotRejected("last_record", f"{tp.topic} partition {tp.partition}: its last record could not be read")
        if record.offset != offset or record_digest(record.offset, record.key, record.value) != digest:
            raise SnapshotRejected(
                "last_record", f"{tp.topic} partition {tp.partition}: offset {offset} holds another record now"
            )


async def _records_at(
    config: Config, offsets: Mapping[TopicPartition, int]
) -> dict[TopicPartition, ConsumerRecord[bytes, bytes]]:
    """The first record at or after each offset (fewer, where one could not be read within the timeout)."""
    consumer = AIOKafkaConsumer(
        group_id=None, enable_auto_commit=False, max_partition_fetch_bytes=LAST_RECORD_FETCH_BYTES, **aiokafka_kwargs(config)
    )
    found: dict[TopicPartition, ConsumerRecord[bytes, bytes]] = {}
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        for tp, offset in offsets.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + LAST_RECORD_TIMEOUT_S
        while len(found) < len(offsets) and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=100)).items():
                if records and tp not in found:
                    found[tp] = records[0]
                    consumer.pause(tp)  # its record is in: fetch no more of it
    finally:
        await consumer.stop()
    return found


class _CollectionPauses:
    """The pauses now running, counted: feeds load at once, and the first to finish must not turn the
    collector back on while another is still making its hundreds of thousands of objects."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._was_enabled = False

    @contextmanager
    def pause(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0 and self._was_enabled:
                    gc.enable()


_PAUSES = _CollectionPauses()


def collections_paused() -> AbstractContextManager[None]:
    """No garbage collection while a snapshot is read (until every such read running has ended): it
    makes hundreds of thousands of objects, and the collector would walk them again and again for nothing."""
    return _PAUSES.pause()


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class KeptOnDisk:
    """What a snapshotted feed keeps and where: the feed's name (in logs, metrics and the file's
    header), the state it holds and the file."""

    feed: str
    held: FeedState
    snapshots: SnapshotFile
    clock: Callable[[], datetime] = utcnow


class SnapshottedFollower(Follower):
    """A Follower whose state is loaded from a current snapshot at start, then read on from its
    offsets; written once ready, every REFRESH_S while it changes, and on a clean stop."""

    def __init__(
        self,
        config: Config,
        topics: list[str],
        apply: Callable[[ConsumerRecord[bytes, bytes]], None],
        guard: Stage,
        kept: KeptOnDisk,
    ) -> None:
        super().__init__(config, topics, apply, kept.feed, guard)
        self.held, self.snapshots, self.clock = kept.held, kept.snapshots, kept.clock
        self.loaded_from_snapshot = False
        self._covered: dict[TopicPartition, int] = {}  # the next offset not yet applied
        self._last: dict[TopicPartition, str] = {}  # digest of the last record applied (from a snapshot)
        self._last_record: dict[TopicPartition, ConsumerRecord[bytes, bytes]] = {}  # ... or read since
        self._prepared = self._changed = False
        self._saved_at, self.saves = time.monotonic(), 0

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            if self._prepared and self.ready.is_set() and self._changed:
                self._save_now()  # a clean stop: the next start reads only what follows

    async def prepare(self, consumer: AIOKafkaConsumer) -> None:
        partitions = await self._assigned(consumer)
        beginning = dict(await consumer.beginning_offsets(partitions))
        end = dict(await consumer.end_offsets(partitions))
        self._covered = dict(beginning)
        try:
            coverages = await self._checked_snapshot(beginning, end)
        except SnapshotRejected as exc:
            await consumer.seek_to_beginning(*partitions)
            FEED_SNAPSHOTS.labels(self.what, "ignored", exc.reason).inc()
            level = logging.INFO if exc.reason == "missing" else logging.WARNING
            log.log(level, "%s snapshot not used (%s): reading the topics from the beginning", self.what, exc)
            self._changed = True
        else:
            for coverage in coverages:
                for partition, offset in coverage.offsets.items():
                    tp = TopicPartition(coverage.topic, partition)
                    consumer.seek(tp, offset)
                    self._covered[tp] = offset
                    if partition in coverage.last:
                        self._last[tp] = coverage.last[partition]
            self.loaded_from_snapshot = True
            FEED_SNAPSHOTS.labels(self.what, "loaded", "").inc()
            behind = sum(end[tp] - offset for tp, offset in self._covered.items())
            log.info("%s loaded from its snapshot: %d record(s) behind the topics", self.what, behind)
        self._prepared = True

    async def _assigned(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """Every partition of the followed topics (a start may see the topics' metadata one at a time)."""
        deadline = time.monotonic() + ASSIGNMENT_WAIT_S
        while {tp.topic for tp in consumer.assignment()} != set(self.topics) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return sorted(consumer.assignment())

    async def _checked_snapshot(self, beginning: dict[TopicPartition, int], end: dict[TopicPartition, int]) -> list[Coverage]:
        data = await asyncio.to_thread(self.snapshots.read_bytes)
        with collections_paused():
            coverages, state = decode(data, self.what, self.snapshots.fingerprint)
        if sorted(c.topic for c in coverages) != sorted(self.topics):
            raise SnapshotRejected(
                "topic", f"covers {sorted(c.topic for c in coverages)}, the feed follows {sorted(self.topics)}"
            )
        for coverage in coverages:
            extent = TopicExtent(
                coverage.topic,
                {tp.partition: o for tp, o in beginning.items() if tp.topic == coverage.topic},
                {tp.partition: o for tp, o in end.items() if tp.topic == coverage.topic},
            )
            problem = coverage_problem(coverage, extent, self.clock(), max_age_s=float("inf"))
            if problem is not None:
                raise problem
        await check_last_records(self.config, coverages, beginning)
        try:
            with collections_paused():
                self.held.restore(state)
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotRejected("corrupt", f"the state does not read back ({type(exc).__name__})") from exc
        return coverages

    def handled(self, record: ConsumerRecord[bytes, bytes]) -> None:
        tp = TopicPartition(record.topic, record.partition)
        self._covered[tp] = record.offset + 1
        self._last_record[tp] = record
        self._changed = True

    async def between_batches(self) -> None:
        """Once ready: write a snapshot if the state is not the one on disk, then every REFRESH_S while
        it changes. Encoded in a thread while the feed waits: nothing changes the state meanwhile."""
        if not self.ready.is_set() or not self._changed:
            return
        if self.saves == 0 or time.monotonic() - self._saved_at > REFRESH_S:
            await asyncio.to_thread(self._save_now)

    def snapshot_bytes(self) -> bytes:
        """The state now, with the offsets and last records it covers."""
        last = dict(self._last) | {tp: record_digest(r.offset, r.key, r.value) for tp, r in self._last_record.items()}
        coverages = [
            Coverage(
                topic,
                {tp.partition: o for tp, o in self._covered.items() if tp.topic == topic},
                {tp.partition: d for tp, d in last.items() if tp.topic == topic},
            )
            for topic in self.topics
        ]
        return encode(self.what, coverages, self.held.state(), self.snapshots.fingerprint, self.clock())

    def _save_now(self) -> None:
        self._saved_at, self.saves, changed = time.monotonic(), self.saves + 1, self._changed
        self._changed = False
        try:
            data = self.snapshot_bytes()
            self.snapshots.write(data)
        except Exception as exc:  # a snapshot only shortens the next start: never a reason to stop the feed
            self._changed = changed
            FEED_SNAPSHOTS.labels(self.what, "write_failed", type(exc).__name__[:40]).inc()
            log.error("%s snapshot not written (%s): the next start reads more of the topics", self.what, type(exc).__name__)
            return
        FEED_SNAPSHOTS.labels(self.what, "written", "").inc()
        log.info("%s snapshot written: %.1f MiB", self.what, len(data) / 2**20)


def directory_snapshots(config: Config) -> SnapshotFile:
    """The incident directory's snapshot file, in the worker's data directory, named after the topics."""
    topics = config.settings.kafka.topics
    name = f"incident-directory.{safe_name(topics.incidents)}.{safe_name(topics.deliveries)}.snapshot"
    # The code that shapes the directory's state, and this module's format: a change reads the topics again.
    return SnapshotFile(config.path(config.settings.data_dir) / name, lambda: code_fingerprint([model, directory_module]))


def code_fingerprint(modules: list[ModuleType], libraries: tuple[str, ...] = ("pydantic", "pydantic-core")) -> str:
    """Of the modules' source, this module's, the libraries' versions and the Python version: a
    snapshot written by anything else is not loaded."""
    held = [*modules, sys.modules[__name__]]
    sources = [(module.__name__, Path(str(module.__file__)).read_bytes()) for module in held]
    versions = "\n".join(f"{name} {_version(name)}" for name in libraries)
    return fingerprint(sources, f"feed format {FORMAT}\n{sys.version}\n{versions}")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def directory_feed(
    config: Config, directory: IncidentDirectory, guard: Stage, snapshots: SnapshotFile | None = None
) -> SnapshottedFollower:
    """The incident directory's follower: the incidents and deliveries topics, from its snapshot on."""
    topics = config.settings.kafka.topics

    def apply(record: ConsumerRecord[bytes, bytes]) -> None:
        if record.value is None:
            return
        if record.topic == topics.incidents:
            directory.apply_incident(IncidentRecord.model_validate_json(record.value))
        else:
            directory.apply_delivery(DeliveryRecord.model_validate_json(record.value))

    kept = KeptOnDisk("incident directory", directory, snapshots if snapshots is not None else directory_snapshots(config))
    return SnapshottedFollower(config, [topics.incidents, topics.deliveries], apply, guard, kept)
