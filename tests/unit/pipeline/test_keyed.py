"""The keyed scheduler (streams/pipeline/keyed.py): one key's work in order, keys at once, at most
`limit` records admitted, a failure stopping nothing. Gates are asyncio events: nothing is timed."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import CollectorRegistry

from streams.pipeline import metrics
from streams.pipeline.keyed import KeyedScheduler
from streams.pipeline.stage import RETRY_FIRST_S, RETRY_MOST_S, doubling


class Script:
    """Work items that log when they start and finish and can be held on a gate."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.gates: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.started: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.running = 0
        self.most_running = 0

    def item(self, name: str, *, held: bool = False, fails: int = 0) -> Callable[[], Awaitable[None]]:
        """`fails`: how many attempts raise before one succeeds."""
        gate, started = self.gates[name], self.started[name]
        if not held:
            gate.set()
        attempts = 0

        async def work() -> None:
            nonlocal attempts
            attempts += 1
            self.log.append(f"start {name}")
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            started.set()
            try:
                await gate.wait()
                if attempts <= fails:
                    self.log.append(f"failed {name}")
                    raise OverflowError("the dead-letter write failed")
                self.log.append(f"done {name}")
            finally:
                self.running -= 1

        return work


async def test_one_keys_records_run_in_order_each_after_the_last_finished() -> None:
    script, scheduler = Script(), KeyedScheduler("t", 8)
    async with scheduler.running():
        await scheduler.submit("a", script.item("a1", held=True))
        await scheduler.submit("a", script.item("a2"))
        await scheduler.submit("a", script.item("a3"))
        await script.started["a1"].wait()
        assert scheduler.admitted == 3
        script.gates["a1"].set()
        await scheduler.drained()
    assert script.log == ["start a1", "done a1", "start a2", "done a2", "start a3", "done a3"]


async def test_another_key_is_not_held_behind_a_waiting_one() -> None:
    script, scheduler = Script(), KeyedScheduler("t", 8)
    async with scheduler.running():
        await scheduler.submit("slow", script.item("s1", held=True))
        await scheduler.submit("slow", script.item("s2"))
        await scheduler.submit("fast", script.item("f1"))
        await scheduler.submit("fast", script.item("f2", held=True))
        await script.started["f2"].wait()  # f1 finished while s1 is still held
        assert "done f1" in script.log and "done s1" not in script.log and "start s2" not in script.log
        script.gates["s1"].set()
        script.gates["f2"].set()
        await scheduler.drained()
    assert script.log.index("done s1") < script.log.index("start s2")


async def test_no_more_than_the_limit_are_admitted_and_the_reader_waits_for_a_slot() -> None:
    script, scheduler = Script(), KeyedScheduler("bounded", 3)
    registry = CollectorRegistry()
    registry.register(metrics.STAGE_IN_HAND)
    submitted: list[str] = []

    async def reader() -> None:
        for i in range(10):
            await scheduler.submit(f"k{i}", script.item(f"w{i}", held=True))
            submitted.append(f"w{i}")

    async with scheduler.running():
        reading = asyncio.create_task(reader())
        for i in range(3):
            await script.started[f"w{i}"].wait()
        assert scheduler.saturated()
        assert submitted == ["w0", "w1", "w2"]  # the fourth submit is waiting for a slot
        assert registry.get_sample_value("crucial_stage_in_hand", {"stage": "bounded"}) == 3.0
        script.gates["w1"].set()
        await script.started["w3"].wait()  # a slot freed: the reader goes on
        for i in range(10):
            script.gates[f"w{i}"].set()
        await reading
        await scheduler.drained()
    assert script.most_running == 3
    assert registry.get_sample_value("crucial_stage_in_hand", {"stage": "bounded"}) == 0.0
    assert len([line for line in script.log if line.startswith("done")]) == 10


async def test_records_waiting_behind_their_key_take_slots_too() -> None:
    """A hot key cannot read ahead without bound: its waiting records count against the limit."""
    script, scheduler = Script(), KeyedScheduler("t", 2)
    async with scheduler.running():
        await scheduler.submit("hot", script.item("h1", held=True))
        await scheduler.submit("hot", script.item("h2"))
        assert scheduler.saturated()
        third = asyncio.create_task(scheduler.submit("cold", script.item("c1")))
        await script.started["h1"].wait()
        assert not third.done()
        script.gates["h1"].set()
        await third
        await scheduler.drained()
    assert script.log.index("done h1") < script.log.index("start c1")
    assert "done c1" in script.log and "done h2" in script.log


async def test_a_failing_record_is_tried_again_in_its_place_and_holds_up_only_its_key() -> None:
    """Work that raises outside its guard (the broker unreachable) runs again after a pause, before its
    key's next record: it is handled once the broker is back, not left unacknowledged for a restart."""
    script, pauses = Script(), list[int]()

    def no_pause(failures: int) -> float:
        pauses.append(failures)
        return 0.0

    scheduler = KeyedScheduler("failing-stage", 8, backoff=no_pause)
    registry = CollectorRegistry()
    registry.register(metrics.STAGE_WORK_FAILURES)
    async with scheduler.running():
        await scheduler.submit("a", script.item("a1", held=True, fails=2))
        await scheduler.submit("a", script.item("a2"))
        await scheduler.submit("b", script.item("b1"))
        await script.started["a1"].wait()
        assert "done b1" in script.log  # another child is not held up
        script.gates["a1"].set()
        await scheduler.drained()
    a_only = [line for line in script.log if line.endswith(("a1", "a2"))]
    assert a_only == ["start a1", "failed a1", "start a1", "failed a1", "start a1", "done a1", "start a2", "done a2"]
    assert pauses == [1, 2]
    assert registry.get_sample_value("crucial_stage_work_failures_total", {"stage": "failing-stage"}) == 2.0


def test_the_pause_between_attempts_doubles_up_to_a_ceiling() -> None:
    pauses = [doubling(n) for n in range(1, 12)]
    assert pauses[0] == RETRY_FIRST_S and pauses[1] == 2 * RETRY_FIRST_S
    assert all(b >= a for a, b in itertools.pairwise(pauses)) and max(pauses) == RETRY_MOST_S


async def test_cancelling_the_block_cancels_the_work_and_frees_every_slot() -> None:
    """The agent stopping (shutdown, crash) cancels what is in hand; a restarted agent starts clean."""
    script, scheduler = Script(), KeyedScheduler("t", 2)

    async def agent() -> None:
        async with scheduler.running():
            await scheduler.submit("a", script.item("a1", held=True))
            await scheduler.submit("a", script.item("a2", held=True))
            await asyncio.Event().wait()  # reading, until stopped

    task = asyncio.create_task(agent())
    await script.started["a1"].wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert scheduler.admitted == 0 and not scheduler.saturated()
    assert "start a2" not in script.log
    async with scheduler.running():
        await scheduler.submit("a", script.item("a3"))
        await scheduler.submit("b", script.item("b1"))
        await scheduler.drained()
    assert {"done a3", "done b1"} <= set(script.log)


async def test_submit_outside_the_running_block_is_refused() -> None:
    with pytest.raises(RuntimeError, match="outside running"):
        await KeyedScheduler("t", 1).submit("a", Script().item("a1"))
    with pytest.raises(ValueError, match="at least 1"):
        KeyedScheduler("t", 0)
