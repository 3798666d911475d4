"""After a rebalance the agents' partitions are resumed only once the seek to the committed offsets is
done and the queues are cleared (faust 0.15.3 resumed them first: records fetched meanwhile were
cleared away and never fetched again; see streams/pipeline/recovery.py)."""

from __future__ import annotations

import asyncio

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

    consumer = object.__new__(SnapshotConsumer)  # no transport or thread: only the fetch path runs
    consumer._thread = Thread()  # type: ignore[assignment]
    live = {TP("placement-events", 0)}
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
