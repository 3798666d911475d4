"""One child's records applied one at a time by the incident owner (streams/pipeline/child_locks.py), and
records keyed otherwise than by their child's reference written again under it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from alerts.authority import PROVIDER_HEADER
from alerts.model import Acknowledge, Recipient
from streams.pipeline.app import Worker
from streams.pipeline.child_locks import ChildLocks
from streams.pipeline.owner import ChildState
from streams.pipeline.stage import Headers, Record
from tests.agents.conftest import NOW, RecordingOutputs, put_on
from tests.support import make_event

CHILD = "HAR-2026-0192"
OFFICER = Recipient(agency_id="met-police-mispers", name="MISPER on-call officer", address="+447700900101")


class HeldOutputs(RecordingOutputs):
    """The first incident record waits at a gate until the test opens it."""

    def __init__(self, incidents_topic: str) -> None:
        super().__init__()
        self.incidents_topic = incidents_topic
        self.reached, self.gate = asyncio.Event(), asyncio.Event()

    async def emit(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        if topic == self.incidents_topic and not self.reached.is_set():
            self.reached.set()
            await self.gate.wait()
        await super().emit(topic, key, value, headers)


def report(key: bytes | None, offset: int, worker: Worker) -> Record:
    value = json.dumps(make_event(now=NOW, child_reference=CHILD)).encode()
    return Record(worker.config.settings.kafka.topics.placement_events, 0, offset, key, value)


async def until(condition: Callable[[], bool], task: asyncio.Task[Any]) -> None:
    """Let the loop run until `condition()` holds or `task` has finished (no timed wait)."""
    while not condition() and not task.done():
        await asyncio.sleep(0)


async def test_two_reports_of_one_child_applied_at_once_open_one_incident(worker: Worker) -> None:
    assert worker.owner is not None
    topics = worker.config.settings.kafka.topics
    held = HeldOutputs(topics.incidents)
    worker.owner.publish.outputs = held
    worker.owner.state = ChildState({}, {}, {})  # plain mappings: faust tables are written only inside an agent's stream
    first = asyncio.create_task(worker.owner.report(report(CHILD.encode(), 1, worker)))
    await until(held.reached.is_set, first)
    second = asyncio.create_task(worker.owner.report(report(CHILD.encode(), 2, worker)))
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


async def test_a_report_keyed_otherwise_is_written_again_under_its_childs_reference(
    worker: Worker, outputs: RecordingOutputs
) -> None:
    topics = worker.config.settings.kafka.topics
    event = make_event(now=NOW, child_reference=CHILD)
    raw = json.dumps(event).encode()
    stamp = [(PROVIDER_HEADER, b"care-provider-7")]
    async with worker.triage_agent.test_context() as agent:
        await agent.put(raw, key=b"not-the-child", headers=stamp)
        await agent.put(raw, key=None)
    assert outputs.sent[topics.placement_events] == [(CHILD, event), (CHILD, event)]
    assert outputs.headers[topics.placement_events] == [stamp, []], "the sender's stamp goes with it"
    assert outputs.sent[topics.incidents] == [], "applied only where the child's records are"
    assert outputs.sent[topics.dead_letters] == []


async def test_a_command_keyed_otherwise_is_written_again_under_its_childs_reference(
    worker: Worker, outputs: RecordingOutputs
) -> None:
    topics = worker.config.settings.kafka.topics
    async with worker.triage_agent.test_context() as agent:
        await agent.put(json.dumps(make_event(now=NOW, child_reference=CHILD)).encode(), key=CHILD.encode())
    [(_, opened)] = outputs.sent[topics.incidents]
    ack = Acknowledge(incident_id=opened["incident"]["incident_id"], child_reference=CHILD, at=NOW, by=OFFICER, via="sms")
    async with worker.triage_agent.test_context() as agent:
        await put_on(agent, topics.incident_commands, ack.model_dump_json().encode(), b"elsewhere")
    assert [key for key, _ in outputs.sent[topics.incident_commands]] == [CHILD]
    assert [record["change"] for _, record in outputs.sent[topics.incidents]] == ["opened"], "not applied here"
