"""Acknowledgements reach faust in each partition's reading order, whatever order records finish in
(streams/pipeline/acks.py): faust, acknowledged out of order, commits past a record still in hand."""

from __future__ import annotations

import asyncio

from streams.pipeline import metrics
from streams.pipeline.acks import InOrderAcks


def recording(stage: str) -> tuple[InOrderAcks[str], list[str]]:
    acked: list[str] = []

    async def ack(event: str) -> None:
        acked.append(event)

    return InOrderAcks(stage, ack), acked


def held(stage: str) -> float:
    return float(metrics.ACKS_HELD.labels(stage)._value.get())


async def test_a_record_finished_early_waits_for_the_records_read_before_it_in_its_partition() -> None:
    acks, acked = recording("t-order")
    first, second, third = acks.read(0, "p0@0"), acks.read(0, "p0@1"), acks.read(0, "p0@2")
    await third()
    await second()
    assert acked == [] and held("t-order") == 2
    await first()
    assert acked == ["p0@0", "p0@1", "p0@2"] and held("t-order") == 0
    assert acks.waiting(0) == 0


async def test_another_partition_is_not_held_by_one_records_work() -> None:
    acks, acked = recording("t-partitions")
    slow = acks.read(0, "p0@0")
    quick = acks.read(1, "p1@0")
    await quick()
    assert acked == ["p1@0"]
    assert acks.waiting(0) == 1
    await slow()
    assert acked == ["p1@0", "p0@0"]


async def test_a_record_that_never_finishes_holds_its_partitions_later_acknowledgements() -> None:
    acks, acked = recording("t-stuck")
    acks.read(0, "p0@0")  # its work never finishes: the partition's commits wait (a stall /ready reports)
    later = [acks.read(0, f"p0@{i}") for i in range(1, 4)]
    for finished in later:
        await finished()
    assert acked == [] and acks.waiting(0) == 4 and held("t-stuck") == 3


async def test_finishing_twice_acknowledges_once() -> None:
    acks, acked = recording("t-twice")
    finished = acks.read(0, "p0@0")
    await finished()
    await finished()
    assert acked == ["p0@0"]


async def test_records_finished_while_an_acknowledgement_is_awaited_keep_their_order() -> None:
    acked: list[str] = []
    first_ack_started, let_it_go = asyncio.Event(), asyncio.Event()

    async def slow_ack(event: str) -> None:
        if event == "p0@0":
            first_ack_started.set()
            await let_it_go.wait()
        acked.append(event)

    acks = InOrderAcks("t-await", slow_ack)
    first, second, third = acks.read(0, "p0@0"), acks.read(0, "p0@1"), acks.read(0, "p0@2")
    releasing = asyncio.ensure_future(first())
    await first_ack_started.wait()
    await third()  # finished while p0@0's acknowledgement is still being handed over
    await second()
    let_it_go.set()
    await releasing
    assert acked == ["p0@0", "p0@1", "p0@2"]
