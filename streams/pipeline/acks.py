"""Acknowledgements handed to faust in reading order, per partition.

faust commits a partition up to the first gap in what has been acknowledged, but it takes a gap of
one record at the head, and any gap in a partition it has not yet committed, for no gap at all
(faust-streaming issue 606, open in 0.15.3): acknowledged out of order, it commits past a record
still being handled, and a worker that dies or hands the partition on loses that record, since the
next owner starts after it. Our stages finish records out of order by design (different children at
once; first alerts before email), so a finished record's acknowledgement waits here until every
record read before it from its partition has finished too. Then faust's arithmetic is right.

A record that never finishes holds its partition's later acknowledgements, and so its commits: the
stall that /ready reports (streams/web/health.py), never a record skipped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from streams.pipeline import metrics

Event = TypeVar("Event")


class _Read(Generic[Event]):
    __slots__ = ("event", "finished")

    def __init__(self, event: Event) -> None:
        self.event, self.finished = event, False


class InOrderAcks(Generic[Event]):
    """Passes each record's acknowledgement to `ack` only once every earlier record of its partition
    (as `read` was called) has finished. `stage` labels the gauge of finished records held back."""

    def __init__(self, stage: str, ack: Callable[[Event], Awaitable[Any]]) -> None:
        self._ack = ack
        self._read: dict[Hashable, deque[_Read[Event]]] = {}
        self._releasing: set[Hashable] = set()
        self._held = metrics.ACKS_HELD.labels(stage)

    def read(self, partition: Hashable, event: Event) -> Callable[[], Awaitable[None]]:
        """Note `event` as read from `partition`, after every record read before it; returns what to
        await once it is finished (handled or quarantined)."""
        entry = _Read(event)
        self._read.setdefault(partition, deque()).append(entry)

        async def finished() -> None:
            if entry.finished:
                return
            entry.finished = True
            self._held.inc()
            await self._release(partition)

        return finished

    def waiting(self, partition: Hashable) -> int:
        """Records of `partition` read and not yet acknowledged (finished or not)."""
        return len(self._read.get(partition, ()))

    async def _release(self, partition: Hashable) -> None:
        if partition in self._releasing:  # the coroutine releasing it takes this one in its turn
            return
        self._releasing.add(partition)
        queue = self._read[partition]
        try:
            while queue and queue[0].finished:
                entry = queue.popleft()
                self._held.dec()
                await self._ack(entry.event)
        finally:
            self._releasing.discard(partition)
            if not queue:
                del self._read[partition]
