"""Keep the in-memory profile index current from the compacted profiles topic.

Every worker reads every partition (no consumer group): the index is global, not sharded. The
feed is `ready` once it has caught up with the end offsets seen at start, so no event is matched
against a half-loaded index.

At start the feed loads the index snapshot from the data directory when it is provably current
(streams/pipeline/profile_snapshot.py, alerts/matching/snapshot.py) and reads only the records after it;
otherwise it builds the index from the beginning of the topic. It writes a snapshot once ready
(when anything was read), hourly when the index changed or the file is six hours old, and on a
clean stop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from alerts.config import Config
from alerts.indicators import indicators_of
from alerts.intake import parse_profile
from alerts.matching import ProfileIndex
from alerts.matching.snapshot import (
    Coverage,
    Loaded,
    SnapshotRejected,
    TopicExtent,
    coverage_problem,
    encode,
    record_digest,
    restore,
    stored_indicators,
)
from streams.pipeline.feed_snapshot import check_last_records, collections_paused
from streams.pipeline.follow import Follower
from streams.pipeline.metrics import PROFILE_INDICATORS_UNMAPPED, PROFILE_SNAPSHOTS, PROFILES
from streams.pipeline.profile_snapshot import MAX_AGE_S, SnapshotFile
from streams.pipeline.stage import Record, Stage

log = logging.getLogger("crucial.profiles")
REFRESH_S = 3600.0  # a new snapshot at most this often once ready (a crash then replays less)


def apply_profile_record(index: ProfileIndex, key: bytes | None, value: bytes | None) -> str:
    """Apply one record (a tombstone deletes); returns the outcome label. A profile that is not valid
    raises RejectedInput, for the feed's guard to quarantine (its reasons name field paths only)."""
    if value is None:
        if key is not None:
            index.remove(key.decode("utf-8", "replace"))
        return "removed"
    index.upsert(parse_profile(value))
    return "upserted"


def utcnow() -> datetime:
    return datetime.now(UTC)


class ProfileFeed(Follower):
    def __init__(
        self,
        config: Config,
        index: ProfileIndex,
        guard: Stage,
        snapshots: SnapshotFile | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.index = index
        self.indicators = indicators_of(config.indicators)
        self.topic = config.settings.kafka.topics.profiles
        self.snapshots = snapshots if snapshots is not None else SnapshotFile.of(config)
        self.clock = clock
        self.loaded_from_snapshot = False
        self._covered: dict[int, int] = {}  # partition -> the next offset not yet in the index
        self._last: dict[int, str] = {}  # partition -> digest of the last record in the index (from a snapshot)
        self._last_record: dict[int, ConsumerRecord[bytes, bytes]] = {}  # ... or read since
        self._prepared = self._changed = False
        self._saved_at, self._saves = time.monotonic(), 0
        self._counting: asyncio.Task[None] | None = None
        # Background work after a snapshot load waits for this (the worker's whole start, set by the app):
        # begun at once, it would take the CPU the consumer group's join needs.
        self.chores_after: asyncio.Event | None = None
        # Once loaded, the index (up to a million profiles) is moved out of the garbage collector's
        # sight: full collections would otherwise walk it again and again for nothing.
        super().__init__(config, [self.topic], self._apply, "profile index", guard)
        self.on_ready = self._on_ready

    def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        outcome = apply_profile_record(self.index, record.key, record.value)
        PROFILES.labels(outcome).inc()
        if outcome == "upserted" and record.key is not None:
            self._report_unmapped(record.key.decode("utf-8", "replace"))

    def _report_unmapped(self, profile_id: str) -> int:
        """Indicators the vocabulary does not know count for neither grading nor routing: say so (no text)."""
        profile = self.index.get(profile_id)
        unmapped = len(self.indicators.of_profile(profile).unmapped) if profile is not None else 0
        if unmapped:
            PROFILE_INDICATORS_UNMAPPED.inc(unmapped)
            log.warning(
                "a profile has %d indicator(s) not in indicators.yaml: `crucial indicators --profiles` lists them", unmapped
            )
        return unmapped

    # --- the snapshot -----------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            # A clean stop: the next start reads only what follows. Only once caught up: a snapshot
            # far behind the topic's end could miss a deletion whose tombstone is already old.
            if self._prepared and self.ready.is_set():
                self._save_now()

    async def prepare(self, consumer: AIOKafkaConsumer) -> None:
        partitions = [tp for tp in consumer.assignment() if tp.topic == self.topic]
        beginning = {tp.partition: offset for tp, offset in (await consumer.beginning_offsets(partitions)).items()}
        end = {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
        self._covered = dict(beginning)
        try:
            loaded = await self._checked_snapshot(beginning, end)
        except SnapshotRejected as exc:
            await consumer.seek_to_beginning(*partitions)
            PROFILE_SNAPSHOTS.labels("ignored", exc.reason).inc()
            level = logging.INFO if exc.reason == "missing" else logging.WARNING
            log.log(level, "profile index snapshot not used (%s): building the index from the topic", exc)
            self._changed = True
        else:
            restore(self.index, loaded)
            for partition, offset in loaded.coverage.offsets.items():
                consumer.seek(TopicPartition(self.topic, partition), offset)
            self._covered, self._last = dict(loaded.coverage.offsets), dict(loaded.coverage.last)
            self.loaded_from_snapshot = True
            PROFILE_SNAPSHOTS.labels("loaded", "").inc()
            behind = sum(end[p] - o for p, o in loaded.coverage.offsets.items())
            log.info(
                "profile index loaded from its snapshot: %d profiles, %d record(s) behind the topic", loaded.profiles, behind
            )
        self._prepared = True

    async def _checked_snapshot(self, beginning: dict[int, int], end: dict[int, int]) -> Loaded:
        with collections_paused():
            loaded = await asyncio.to_thread(self.snapshots.read)
        problem = coverage_problem(loaded.coverage, TopicExtent(self.topic, beginning, end), self.clock(), MAX_AGE_S)
        if problem is not None:
            raise problem
        await check_last_records(self.config, [loaded.coverage], {TopicPartition(self.topic, p): o for p, o in beginning.items()})
        return loaded

    def handled(self, record: ConsumerRecord[bytes, bytes]) -> None:
        self._covered[record.partition] = record.offset + 1
        self._last_record[record.partition] = record
        self._changed = True

    def _on_ready(self) -> None:
        gc.freeze()
        if self.loaded_from_snapshot:
            self._counting = asyncio.get_running_loop().create_task(self._count_unmapped())

    async def between_batches(self) -> None:
        """Write a snapshot once ready if the index is not the one on disk, then hourly if it changed
        or the one on disk is getting old. Encoded in a thread while the feed waits: nothing changes the
        index meanwhile, and the event loop goes on matching reports."""
        if not self.ready.is_set():
            return
        since = time.monotonic() - self._saved_at
        first = self._saves == 0 and self._changed
        if first or (since > REFRESH_S and (self._changed or since > MAX_AGE_S / 2)):
            await asyncio.to_thread(self._save_now)

    def snapshot_bytes(self) -> bytes:
        """The index now, with the offsets and last records it covers."""
        last = dict(self._last)
        last |= {p: record_digest(r.offset, r.key, r.value) for p, r in self._last_record.items()}
        coverage = Coverage(self.topic, dict(self._covered), last, self.clock())
        return encode(self.index, coverage, self.snapshots.fingerprint)

    def _save_now(self) -> None:
        self._saved_at, self._saves, changed = time.monotonic(), self._saves + 1, self._changed
        self._changed = False
        try:
            data = self.snapshot_bytes()
            self.snapshots.write(data)
        except (OSError, SnapshotRejected) as exc:
            self._changed = changed
            reason = exc.reason if isinstance(exc, SnapshotRejected) else type(exc).__name__
            PROFILE_SNAPSHOTS.labels("write_failed", reason[:40]).inc()
            log.error("profile index snapshot not written (%s): the next start rebuilds from the topic", reason)
            return
        PROFILE_SNAPSHOTS.labels("written", "").inc()
        log.info("profile index snapshot written: %d profiles, %.1f MiB", len(self.index), len(data) / 2**20)

    async def _count_unmapped(self) -> None:
        """After a snapshot load, the unmapped-indicator count a build would have made, in the
        background once the worker has started, a little at a time (readiness does not wait for it)."""
        if self.chores_after is not None:
            await self.chores_after.wait()
        profiles = unmapped = 0
        for profiles, texts in enumerate(stored_indicators(self.index), start=1):
            unmapped += len(self.indicators.map_texts(texts).unmapped)
            if profiles % 500 == 0:
                await asyncio.sleep(0)
        if unmapped:
            PROFILE_INDICATORS_UNMAPPED.inc(unmapped)
            log.warning(
                "%d indicator(s) on the %d profiles loaded are not in indicators.yaml: `crucial indicators --profiles` lists them",
                unmapped,
                profiles,
            )


async def count_rejected(record: Record, exc: Exception) -> None:
    """The profile feed's failure step: the record is quarantined by the guard; count it as rejected."""
    PROFILES.labels("rejected").inc()
