"""Keyed concurrency: records of one key handled strictly in order, different keys at once.

The pattern of Confluent's Parallel Consumer ("key ordering"). The triage stage reads placement
events and incident commands keyed by the child's reference: one child's records must be applied
one after another (the owner reads the child's state, waits on Kafka, then writes it), but one
child waiting on a round trip must not hold every other child's report behind it.

`submit` takes a slot — at most `limit` records are admitted and not yet finished, running or
waiting behind an earlier record of their key — and returns; when every slot is taken it waits, so
the reader stops and faust stops fetching the partitions behind it (a bounded read-ahead). Each key
with work has one runner task that handles its records in the order they were submitted.

A record's work is expected to keep the stage's contract itself (guard, then acknowledge). If it
raises anyway (the dead-letter write failed: the broker is unreachable), the error is logged and
counted and the same work runs again after a growing pause, its key's later records waiting behind
it: a report accepted is handled once the broker is back, not left for a restart to find (faust
commits only a contiguous acknowledged prefix, so one record skipped would freeze the partition's
commits). The work is safe to repeat: a restart re-reads it the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable

from streams.pipeline import metrics
from streams.pipeline.stage import Backoff, doubling, until_done

Work = Callable[[], Awaitable[None]]


class KeyedScheduler:
    """Runs submitted work per key in order, keys concurrently, at most `limit` records admitted."""

    def __init__(self, name: str, limit: int, backoff: Backoff = doubling) -> None:
        if limit < 1:
            raise ValueError(f"{name}: limit must be at least 1, not {limit}")
        self.name, self.limit, self.backoff = name, limit, backoff
        self._slots = asyncio.Semaphore(limit)
        self._waiting: dict[Hashable, deque[Work]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._admitted = 0
        self._in_hand = metrics.STAGE_IN_HAND.labels(name)
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def admitted(self) -> int:
        """Records submitted and not yet finished (running, or waiting behind their key)."""
        return self._admitted

    def saturated(self) -> bool:
        """Every slot is taken: the reader is (or would be) waiting."""
        return self._admitted >= self.limit

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[KeyedScheduler]:
        """The runners live inside this block: leaving it normally waits for them; cancelling it (the
        agent stops) cancels them, and what they had not finished stays unacknowledged."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                yield self
            finally:
                self._group = None

    async def submit(self, key: Hashable, work: Work) -> None:
        """Admit `work` after every earlier submission of `key`; waits while every slot is taken."""
        if self._group is None:
            raise RuntimeError(f"{self.name}: submit outside running()")
        await self._slots.acquire()
        self._admitted += 1
        self._in_hand.inc()
        self._idle.clear()
        queue = self._waiting.get(key)
        if queue is not None:  # the key's runner is busy: it takes this one next
            queue.append(work)
            return
        self._waiting[key] = deque([work])
        self._group.create_task(self._run(key))

    async def _run(self, key: Hashable) -> None:
        queue = self._waiting[key]
        try:
            while queue:
                try:
                    await until_done(self.name, queue[0], self.backoff)
                finally:
                    queue.popleft()
                    self._finished(1)
        finally:  # cancelled: what was still waiting is dropped, unacknowledged
            dropped = len(queue)
            queue.clear()
            del self._waiting[key]
            self._finished(dropped)

    def _finished(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()
        self._admitted -= count
        self._in_hand.dec(count)
        if self._admitted == 0:
            self._idle.set()

    async def drained(self) -> None:
        """Until every record submitted so far has finished."""
        await self._idle.wait()
