"""After a rebalance the agents' partitions are resumed only once the seek to the committed offsets is
done and the queues are cleared (faust 0.15.3 resumed them first: records fetched meanwhile were
cleared away and never fetched again; see streams/pipeline/recovery.py)."""

from __future__ import annotations

import asyncio

from aiokafka import ConsumerRecord
from faust.transport.drivers.aiokafka import Transport
from faust.types import TP

from alerts.config import load_config
from streams.pipeline.app import create_app
from streams.pipeline.recovery import SeekThenResumeRecovery, SeekThenResumeTableManager, SnapshotConsumer
from tests.support import REPO


async def test_stream_partitions_resume_after_the_seek_and_the_clearing() -> None:
    worker = create_app(load_config(REPO / "config"), in_memory=True)
    app = worker.app
    assert isinstance(app.tables, SeekThenResumeTableManager)
    recovery = app.tables.recovery
    assert isinstance(recovery, SeekThenResumeRecovery)
    events = worker.config.settings.kafka.topics.placement_events
    changelog = sorted(app.tables.changelog_topics)[0]
    calls: list[str] = []

    class Consumer:
        def assignment(self) -> set[TP]:
            return {TP(events, 0), TP(changelog, 0)}

        async def perform_seek(self) -> None:
            calls.append("seek")
            await asyncio.sleep(0.01)  # the fetcher runs meanwhile
            calls.append("sought")

        def resume_partitions(self, tps: set[TP]) -> None:
            calls.append(f"resume {sorted(tp.topic for tp in tps)}")

        def resume_flow(self) -> None:
            calls.append("resume flow")

    class Fetcher:
        async def maybe_start(self) -> None:
            calls.append("fetcher")

    app.consumer = Consumer()  # type: ignore[assignment]
    app.__dict__["_fetcher"] = Fetcher()  # a cached property
    app.flow_control.resume = lambda: calls.append("clear queues")  # type: ignore[method-assign]

    await recovery.on_recovery_completed(generation_id=app.consumer_generation_id)

    assert calls == ["seek", "sought", "clear queues", f"resume [{events!r}]", "resume flow", "fetcher"]
    assert recovery.completed.is_set()


async def test_the_consumer_thread_fetches_for_a_copy_of_the_active_partitions() -> None:
    """aiokafka reads an empty set as every partition: the thread must never see the live set emptied."""
    asked: list[set[TP] | None] = []

    class Thread:
        async def getmany(self, active_partitions: set[TP] | None, timeout: float) -> dict[TP, list[object]]:
            asked.append(active_partitions)
            return {}

    live = {TP("placement-events", 0)}
    consumer = consumer_with({}, live)
    consumer._thread = Thread()  # type: ignore[assignment]
    await consumer._getmany(live, timeout=1.0)
    assert asked == [live] and asked[0] is not live
    live.clear()  # recovery paused the changelogs: nothing is active
    assert await consumer._getmany(live, timeout=0.01) == {}
    assert len(asked) == 1, "no fetch for an empty set"


async def test_the_worker_consumer_waits_at_most_the_configured_fetch_wait() -> None:
    """faust fixes 1,500 ms; settings.kafka.fetch_max_wait_ms replaces it (reports waited behind it)."""
    from alerts.config import load_config
    from streams.pipeline.app import create_app
    from tests.support import REPO

    config = load_config(REPO / "config")
    worker = create_app(config, in_memory=True)
    assert isinstance(worker.app.consumer, SnapshotConsumer)
    thread = worker.app.consumer._new_consumer_thread()
    assert isinstance(worker.app.transport, Transport)
    aiokafka_consumer = thread._create_worker_consumer(worker.app.transport)
    assert aiokafka_consumer._fetch_max_wait_ms == config.settings.kafka.fetch_max_wait_ms == 50


class RecordingThread:
    """The consumer thread's fetch and fetch-again, recorded."""

    def __init__(self, records: dict[TP, list[object]]) -> None:
        self.records, self.again = records, []  # type: ignore[var-annotated]

    async def getmany(self, active_partitions: set[TP] | None, timeout: float) -> dict[TP, list[object]]:
        return self.records

    async def fetch_again(self, batches: dict[TP, tuple[int, int]]) -> None:
        self.again.append(batches)


def fetched(*offsets: int) -> list[object]:
    return [ConsumerRecord("t", 0, o, 0, 0, None, b"", None, 0, 0, []) for o in offsets]


def consumer_with(records: dict[TP, list[object]], active: set[TP], *, flowing: bool = True) -> SnapshotConsumer:
    consumer = object.__new__(SnapshotConsumer)  # no transport: only the fetch path runs
    consumer._thread = RecordingThread(records)  # type: ignore[assignment]
    consumer._active_partitions = active
    consumer._buffered_partitions = set()
    consumer.flow_active = flowing
    return consumer


EVENTS, CHANGELOG = TP("placement-events", 0), TP("app-open-incidents-changelog", 1)


async def test_a_batch_for_active_partitions_while_the_flow_runs_is_delivered_as_fetched() -> None:
    records = {EVENTS: fetched(3, 4), CHANGELOG: fetched(0, 1, 2)}
    consumer = consumer_with(records, {EVENTS, CHANGELOG})
    assert await consumer._getmany({EVENTS, CHANGELOG}, timeout=1.0) is records
    assert consumer._thread.again == []  # type: ignore[attr-defined]


async def test_a_batch_faust_would_drop_is_fetched_again_from_its_first_offset() -> None:
    """Recovery sought a changelog and had not resumed it when its records came back: faust would drop
    them, its position past them, and the restore would wait for them for ever."""
    records = {EVENTS: fetched(3, 4), CHANGELOG: fetched(0, 1, 2)}
    consumer = consumer_with(records, {EVENTS})  # the changelog is paused
    assert await consumer._getmany({EVENTS, CHANGELOG}, timeout=1.0) == {EVENTS: records[EVENTS]}
    assert consumer._thread.again == [{CHANGELOG: (0, 2)}]  # type: ignore[attr-defined]


async def test_a_batch_that_arrives_while_the_flow_is_stopped_is_fetched_again_whole() -> None:
    records = {EVENTS: fetched(3, 4), CHANGELOG: fetched(7)}
    consumer = consumer_with(records, {EVENTS, CHANGELOG}, flowing=False)  # a rebalance has begun
    assert await consumer._getmany({EVENTS, CHANGELOG}, timeout=1.0) == {}
    assert consumer._thread.again == [{EVENTS: (3, 4), CHANGELOG: (7, 7)}]  # type: ignore[attr-defined]
