"""One child's records applied one at a time by the incident owner, whatever record key they came with
(streams/pipeline/child_locks.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from streams.pipeline.app import Worker
from streams.pipeline.child_locks import ChildLocks
from streams.pipeline.owner import ChildState
from streams.pipeline.stage import Record
from tests.agents.conftest import NOW, RecordingOutputs
from tests.support import make_event

CHILD = "HAR-2026-0192"


class HeldOutputs(RecordingOutputs):
    """The first incident record waits at a gate until the test opens it."""

    def __init__(self, incidents_topic: str) -> None:
        super().__init__()
        self.incidents_topic = incidents_topic
        self.reached, self.gate = asyncio.Event(), asyncio.Event()

    async def emit(self, topic: str, key: str | None, value: bytes) -> None:
        if topic == self.incidents_topic and not self.reached.is_set():
            self.reached.set()
            await self.gate.wait()
        await super().emit(topic, key, value)


def report(key: bytes | None, offset: int, worker: Worker) -> Record:
    value = json.dumps(make_event(now=NOW, child_reference=CHILD)).encode()
    return Record(worker.config.settings.kafka.topics.placement_events, 0, offset, key, value)


async def until(condition: Callable[[], bool], task: asyncio.Task[Any]) -> None:
    """Let the loop run until `condition()` holds or `task` has finished (no timed wait)."""
    while not condition() and not task.done():
        await asyncio.sleep(0)


async def test_a_report_keyed_otherwise_waits_for_the_childs_report_in_progress(worker: Worker) -> None:
    assert worker.owner is not None
    topics = worker.config.settings.kafka.topics
    held = HeldOutputs(topics.incidents)
    worker.owner.publish.outputs = held
    worker.owner.state = ChildState({}, {}, {})  # plain mappings: faust tables are written only inside an agent's stream
    first = asyncio.create_task(worker.owner.report(report(CHILD.encode(), 1, worker)))
    await until(held.reached.is_set, first)
    second = asyncio.create_task(worker.owner.report(report(b"not-the-child", 2, worker)))
    # The second either waits for the child's lock (fixed) or runs through to its own writes (the race).
    await until(lambda: worker.owner is not None and worker.owner.locks.waiting(CHILD) > 0, second)
    held.gate.set()
    await asyncio.gather(first, second)
    changes = [record["change"] for _, record in held.sent[topics.incidents]]
    assert changes.count("opened") == 1, changes
    assert len(worker.owner.locks) == 0, "a child's lock is kept only while in use"


async def test_another_childs_lock_is_free_while_one_is_held() -> None:
    locks = ChildLocks()
    async with locks.holding("child-a"):
        other = asyncio.create_task(_enter(locks, "child-b"))
        await until(other.done, other)  # finishes only if child-b's lock is not child-a's
        assert other.result() == 2
    assert len(locks) == 0


async def _enter(locks: ChildLocks, child: str) -> int:
    async with locks.holding(child):
        return len(locks)
