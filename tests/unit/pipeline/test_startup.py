"""The start-up record: each milestone as it is reached, and the summary a slow start is read from."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest

from streams.pipeline import startup
from streams.pipeline.startup import StartupRecord


def ticking(start: float, step: float) -> itertools.count[float]:
    return itertools.count(start, step)


async def test_each_feed_and_the_assignment_are_marked_in_the_order_reached(caplog: pytest.LogCaptureFixture) -> None:
    ages, cpus = ticking(1.0, 1.0), ticking(0.5, 0.5)
    record = StartupRecord(age=lambda: next(ages), cpu=lambda: next(cpus))
    record.mark("config checked")
    profiles, directory, assigned = asyncio.Event(), asyncio.Event(), asyncio.Event()
    watching = asyncio.create_task(record.watch({"profiles": profiles, "directory": directory}, assigned))
    for event in (directory, assigned, profiles):
        await asyncio.sleep(0)  # the watch is waiting on every event before the next is set
        event.set()
    with caplog.at_level(logging.INFO, logger=startup.__name__):
        summary = await watching

    assert [m.name for m in record.reached] == ["config checked", "directory loaded", "partitions assigned", "profiles loaded"]
    assert summary == (
        "ready after 4.0 s, CPU 2.0 s; config checked 1.0 s, directory loaded 2.0 s, partitions assigned 3.0 s, profiles loaded 4.0 s"
    )
    assert caplog.messages[-1] == f"start-up: {summary}"


async def test_the_summary_waits_for_every_feed() -> None:
    record = StartupRecord(age=lambda: 1.0, cpu=lambda: 1.0)
    loaded, never = asyncio.Event(), asyncio.Event()
    loaded.set()
    assigned = asyncio.Event()
    assigned.set()
    watching = asyncio.create_task(record.watch({"registers": loaded, "directory": never}, assigned))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not watching.done()
    assert {m.name for m in record.reached} == {"registers loaded", "partitions assigned"}
    never.set()
    assert (await watching).startswith("ready after 1.0 s")


def test_the_process_age_counts_from_before_this_module_was_imported() -> None:
    # The process began before any of its modules was imported (one clock tick of slack: /proc counts in ticks).
    assert startup.process_age_s() >= time.monotonic() - startup._IMPORTED_AT - 0.02
